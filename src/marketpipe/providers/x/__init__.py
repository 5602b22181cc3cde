"""X API v2 (docs/providers.md §6): one module per topic — client (classification, auth, per-endpoint windows), timeline (users and posts).

``PROVIDER`` is this provider's catalogue entry; ``PROBE`` is the call ``marketpipe check`` makes.
"""

from __future__ import annotations

from marketpipe.providers.base import Probe
from marketpipe.providers.x import timeline
from marketpipe.providers.x.client import NAME, PROVIDER, TIMELINE, USER_LOOKUP, classify

PROBE = Probe(
    "user lookup",
    lambda _: timeline.user_lookup_request("elonmusk"),
    lambda reply: timeline.parse_user(reply.json()),
)

__all__ = ["NAME", "PROBE", "PROVIDER", "TIMELINE", "USER_LOOKUP", "classify"]
