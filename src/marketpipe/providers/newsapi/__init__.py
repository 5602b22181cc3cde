"""NewsAPI (docs/providers.md §4): one module per topic — client (classification, auth, windows), news.

``PROVIDER`` is this provider's catalogue entry; ``PROBE`` is the call ``marketpipe check`` makes.
"""

from __future__ import annotations

from marketpipe.providers.base import Probe
from marketpipe.providers.newsapi import news
from marketpipe.providers.newsapi.client import NAME, PROVIDER, classify

PROBE = Probe(
    "business headlines",
    lambda _: news.headlines_request(category="business"),
    lambda reply: news.parse_articles(reply.json()),
)

__all__ = ["NAME", "PROBE", "PROVIDER", "classify"]
