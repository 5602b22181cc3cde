"""Bithumb public API (docs/providers.md §8): one module per topic — client (classification, windows), markets (the market list), tickers (live tickers).

``PROVIDER`` is this provider's catalogue entry; ``PROBE`` is the call ``marketpipe check`` makes.
"""

from __future__ import annotations

from marketpipe.providers.base import Probe
from marketpipe.providers.bithumb import markets, tickers
from marketpipe.providers.bithumb.client import NAME, PROVIDER, classify

PROBE = Probe(
    "market/all",
    lambda _: markets.markets_request(),
    lambda reply: markets.parse_markets(reply.json()),
)

__all__ = ["NAME", "PROBE", "PROVIDER", "classify", "markets", "tickers"]
