"""Finnhub REST simulator (docs/providers.md §2.1–§2.3): news, company news, earnings, quote, plus IPOs/symbols/profile.

Auth is ``?token=`` or the ``X-Finnhub-Token`` header; errors use real HTTP statuses with
``{"error": ...}`` bodies; every key gets 60 calls/minute and 30 calls/second, reported in
``X-Ratelimit-*`` headers. Content comes from the shared world (symbols, prices, dates) and
:mod:`finnhub_data` (news and earnings).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from marketpipe.sandbox.core import Call, ProviderSpec, gate, json_response
from marketpipe.sandbox.providers import finnhub_data
from marketpipe.sandbox.quota import QuotaDecision, per_minute, per_second
from marketpipe.sandbox.world import Company, World

NAME = "finnhub"
#: Where the sandbox mounts it (the real base URL's path layout below this prefix).
PREFIX = "/finnhub/api/v1"
MINUTE_LIMIT = 60
SECOND_LIMIT = 30

NO_KEY = {"error": "Please use an API key."}
BAD_KEY = {"error": "Invalid API key"}
NO_ACCESS = {"error": "You don't have access to this resource."}
RATE_LIMITED = {"error": "API limit reached. Please try again later. Remaining Limit: 0"}
#: Endpoints that exist on the real API but need a paid plan (403 on a free key).
PREMIUM_PATHS = (
    "/stock/candle",
    "/stock/tick",
    "/stock/price-target",
    "/stock/revenue-estimate",
    "/news-sentiment",
    "/stock/financials-reported",
    "/stock/transcripts",
)
#: Quote snapshots lag real time on the real API (docs/providers.md §2.2, observed ~20–30 s).
QUOTE_LAG_S = 25
EXCHANGES = {"US"}

router = APIRouter()


def _key(request: Request) -> str | None:
    return request.query_params.get("token") or request.headers.get("x-finnhub-token") or None


def _rate_headers(call: Call, decision: QuotaDecision) -> Mapping[str, str]:
    """``X-Ratelimit-*`` for the per-minute window (the one Finnhub reports)."""
    minute = next((w for w in call.sandbox.windows(NAME) if w.name == "minute"), None)
    if minute is None:
        return {}
    index, _start, end = minute.bounds(call.ts)
    used = 0
    for row in call.sandbox.quota.usage(NAME):
        if row["key_id"] == call.key_id and row["window"] == "minute" and row["index"] == index:
            used = row["used"]
    return {
        "X-Ratelimit-Limit": str(minute.limit),
        "X-Ratelimit-Remaining": str(max(0, minute.limit - used)),
        "X-Ratelimit-Reset": str(int(end)),
    }


def _error(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


async def _open(request: Request, endpoint: str) -> Call:
    return await gate(request, NAME, endpoint=endpoint, key=_key(request))


def _parse_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _listed(world: World, symbol: str | None) -> Company | None:
    """A company with a US listing in the world (None for unknown and foreign symbols)."""
    if not symbol:
        return None
    return world.company(symbol)


def fy_end_month(world: World, symbol: str) -> int:
    """The company's fiscal-year-end month (from the world's seeded traits)."""
    return int(world.traits(symbol)["fy_end_month"])


def _companies(world: World) -> list[Company]:
    return world.constituents()


@router.get("/quote")
async def quote(request: Request) -> Response:
    """``/quote``: the world's snapshot ~25 s ago; unknown symbols give the all-zero object."""
    call = await _open(request, "quote")
    if call.reply is not None:
        return call.reply
    symbol = (request.query_params.get("symbol") or "").upper()
    if not symbol:
        return call.json({"error": "Symbol is required"}, 422)
    if _listed(call.world, symbol) is None:
        return call.json({"c": 0, "d": None, "dp": None, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 0})
    snap = call.world.quote(symbol, call.ts - QUOTE_LAG_S)
    return call.json(
        {
            "c": round(snap.price, 2),
            "d": round(snap.change, 2),
            "dp": round(snap.change_pct, 4),
            "h": round(snap.high, 4),
            "l": round(snap.low, 4),
            "o": round(snap.open, 4),
            "pc": round(snap.prev_close, 2),
            "t": int(snap.ts),
        }
    )


