"""Bithumb public API simulator (docs/providers.md §8): v1 (Upbit-compatible) market list and tickers, legacy ticker.

No auth. Public calls are limited to 150 requests/second per IP (here: per caller, key id ``-``).
v1 errors are HTTP statuses with ``{"error": {"name", "message"}}``; the legacy API always answers
HTTP 200 and signals failure with ``status`` ≠ ``"0000"`` (a ``reply`` fault with body
``{"status": "5500", "message": "Invalid Parameter"}`` simulates the spurious kind). Prices come from
:mod:`bithumb_world` and move with the sandbox clock; a ticker only changes when a trade happened.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from marketpipe.sandbox.core import Call, ProviderSpec, gate, json_response
from marketpipe.sandbox.providers import bithumb_world as bw
from marketpipe.sandbox.quota import QuotaDecision, per_second

NAME = "bithumb"
#: Where the sandbox mounts it (the real base URL's path layout below this prefix).
PREFIX = "/bithumb"
SECOND_LIMIT = 150
#: Clients chunk ``markets=`` to ≤100 codes (docs/providers.md §8.1); the simulator accepts a little more.
MAX_MARKETS_PER_CALL = 200
LEGACY_INVALID = {"status": "5500", "message": "Invalid Parameter"}

router = APIRouter()


def _quota_reply(call: Call, decision: QuotaDecision) -> Response:
    # [U] exact Bithumb text; Upbit-style error object with a 429 (docs/providers.md §8.1 "Rate-limit overrun → 429").
    return json_response({"error": {"name": "too_many_requests", "message": "Too many API requests."}}, 429)


def _error(status: int, message: str, name: int | str | None = None) -> Response:
    return json_response({"error": {"name": status if name is None else name, "message": message}}, status)


PROVIDER = ProviderSpec(
    name=NAME,
    prefix=PREFIX,
    router=router,
    quota=(per_second(SECOND_LIMIT),),
    requires_key=False,
    quota_reply=_quota_reply,
    description="Bithumb public API: v1 market list and tickers, legacy /public/ticker",
)


async def _open(request: Request, endpoint: str) -> Call:
    return await gate(request, NAME, endpoint=endpoint, key=None)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


@router.get("/v1/market/all")
async def market_all(request: Request) -> Response:
    """``GET /v1/market/all[?isDetails=true]`` — every market; ``market_warning`` only with details."""
    call = await _open(request, "/v1/market/all")
    if call.reply is not None:
        return call.reply
    details = _flag(request.query_params.get("isDetails"))
    rows: list[dict[str, Any]] = []
    for market in bw.markets(call.world.seed).items:
        row: dict[str, Any] = {
            "market": market.code,
            "korean_name": market.korean_name,
            "english_name": market.english_name,
        }
        if details:
            row["market_warning"] = market.warning
        rows.append(row)
    return call.json(rows)


@router.get("/v1/ticker")
async def ticker(request: Request) -> Response:
    """``GET /v1/ticker?markets=KRW-BTC,KRW-ETH`` — one 26-field object per known market."""
    call = await _open(request, "/v1/ticker")
    if call.reply is not None:
        return call.reply
    raw = request.query_params.get("markets", "")
    codes = [code.strip().upper() for code in raw.split(",") if code.strip()]
    if not codes:
        return _error(400, "markets is required", "invalid_parameter")
    if len(codes) > MAX_MARKETS_PER_CALL:
        return _error(400, "too many markets requested", "invalid_parameter")
    seed = call.world.seed
    known = bw.markets(seed).by_code
    found = [known[code] for code in dict.fromkeys(codes) if code in known]
    if not found:
        return _error(404, "Code not found", 404)
    return call.json([bw.ticker(seed, market, call.ts) for market in found])


@router.get("/v1/candles/days")
async def candles_days(request: Request) -> Response:
    """``GET /v1/candles/days?market=KRW-BTC&count=200&to=...`` — KST day candles, newest first."""
    from datetime import datetime

    from marketpipe.sandbox.providers import daily_history

    call = await _open(request, "/v1/candles/days")
    if call.reply is not None:
        return call.reply
    code = (request.query_params.get("market") or "").strip().upper()
    market = bw.markets(call.world.seed).by_code.get(code)
    if market is None:
        return _error(404, "Code not found", 404)
    raw_count = request.query_params.get("count") or "1"
    if not raw_count.isdigit() or not 1 <= int(raw_count) <= daily_history.BITHUMB_MAX_COUNT:
        return _error(400, "count must be between 1 and 200", "invalid_parameter")
    to_ts = call.ts
    raw_to = request.query_params.get("to")
    if raw_to:
        try:
            moment = datetime.fromisoformat(raw_to.strip().replace("Z", "+00:00").replace(" ", "T"))
        except ValueError:
            return _error(400, "invalid to", "invalid_parameter")
        to_ts = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return call.json(daily_history.bithumb_days(call.world.seed, market, int(raw_count), to_ts, call.ts))


@router.get("/public/ticker/{pair}")
async def legacy_ticker(request: Request, pair: str) -> Response:
    """``GET /public/ticker/ALL_KRW`` (or ``BTC_KRW``) — strings only, ``data.date`` beside the coins."""
    call = await _open(request, "/public/ticker")
    if call.reply is not None:
        return call.reply
    order, _, payment = pair.upper().partition("_")
    payment = payment or "KRW"
    seed = call.world.seed
    by_code = bw.markets(seed).by_code
    date = str(int(call.ts * 1000))
    if order == "ALL":
        coins = [m for m in bw.markets(seed).items if m.quote == payment]
        if not coins:
            return call.json(LEGACY_INVALID)
        data: dict[str, Any] = {m.base: bw.legacy_ticker(seed, m, call.ts) for m in coins}
        data["date"] = date
        return call.json({"status": "0000", "data": data})
    market = by_code.get(f"{payment}-{order}")
    if market is None:
        return call.json(LEGACY_INVALID)
    return call.json({"status": "0000", "data": {**bw.legacy_ticker(seed, market, call.ts), "date": date}})
