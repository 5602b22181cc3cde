"""Alpha Vantage (spec §1): one ``/query`` URL, ``function`` selects the dataset; every failure is HTTP 200."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from marketpipe.sandbox.core import Call, ProviderSpec, gate, json_response
from marketpipe.sandbox.quota import QuotaDecision, per_day, per_second

router = APIRouter()

KEY_ERROR = (
    "the parameter apikey is invalid or missing. Please claim your free API key on "
    "(https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."
)
DAILY_LIMIT = (
    "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day. Please subscribe "
    "to any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove all daily rate "
    "limits."
)
BURST_LIMIT = (
    "Thank you for using Alpha Vantage! Please consider spreading out your free API requests more sparingly "
    "(1 request per second). Burst pattern detected: 5 requests per second allowed. You may subscribe to any "
    "of the premium plans at https://www.alphavantage.co/premium/ to lift the free key rate limit."
)

CSV_FUNCTIONS = frozenset({"EARNINGS_CALENDAR", "IPO_CALENDAR"})


def _missing_key(call: Call) -> Response:
    return json_response({"Error Message": KEY_ERROR})


def _quota(call: Call, decision: QuotaDecision) -> Response:
    text = DAILY_LIMIT if decision.window == "day" else BURST_LIMIT
    return json_response({"Information": text})


PROVIDER = ProviderSpec(
    name="alpha_vantage",
    router=router,
    # 25/day is the published free cap; the burst window stands for the undocumented short throttle.
    quota=(per_day(25), per_second(5, name="burst")),
    missing_key_reply=_missing_key,
    invalid_key_reply=_missing_key,
    quota_reply=_quota,
    description="Alpha Vantage /query",
)


@router.get("/query")
async def query(request: Request) -> Response:
    params = request.query_params
    function = (params.get("function") or "").upper()
    call = await gate(request, "alpha_vantage", endpoint=function or "-", key=params.get("apikey"))
    if call.reply is not None:
        return call.reply
    return call.json({})