@router.get("/news")
async def news(request: Request) -> Response:
    """``/news?category=...&minId=...``: the latest ≤100 items, newest first, ids > minId."""
    call = await _open(request, "news")
    if call.reply is not None:
        return call.reply
    category = request.query_params.get("category")
    if category not in finnhub_data.MARKET_CATEGORIES:
        # [U] the real text for a missing/unknown category is not documented.
        return call.json(
            {"error": "Wrong category. Category must be one of: general, forex, crypto, merger"}, 422
        )
    try:
        min_id = int(request.query_params.get("minId") or 0)
    except ValueError:
        return call.json({"error": "minId must be an integer"}, 422)
    items = finnhub_data.market_news(category, min_id, call.now, call.world.constituents, call.world.seed)
    return call.json(items)


@router.get("/company-news")
async def company_news(request: Request) -> Response:
    """``/company-news?symbol&from&to``: items published in [from, to], newest first (1 year back)."""
    call = await _open(request, "company-news")
    if call.reply is not None:
        return call.reply
    params = request.query_params
    date_from, date_to = _parse_date(params.get("from")), _parse_date(params.get("to"))
    if not params.get("symbol") or date_from is None or date_to is None:
        # [U] Finnhub's exact text for missing/invalid parameters is not documented.
        return call.json(
            {"error": "Wrong date format or missing symbol. Use symbol, from=YYYY-MM-DD, to=YYYY-MM-DD"}, 422
        )
    world = call.world
    company = _listed(world, params["symbol"])
    items = finnhub_data.company_news(
        company,
        date_from,
        date_to,
        call.now,
        lambda s, moment: world.price(s, moment.timestamp()),
        world.seed,
    )
    return call.json(items)


@router.get("/calendar/earnings")
async def earnings_calendar(request: Request) -> Response:
    """``/calendar/earnings?from&to[&symbol]``: scheduled and reported quarters in the window."""
    call = await _open(request, "calendar/earnings")
    if call.reply is not None:
        return call.reply
    params = request.query_params
    today = call.now.date()
    date_from = _parse_date(params.get("from")) or today
    date_to = _parse_date(params.get("to")) or today + timedelta(days=7)
    symbol = (params.get("symbol") or "").upper()
    world = call.world
    listed = ([symbol] if _listed(world, symbol) else []) if symbol else [c.symbol for c in _companies(world)]
    symbols = [(s, fy_end_month(world, s)) for s in listed]
    return call.json(finnhub_data.earnings_calendar(symbols, date_from, date_to, call.now, call.world.seed))


@router.get("/stock/earnings")
async def stock_earnings(request: Request) -> Response:
    """``/stock/earnings?symbol[&limit]``: the last four reported quarters with surprises."""
    call = await _open(request, "stock/earnings")
    if call.reply is not None:
        return call.reply
    params = request.query_params
    symbol = (params.get("symbol") or "").upper()
    if not symbol:
        return call.json({"error": "Symbol is required"}, 422)
    limit_text = params.get("limit")
    limit = int(limit_text) if limit_text and limit_text.isdigit() else None
    listed = symbol if _listed(call.world, symbol) else None
    fy_end = fy_end_month(call.world, symbol)
    return call.json(finnhub_data.stock_earnings(listed, limit, call.now, call.world.seed, fy_end))


@router.get("/calendar/ipo")
async def ipo_calendar(request: Request) -> Response:
    """``/calendar/ipo?from&to`` [U: shape from Finnhub's docs, not in docs/providers.md §2.2]."""
    call = await _open(request, "calendar/ipo")
    if call.reply is not None:
        return call.reply
    today = call.now.date()
    date_from = _parse_date(request.query_params.get("from")) or today - timedelta(days=30)
    date_to = _parse_date(request.query_params.get("to")) or today + timedelta(days=30)
    return call.json(finnhub_data.ipo_calendar(date_from, date_to, call.now, call.world.seed))


