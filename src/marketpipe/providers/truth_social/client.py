"""Truth Social (docs/providers.md §7): Mastodon-style API behind Cloudflare, Bearer token,
``x-ratelimit-*`` headers with an ISO reset time, ~300 requests per 5-minute window.
"""

from __future__ import annotations

from datetime import datetime

from marketpipe.http.client import Auth
from marketpipe.http.types import OK, ApiRequest, Outcome, OutcomeKind, Reply, per_minutes
from marketpipe.providers.base import Provider, classify_status

NAME = "truth_social"


def _iso_reset(reply: Reply) -> datetime | None:
    value = reply.headers.get("x-ratelimit-reset")
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def classify(request: ApiRequest, reply: Reply) -> Outcome:
    lowered = reply.excerpt(2000).lower()
    if "just a moment" in lowered or "cdn-cgi/challenge-platform" in lowered:
        return Outcome(OutcomeKind.TRANSIENT, "Cloudflare challenge page")
    if reply.status == 403 and ("unavailable in your area" in lowered or "you have been blocked" in lowered):
        return Outcome(OutcomeKind.REFUSED, "blocked by the site (geoblock or firewall)")
    if reply.status == 429:
        return Outcome(OutcomeKind.QUOTA, "rate-limit window exhausted", reset_at=_iso_reset(reply))
    by_status = classify_status(reply)
    if by_status is not None:
        return by_status
    try:
        reply.json()
    except ValueError:
        return Outcome(OutcomeKind.MALFORMED, f"expected JSON, got {reply.excerpt(80)!r}")
    return OK


PROVIDER = Provider(
    name=NAME,
    base_url="https://truthsocial.com/api",
    sandbox_prefix="/truthsocial/api",
    auth=Auth(header="Authorization", header_prefix="Bearer "),
    windows=(per_minutes(5, 300),),
    classify=classify,
    timeout_s=120.0,
    listing_order=7,
    pool_slots=1,
)
