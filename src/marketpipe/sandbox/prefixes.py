"""Where each simulated provider lives under the sandbox root URL.

This table is the sandbox's own copy: the sandbox imports nothing from marketpipe outside
``marketpipe.sandbox`` (it must encode the real APIs independently of our parsers). A test checks that
it equals ``marketpipe.config.SANDBOX_PREFIXES``, so both sides agree on the URL layout.
"""

from __future__ import annotations

SANDBOX_PREFIXES: dict[str, str] = {
    "alpha_vantage": "/alphavantage",
    "finnhub": "/finnhub/api/v1",
    "finnhub_ws": "/finnhub/ws",
    "fred": "/fred/fred",
    "newsapi": "/newsapi/v2",
    "fmp": "/fmp/stable",
    "x": "/x/2",
    "truth_social": "/truthsocial/api",
    "bithumb": "/bithumb",
    "coingecko": "/coingecko/api/v3",
    "sp500_list": "/wikipedia/wiki/List_of_S%26P_500_companies",
}

#: Root of the admin API (never a provider prefix).
ADMIN_PREFIX = "/_admin"
