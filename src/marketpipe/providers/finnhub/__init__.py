"""Finnhub REST (docs/providers.md §2): one module per topic — client (classification, auth, windows), news.

``PROVIDER`` is this provider's catalogue entry; ``PROBE`` is the call ``marketpipe check`` makes.
"""

from __future__ import annotations

from marketpipe.providers.base import Probe
from marketpipe.providers.finnhub import news
from marketpipe.providers.finnhub.client import NAME, PROVIDER, classify

PROBE = Probe(
    "general news",
    lambda _: news.market_news_request("general", None),
    lambda reply: news.parse_market_news(reply.json(), "general"),
)

__all__ = ["NAME", "PROBE", "PROVIDER", "classify"]
