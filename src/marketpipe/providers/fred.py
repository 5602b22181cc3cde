"""FRED (docs/providers.md §3): ``/series/observations``, ``api_key`` query parameter, JSON errors
``{"error_code", "error_message"}`` with HTTP 400/429; values are strings with ``"."`` for missing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marketpipe.http.client import Auth
from marketpipe.http.errors import MalformedResponse
from marketpipe.http.types import OK, ApiRequest, Outcome, OutcomeKind, Reply, per_minute, per_second
from marketpipe.providers.base import (
    Probe,
    Provider,
    drop,
    is_cdn_page,
    retry_after_seconds,
    to_date,
    to_decimal,
)

NAME = "fred"


def classify(request: ApiRequest, reply: Reply) -> Outcome:
    """FRED verdicts: the ``error_message`` text tells a bad key from a bad series."""
    message = ""
    try:
        body = reply.json()
        if isinstance(body, dict) and "error_message" in body:
            message = str(body.get("error_message"))
    except ValueError:
        body = None
    lowered = message.lower()
    if reply.status == 403 and is_cdn_page(reply):
        return Outcome(OutcomeKind.TRANSIENT, "HTTP 403 from the CDN (a block page, not FRED's answer)")
    if reply.status == 429 or "exceeded rate limit" in lowered or "too many requests" in lowered:
        return Outcome(OutcomeKind.THROTTLED, message or "HTTP 429", retry_after_seconds(reply) or 1.0)
    if "api_key" in lowered:
        return Outcome(OutcomeKind.INVALID_KEY, message)
    if "series does not exist" in lowered:
        return Outcome(OutcomeKind.NOT_FOUND, message)
    if reply.status >= 500:
        return Outcome(OutcomeKind.TRANSIENT, f"HTTP {reply.status}", retry_after_seconds(reply))
    if reply.status == 404:
        return Outcome(OutcomeKind.NOT_FOUND, message or "HTTP 404")
    if reply.status >= 400:
        return Outcome(OutcomeKind.MALFORMED, message or f"HTTP {reply.status}")
    if not isinstance(body, dict):
        return Outcome(OutcomeKind.MALFORMED, f"expected a JSON object, got {reply.excerpt(80)!r}")
    return OK


PROVIDER = Provider(
    name=NAME,
    base_url="https://api.stlouisfed.org/fred",
    sandbox_prefix="/fred/fred",
    auth=Auth(query_param="api_key"),
    # 120 requests/minute per key, enforced per second since 2026 (~2/s).
    windows=(per_minute(120), per_second(2)),
    classify=classify,
    timeout_s=20.0,
    listing_order=3,
    pool_slots=2,  # 120 calls/min
)


def observations_request(series_id: str, **params: str) -> ApiRequest:
    """``GET /series/observations?series_id=…&file_type=json`` (the default format is XML)."""
    return ApiRequest(
        provider=NAME,
        path="/series/observations",
        params={"series_id": series_id, "file_type": "json", **params},
        label=f"FRED {series_id}",
    )


def parse_observations(body: Any) -> list[tuple[Any, Decimal | None]]:
    """Observations → [(date, value)], ``"."`` → None, in the order given."""
    if not isinstance(body, dict) or not isinstance(body.get("observations"), list):
        raise MalformedResponse(NAME, "observations: expected an object with an observations list")
    points = []
    for item in body["observations"]:
        when = to_date(item.get("date")) if isinstance(item, dict) else None
        if when is None:
            drop("observation without a valid date")
            continue
        points.append((when, to_decimal(item.get("value"))))
    return points


#: The call ``marketpipe check`` makes.
PROBE = Probe(
    "FEDFUNDS, 1 observation",
    lambda _: observations_request("FEDFUNDS", sort_order="desc", limit="1"),
    lambda reply: parse_observations(reply.json()),
)
