"""NewsAPI (docs/providers.md §4): ``X-Api-Key`` header, ``{"status":"error","code",...}``
envelopes (sometimes inside a 200); Developer plan 100 requests per 24 h released as 50 per 12 h.
"""

from __future__ import annotations

from marketpipe.http.client import Auth
from marketpipe.http.types import OK, ApiRequest, Outcome, OutcomeKind, Reply, per_day, per_hours
from marketpipe.providers.base import Provider, classify_status, retry_after_seconds

NAME = "newsapi"

_CODES: dict[str, OutcomeKind] = {
    "apiKeyMissing": OutcomeKind.INVALID_KEY,
    "apiKeyInvalid": OutcomeKind.INVALID_KEY,
    "apiKeyDisabled": OutcomeKind.INVALID_KEY,
    "apiKeyExhausted": OutcomeKind.QUOTA,
    "rateLimited": OutcomeKind.QUOTA,
    "maximumResultsReached": OutcomeKind.REFUSED,
    "parameterInvalid": OutcomeKind.REFUSED,
    "parametersMissing": OutcomeKind.MALFORMED,
    "sourcesTooMany": OutcomeKind.MALFORMED,
    "sourceDoesNotExist": OutcomeKind.NOT_FOUND,
    "unexpectedError": OutcomeKind.TRANSIENT,
}


def classify(request: ApiRequest, reply: Reply) -> Outcome:
    """The envelope's ``code`` decides (an error may arrive with HTTP 200)."""
    try:
        body = reply.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("status") == "error":
        code = str(body.get("code", ""))
        kind = _CODES.get(code, OutcomeKind.MALFORMED)
        return Outcome(kind, f"{code}: {body.get('message', '')}", retry_after_seconds(reply))
    by_status = classify_status(reply)
    if by_status is not None:
        return by_status
    if not isinstance(body, dict) or body.get("status") != "ok":
        return Outcome(OutcomeKind.MALFORMED, f"unexpected body {reply.excerpt(80)!r}")
    return OK


PROVIDER = Provider(
    name=NAME,
    base_url="https://newsapi.org/v2",
    sandbox_prefix="/newsapi/v2",
    auth=Auth(header="X-Api-Key"),
    windows=(per_hours(12, 50), per_day(100)),
    classify=classify,
    timeout_s=30.0,
    listing_order=4,
    pool_slots=1,  # 100 calls/day
)
