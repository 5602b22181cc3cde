"""Truth Social (docs/providers.md §7): one module per topic — client (classification, auth, windows), posts (accounts, statuses, trends).

``PROVIDER`` is this provider's catalogue entry; ``PROBE`` is the call ``marketpipe check`` makes.
"""

from __future__ import annotations

from marketpipe.providers.base import Probe
from marketpipe.providers.truth_social import posts
from marketpipe.providers.truth_social.client import NAME, PROVIDER, classify

PROBE = Probe(
    "account lookup",
    lambda _: posts.lookup_request("realDonaldTrump"),
    lambda reply: posts.parse_account(reply.json()),
)

__all__ = ["NAME", "PROBE", "PROVIDER", "classify"]
