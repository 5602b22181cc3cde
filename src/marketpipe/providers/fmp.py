"""Financial Modeling Prep (docs/providers.md §5): ``/stable`` endpoints, ``apikey`` parameter,
``{"Error Message": ...}`` with 401/402/403/429 — and sometimes a quota error inside a 200.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from marketpipe.http.client import Auth
from marketpipe.http.errors import MalformedResponse
from marketpipe.http.types import OK, ApiRequest, Outcome, OutcomeKind, Reply, per_day
from marketpipe.providers.base import Probe, Provider, classify_status
from marketpipe.providers.records import constituent, earnings_event

NAME = "fmp"


def _message_outcome(message: str, status: int) -> Outcome:
    lowered = message.lower()
    if "limit reach" in lowered:
        return Outcome(OutcomeKind.QUOTA, message)
    if "invalid api key" in lowered:
        return Outcome(OutcomeKind.INVALID_KEY, message)
    if "legacy endpoint" in lowered or "exclusive endpoint" in lowered or "premium" in lowered:
        return Outcome(OutcomeKind.REFUSED, message)
    return Outcome(OutcomeKind.MALFORMED, f"HTTP {status}: {message}")


def classify(request: ApiRequest, reply: Reply) -> Outcome:
    """FMP verdicts; the ``Error Message`` text wins over the status (quota may come as 200)."""
    try:
        body = reply.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("Error Message"), str):
        return _message_outcome(body["Error Message"], reply.status)
    if reply.status == 402 or (reply.status >= 400 and "premium" in reply.text.lower()):
        return Outcome(OutcomeKind.REFUSED, f"HTTP {reply.status}: {reply.excerpt(200)}")
    by_status = classify_status(reply)
    if by_status is not None:
        if by_status.kind is OutcomeKind.THROTTLED:
            return Outcome(OutcomeKind.QUOTA, by_status.message)  # FMP 429 = the daily limit
        return by_status
    if body is None:
        return Outcome(OutcomeKind.MALFORMED, f"expected JSON, got {reply.excerpt(80)!r}")
    return OK


PROVIDER = Provider(
    name=NAME,
    base_url="https://financialmodelingprep.com/stable",
    sandbox_prefix="/fmp/stable",
    auth=Auth(query_param="apikey"),
    windows=(per_day(250),),
    classify=classify,
    timeout_s=30.0,
    listing_order=5,
    pool_slots=1,  # 250 calls/day
)


def earnings_calendar_request(start: date, end: date) -> ApiRequest:
    """``/earnings-calendar?from&to`` (at most 90 days per call)."""
    return ApiRequest(
        provider=NAME,
        path="/earnings-calendar",
        params={"from": start.isoformat(), "to": end.isoformat()},
        label=f"FMP earnings-calendar {start}..{end}",
    )


def sp500_constituents_request() -> ApiRequest:
    return ApiRequest(provider=NAME, path="/sp500-constituent", label="FMP sp500-constituent")


def _expect_list(body: Any, what: str) -> list[Any]:
    if not isinstance(body, list):
        raise MalformedResponse(NAME, f"{what}: expected a JSON array, got {type(body).__name__}")
    return body


def parse_earnings_calendar(body: Any) -> list[dict[str, Any]]:
    """Stable earnings calendar → ``earnings_calendar`` rows (names are filled by the dataset)."""
    events = (
        earnings_event(
            {
                "symbol": item.get("symbol"),
                "name": item.get("name"),
                "report_date": item.get("date"),
                "fiscal_date_ending": item.get("fiscalDateEnding"),
                "estimate": item.get("epsEstimated"),
                "currency": item.get("currency"),
                "timing": item.get("time"),  # legacy shape only
            }
        )
        for item in _expect_list(body, "earnings-calendar")
        if isinstance(item, dict)
    )
    return [event for event in events if event is not None]


def parse_sp500_constituents(body: Any) -> list[dict[str, Any]]:
    """``/sp500-constituent`` → ``sp500_companies`` rows."""
    companies = (
        constituent(
            {
                "symbol": item.get("symbol"),
                "company_name": item.get("name"),
                "gics_sector": item.get("sector"),
                "gics_sub_industry": item.get("subSector"),
                "headquarters": item.get("headQuarter"),
                "date_added": item.get("dateFirstAdded"),
                "cik": item.get("cik"),
                "founded": item.get("founded"),
            }
        )
        for item in _expect_list(body, "sp500-constituent")
        if isinstance(item, dict)
    )
    return [company for company in companies if company is not None]


#: The call ``marketpipe check`` makes.
PROBE = Probe(
    "earnings calendar, today",
    lambda now: earnings_calendar_request(now.date(), now.date()),
    lambda reply: parse_earnings_calendar(reply.json()),
    expect_rows=False,
)
