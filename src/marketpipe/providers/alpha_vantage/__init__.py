"""Alpha Vantage (docs/providers.md §1): one module per topic — client (classification, auth, windows, ``request``), fundamentals, calendars, markets, economics, news.

``PROVIDER`` is this provider's catalogue entry; ``PROBE`` is the call ``marketpipe check`` makes.
"""

from __future__ import annotations

from marketpipe.providers.alpha_vantage import fundamentals
from marketpipe.providers.alpha_vantage.client import (
    NAME,
    PROVIDER,
    classify,
    classify_message,
    is_csv_quota_refusal,
    request,
)
from marketpipe.providers.base import Probe

PROBE = Probe(
    "OVERVIEW IBM",
    lambda _: request("OVERVIEW", symbol="IBM"),
    lambda reply: fundamentals.parse_overview(reply.json()),
)

__all__ = ["NAME", "PROBE", "PROVIDER", "classify", "classify_message", "is_csv_quota_refusal", "request"]
