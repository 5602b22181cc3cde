"""CoinGecko (docs/providers.md §9): ``x-cg-demo-api-key`` header, 429 with an optional
``retry-after`` (sometimes a ``status`` error inside a 200), 404 ``coin not found``; Demo plan
30 calls/minute and 10 000 calls/month per key.
"""

from __future__ import annotations

from marketpipe.http.client import Auth
from marketpipe.http.types import OK, ApiRequest, Outcome, OutcomeKind, Reply, per_minute, per_month
from marketpipe.providers.base import Provider, classify_status, retry_after_seconds

NAME = "coingecko"


def classify(request: ApiRequest, reply: Reply) -> Outcome:
    try:
        body = reply.json()
    except ValueError:
        body = None
    status_obj = body.get("status") if isinstance(body, dict) else None
    if isinstance(status_obj, dict) and status_obj.get("error_code") == 429:
        return Outcome(
            OutcomeKind.THROTTLED,
            str(status_obj.get("error_message", ""))[:200],
            retry_after_seconds(reply) or 60.0,
        )
    if reply.status == 400 and isinstance(body, dict) and body.get("error_code") in (10010, 10011):
        return Outcome(OutcomeKind.INVALID_KEY, "key used on the wrong root URL (demo vs pro)")
    if reply.status == 404:
        return Outcome(
            OutcomeKind.NOT_FOUND, str(body.get("error") if isinstance(body, dict) else "not found")
        )
    by_status = classify_status(reply)
    if by_status is not None:
        if by_status.kind is OutcomeKind.THROTTLED and by_status.retry_after_s is None:
            return Outcome(OutcomeKind.THROTTLED, by_status.message, 60.0)
        return by_status
    if body is None:
        return Outcome(OutcomeKind.MALFORMED, f"expected JSON, got {reply.excerpt(80)!r}")
    return OK


PROVIDER = Provider(
    name=NAME,
    base_url="https://api.coingecko.com/api/v3",
    sandbox_prefix="/coingecko/api/v3",
    auth=Auth(header="x-cg-demo-api-key"),
    windows=(per_minute(30), per_month(10_000)),
    classify=classify,
    timeout_s=20.0,
    listing_order=9,
    pool_slots=1,  # 30 calls/min on the demo plan
)
