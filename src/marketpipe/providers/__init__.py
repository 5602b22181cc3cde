"""One module per external API: base URL key, auth placement, published quota windows, reply
classification and pure parse functions. :func:`get_provider` maps a name to its :class:`Provider`.
"""

from __future__ import annotations

from importlib import import_module

from marketpipe.http.errors import ConfigurationError
from marketpipe.providers.base import Provider

PROVIDER_MODULES: dict[str, str] = {
    "alpha_vantage": "marketpipe.providers.alpha_vantage",
    "finnhub": "marketpipe.providers.finnhub",
    "fred": "marketpipe.providers.fred",
    "newsapi": "marketpipe.providers.newsapi",
    "fmp": "marketpipe.providers.fmp",
    "x": "marketpipe.providers.x",
    "truth_social": "marketpipe.providers.truth_social",
    "bithumb": "marketpipe.providers.bithumb",
    "coingecko": "marketpipe.providers.coingecko",
    "sp500_list": "marketpipe.providers.sp500_list",
}


def get_provider(name: str) -> Provider:
    """The :class:`Provider` called ``name`` (typed error for an unknown one)."""
    try:
        module = import_module(PROVIDER_MODULES[name])
    except KeyError:
        raise ConfigurationError(f"unknown provider {name!r}; known: {', '.join(PROVIDER_MODULES)}") from None
    provider: Provider = module.PROVIDER
    return provider


__all__ = ["PROVIDER_MODULES", "Provider", "get_provider"]
