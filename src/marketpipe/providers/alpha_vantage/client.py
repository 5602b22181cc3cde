"""Alpha Vantage (docs/providers.md §1): one ``/query`` URL, ``apikey`` query parameter, and every
failure as HTTP 200 with ``Information`` / ``Note`` / ``Error Message`` — or, on the CSV calendar
endpoints, a quota refusal disguised as one row of single characters (``I,n,f,o,r,m,a``).

This module is the client side (classification, auth, windows, :func:`request`); the parsers live by
topic beside it: ``fundamentals``, ``calendars``, ``markets``, ``economics``, ``news``.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from marketpipe.http.client import Auth
from marketpipe.http.types import OK, ApiRequest, Outcome, OutcomeKind, Reply, per_day, per_second
from marketpipe.providers.base import (
    Provider,
    classify_status,
)
from marketpipe.redaction import redact

NAME = "alpha_vantage"

# -- classification ---------------------------------------------------------------------------------


def classify_message(key: str, message: str) -> Outcome:
    """Classify an ``Information`` / ``Note`` / ``Error Message`` text (the order of checks matters)."""
    text = message.lower()
    if "apikey is invalid" in text or "apikey is invalid or missing" in text or "api key is invalid" in text:
        return Outcome(OutcomeKind.INVALID_KEY, message)
    if "demo" in text and "api key" in text:
        return Outcome(OutcomeKind.INVALID_KEY, message)
    if key != "Note" and ("spreading out" in text or "burst" in text or "per second" in text):
        # The burst refusal (> 1 call/s). Its text also says "25 requests per day" (of the plan it
        # advertises), so it must be recognised before the daily quota: it is a ~1 s throttle.
        return Outcome(OutcomeKind.THROTTLED, message, retry_after_s=1.0)
    if "per day" in text and key != "Note":
        return Outcome(OutcomeKind.QUOTA, message)
    if key == "Note" or "rate limit" in text:
        # The legacy per-minute Note: retryable after a minute.
        return Outcome(OutcomeKind.THROTTLED, message, retry_after_s=60.0 if key == "Note" else 1.0)
    if "premium" in text:
        return Outcome(OutcomeKind.REFUSED, message)
    if "no articles found" in text:
        return OK  # a valid query with nothing to report
    if "invalid api call" in text or "invalid inputs" in text:
        return Outcome(OutcomeKind.NOT_FOUND, message)
    if key == "Error Message":
        return Outcome(OutcomeKind.MALFORMED, message)
    return Outcome(OutcomeKind.MALFORMED, f"unexpected {key}: {message}")


def _classify_json_object(body: Any) -> Outcome:
    if isinstance(body, dict):
        for key in ("Error Message", "Information", "Note"):
            if key in body and isinstance(body[key], str):
                return classify_message(key, body[key])
    return OK


def is_csv_quota_refusal(rows: list[list[str]]) -> bool:
    """True for the ``I,n,f,o,r,m,a`` body: every data row is only single characters."""
    data = [row for row in rows[1:] if any(cell.strip() for cell in row)]
    return bool(data) and all(all(len(cell.strip()) <= 1 for cell in row) for row in data)


def classify(request: ApiRequest, reply: Reply) -> Outcome:
    """Alpha Vantage verdicts; the body decides, since the status is 200 for every failure."""
    by_status = classify_status(reply)
    if by_status is not None:
        return by_status
    text = reply.text.lstrip("\ufeff").strip()
    if text.startswith("{"):
        try:
            body = reply.json()
        except ValueError:
            return Outcome(OutcomeKind.MALFORMED, f"bad JSON: {redact(text[:592])[:80]!r}")
        outcome = _classify_json_object(body)
        if outcome.ok and request.expect == "json" and body == {}:
            return Outcome(OutcomeKind.NOT_FOUND, "empty object (unknown symbol, ETF or delisted)")
        if outcome.ok and request.expect == "csv":
            return Outcome(OutcomeKind.MALFORMED, f"expected CSV, got JSON: {redact(text[:592])[:80]!r}")
        return outcome
    if request.expect == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            return Outcome(OutcomeKind.MALFORMED, "empty CSV body")
        if is_csv_quota_refusal(rows):
            return Outcome(OutcomeKind.QUOTA, "CSV quota refusal (Information spelled across columns)")
        return OK
    return Outcome(OutcomeKind.MALFORMED, f"expected JSON, got {redact(text[:592])[:80]!r}")


PROVIDER = Provider(
    name=NAME,
    base_url="https://www.alphavantage.co",
    sandbox_prefix="/alphavantage",
    auth=Auth(query_param="apikey"),
    # Free key: 25 requests per day; bursts are refused above ~1 request per second.
    windows=(per_day(25), per_second(1)),
    classify=classify,
    timeout_s=30.0,
    listing_order=1,
    pool_slots=1,  # 5 calls/min and 25/day per key: one task at a time is already the limit
)

# -- requests -----------------------------------------------------------------------------------------


def request(function: str, label: str = "", expect: str = "json", **params: str) -> ApiRequest:
    """An Alpha Vantage call ``function=<function>&<params>`` (the key is added when sending)."""
    return ApiRequest(
        provider=NAME,
        path="/query",
        params={"function": function, **params},
        expect=expect,  # type: ignore[arg-type]
        label=label or f"AV {function} {' '.join(params.values())}".strip(),
    )
