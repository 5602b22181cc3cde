"""Finnhub REST (docs/providers.md §2): ``token`` query parameter, real HTTP statuses with
``{"error": ...}``, 60 calls/minute plus a 30 calls/second hard cap per key.
"""

from __future__ import annotations

from marketpipe.http.client import Auth
from marketpipe.http.types import OK, ApiRequest, Outcome, OutcomeKind, Reply, per_minute, per_second
from marketpipe.providers.base import Provider, Site, classify_status, epoch_header

NAME = "finnhub"


def classify(request: ApiRequest, reply: Reply) -> Outcome:
    by_status = classify_status(reply)
    if by_status is not None:
        if by_status.kind is OutcomeKind.THROTTLED:
            reset = epoch_header(reply, "x-ratelimit-reset")
            return Outcome(OutcomeKind.THROTTLED, by_status.message, by_status.retry_after_s or 1.0, reset)
        return by_status
    if reply.status == 204:
        return OK
    try:
        body = reply.json()
    except ValueError:
        return Outcome(OutcomeKind.MALFORMED, f"expected JSON, got {reply.excerpt(80)!r}")
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        text = body["error"].lower()
        if "api key" in text:
            return Outcome(OutcomeKind.INVALID_KEY, body["error"])
        if "limit" in text:
            return Outcome(OutcomeKind.THROTTLED, body["error"], 1.0)
        return Outcome(OutcomeKind.REFUSED, body["error"])
    return OK


PROVIDER = Provider(
    name=NAME,
    base_url="https://finnhub.io/api/v1",
    sandbox_prefix="/finnhub/api/v1",
    auth=Auth(query_param="token"),
    windows=(per_minute(60), per_second(30)),
    classify=classify,
    timeout_s=20.0,
    listing_order=2,
    pool_slots=2,  # 60 calls/min: two tasks fit
    extra_sites=(Site("finnhub_ws", "wss://ws.finnhub.io", "/finnhub/ws"),),
)
