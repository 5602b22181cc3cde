"""X API v2 (docs/providers.md §6): ``Authorization: Bearer`` app token, problem-JSON errors,
absolute ``x-rate-limit-reset`` (no Retry-After); free tier ≈ one timeline read per 15 minutes per
token and ~100 reads per month.
"""

from __future__ import annotations

from marketpipe.http.client import Auth
from marketpipe.http.types import OK, ApiRequest, Outcome, OutcomeKind, Reply, per_minutes, per_month
from marketpipe.providers.base import Provider, classify_status, epoch_header
from marketpipe.redaction import redact

NAME = "x"
TIMELINE = "user_tweets"
USER_LOOKUP = "user_lookup"


def classify(request: ApiRequest, reply: Reply) -> Outcome:
    """429 is either the 15-minute window (reset header) or the monthly usage cap (problem type)."""
    reset = epoch_header(reply, "x-rate-limit-reset")
    text = reply.excerpt(400)
    if "usage-capped" in text or "UsageCapExceeded" in text:
        return Outcome(OutcomeKind.QUOTA, "monthly usage cap exceeded", reset_at=None)
    if reply.status == 429:
        return Outcome(OutcomeKind.QUOTA, "rate-limit window exhausted", reset_at=reset)
    if reply.status == 403 and "client-not-enrolled" in text:
        return Outcome(OutcomeKind.INVALID_KEY, "client not enrolled in a project")
    by_status = classify_status(reply)
    if by_status is not None:
        return by_status
    try:
        body = reply.json()
    except ValueError:
        return Outcome(OutcomeKind.MALFORMED, f"expected JSON, got {redact(text[:592])[:80]!r}")
    if isinstance(body, dict) and "data" not in body and body.get("errors"):
        detail = str(body["errors"][0].get("detail", "")) if isinstance(body["errors"], list) else ""
        return Outcome(OutcomeKind.NOT_FOUND, detail or "errors without data")
    return OK


PROVIDER = Provider(
    name=NAME,
    base_url="https://api.x.com/2",
    sandbox_prefix="/x/2",
    auth=Auth(header="Authorization", header_prefix="Bearer "),
    windows=(
        per_minutes(15, 1, name="timeline_15min", scope=TIMELINE),
        per_minutes(15, 3, name="lookup_15min", scope=USER_LOOKUP),
        per_month(100),
    ),
    classify=classify,
    timeout_s=30.0,
    listing_order=6,
    pool_slots=1,  # tiny monthly caps
)
