"""Bithumb public API (docs/providers.md §8): no key; v1 uses HTTP statuses with
``{"error": {...}}``, the legacy API answers 200 with ``status != "0000"``; 150 requests/second per IP.
"""

from __future__ import annotations

from marketpipe.http.client import NO_AUTH
from marketpipe.http.types import OK, ApiRequest, Outcome, OutcomeKind, Reply, per_second
from marketpipe.providers.base import Provider, classify_status

NAME = "bithumb"


def classify(request: ApiRequest, reply: Reply) -> Outcome:
    by_status = classify_status(reply)
    if by_status is not None:
        return by_status
    try:
        body = reply.json()
    except ValueError:
        return Outcome(OutcomeKind.MALFORMED, f"expected JSON, got {reply.excerpt(80)!r}")
    if isinstance(body, dict):
        if isinstance(body.get("error"), dict):
            return Outcome(OutcomeKind.MALFORMED, str(body["error"].get("message", "error"))[:200])
        status = body.get("status")
        if status is not None and str(status) != "0000":
            kind = OutcomeKind.THROTTLED if str(status) == "5600" else OutcomeKind.MALFORMED
            return Outcome(kind, f"status {status}: {body.get('message', '')}", 1.0)
    return OK


PROVIDER = Provider(
    name=NAME,
    base_url="https://api.bithumb.com",
    sandbox_prefix="/bithumb",
    auth=NO_AUTH,
    windows=(per_second(150),),
    classify=classify,
    timeout_s=10.0,
    needs_key=False,
    listing_order=8,
    pool_slots=2,  # public endpoints, generous
)