@router.get("/stock/symbol")
async def stock_symbols(request: Request) -> Response:
    """``/stock/symbol?exchange=US`` [U: shape from Finnhub's docs]; other exchanges are premium."""
    call = await _open(request, "stock/symbol")
    if call.reply is not None:
        return call.reply
    exchange = (request.query_params.get("exchange") or "").upper()
    if not exchange:
        return call.json({"error": "Exchange is required"}, 422)
    if exchange not in EXCHANGES:
        return call.json(NO_ACCESS, 403)
    rows = []
    for company in sorted(_companies(call.world), key=lambda c: c.symbol):
        figi = f"BBG{finnhub_data.stable_int(call.world.seed, 'figi', company.symbol, modulo=10**9):09d}"
        rows.append(
            {
                "currency": "USD",
                "description": company.name.upper(),
                "displaySymbol": company.symbol,
                "figi": figi,
                "isin": None,
                "mic": "XNYS" if finnhub_data.stable_int(company.symbol, modulo=2) else "XNAS",
                "shareClassFIGI": "",
                "symbol": company.symbol,
                "symbol2": "",
                "type": "Common Stock",
            }
        )
    return call.json(rows)


@router.get("/stock/profile2")
async def profile2(request: Request) -> Response:
    """``/stock/profile2?symbol=`` [U: shape from Finnhub's docs]; unknown symbol → ``{}``."""
    call = await _open(request, "stock/profile2")
    if call.reply is not None:
        return call.reply
    world = call.world
    company = _listed(world, request.query_params.get("symbol"))
    if company is None:
        return call.json({})
    traits = world.traits(company.symbol)
    price = world.price(company.symbol, call.ts)
    shares_m = traits["shares"] / 1e6
    founded_year = company.founded[:4] if company.founded[:4].isdigit() else "1980"
    return call.json(
        {
            "country": "US",
            "currency": "USD",
            "estimateCurrency": "USD",
            "exchange": "NEW YORK STOCK EXCHANGE, INC."
            if finnhub_data.stable_int(company.symbol, modulo=2)
            else "NASDAQ NMS - GLOBAL MARKET",
            "finnhubIndustry": company.sector,
            "ipo": f"{max(int(founded_year), 1980)}-{1 + finnhub_data.stable_int(company.symbol, modulo=12):02d}-15",
            "logo": f"https://static2.finnhub.io/file/publicdatany/finnhubimage/stock_logo/{company.symbol}.png",
            "marketCapitalization": round(price * shares_m, 2),
            "name": company.name,
            "phone": f"1{finnhub_data.stable_int(company.symbol, 'phone', modulo=10**10):010d}",
            "shareOutstanding": round(shares_m, 2),
            "ticker": company.symbol,
            "weburl": f"https://www.{''.join(ch for ch in company.name.lower() if ch.isalnum())[:20]}.com/",
        }
    )


def _premium_route(path: str) -> None:
    async def premium(request: Request) -> Response:
        call = await _open(request, path.strip("/"))
        if call.reply is not None:
            return call.reply
        return call.json(NO_ACCESS, 403)

    premium.__name__ = f"premium_{path.strip('/').replace('/', '_').replace('-', '_')}"
    router.add_api_route(path, premium, methods=["GET"], include_in_schema=False)


for _path in PREMIUM_PATHS:
    _premium_route(_path)


def _quota_reply(call: Call, decision: QuotaDecision) -> Response:
    return json_response(RATE_LIMITED, 429)


PROVIDER = ProviderSpec(
    name=NAME,
    prefix=PREFIX,
    router=router,
    quota=(per_minute(MINUTE_LIMIT), per_second(SECOND_LIMIT)),
    missing_key_reply=lambda call: json_response(NO_KEY, 401),
    invalid_key_reply=lambda call: json_response(BAD_KEY, 401),
    quota_reply=_quota_reply,
    quota_headers=_rate_headers,
    description="Finnhub REST /api/v1 (docs/providers.md §2): news, company-news, earnings, quote; 60/min + 30/s per key.",
)


__all__ = ["PROVIDER", "router"]
