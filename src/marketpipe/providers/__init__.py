"""One module (or package) per external API: base URLs, auth placement, published quota windows,
reply classification and pure parse functions. The catalogue (:mod:`marketpipe.providers.catalogue`)
collects their ``PROVIDER`` declarations; :func:`get_provider` maps a name to its :class:`Provider`.
"""

from __future__ import annotations

from marketpipe.http.errors import ConfigurationError
from marketpipe.providers.base import Provider


def get_provider(name: str) -> Provider:
    """The :class:`Provider` called ``name`` (typed error for an unknown one)."""
    from marketpipe.providers.catalogue import by_name

    providers = by_name()
    try:
        return providers[name]
    except KeyError:
        raise ConfigurationError(f"unknown provider {name!r}; known: {', '.join(providers)}") from None


__all__ = ["Provider", "get_provider"]
