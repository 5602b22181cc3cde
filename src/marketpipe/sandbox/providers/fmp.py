"""Financial Modeling Prep simulator, ``/stable`` generation (docs/providers.md §5).

Auth is ``apikey`` (query or header); ``demo`` and unknown keys get the 401 "Invalid API KEY" body;
250 calls per day per key, refused with ``{"Error Message": "Limit Reach . ..."}`` as HTTP 429 (or
200, FMP's quota-in-200 variant, when ``quota_status`` is set to 200). Symbols outside the free plan
get the 402 plain-text "Premium Query Parameter" reply; endpoints can be switched to the 403
"Exclusive Endpoint" reply. Both switches live in ``GET/POST /fmp/stable/_settings`` (sandbox-only).

Earnings dates are the same seeded schedule the Finnhub simulator serves, so both providers agree.
Legacy ``/api/v3`` paths are outside this prefix; use the ``LEGACY_BODY`` constant with a ``reply``
fault (status 403) to simulate a legacy call.
"""

from __future__ import annotations

import weakref
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from marketpipe.sandbox.core import Call, ProviderSpec, Sandbox, gate, json_response, sandbox_of
from marketpipe.sandbox.providers import finnhub_data
from marketpipe.sandbox.quota import QuotaDecision, per_day
from marketpipe.sandbox.world import Company, World, previous_trading_day

NAME = "fmp"
#: Where the sandbox mounts it (the real base URL's path layout below this prefix).
PREFIX = "/fmp/stable"
DAILY_LIMIT = 250
INVALID_KEY_BODY = {
    "Error Message": "Invalid API KEY. Feel free to create a Free API Key or visit "
    "https://site.financialmodelingprep.com/faqs?search=why-is-my-api-key-invalid for more information."
}
LIMIT_BODY = {
    "Error Message": "Limit Reach . Please upgrade your plan or visit our documentation for more details at "
    "https://site.financialmodelingprep.com/"
}
BANDWIDTH_BODY = {"Error Message": "Bandwidth Limit Reach . Please upgrade your plan"}
PREMIUM_SYMBOL_TEXT = (
    "Premium Query Parameter: 'Special Endpoint : This value set for 'symbol' is not available under your "
    "current subscription please visit our subscription page to upgrade your plan at "
    "https://site.financialmodelingprep.com/developer/docs/pricing'"
)
EXCLUSIVE_BODY = {
    "Error Message": "Exclusive Endpoint : This endpoint is not available under your current subscription "
    "agreement, please visit our subscription page to upgrade your plan or contact us at "
    "https://site.financialmodelingprep.com/developer/docs/pricing"
}
LEGACY_BODY = {
    "Error Message": "Legacy Endpoint : Due to Legacy endpoints being no longer supported - This endpoint is only "
    "available for legacy users who have valid subscriptions prior August 31, 2025. Please visit our documentation "
    "page https://site.financialmodelingprep.com/developer/docs for our current APIs."
}
EARNINGS_MAX_DAYS = 90
EARNINGS_MAX_ROWS = 4000
#: FMP's own sector taxonomy (not GICS).
FMP_SECTORS = {
    "Information Technology": "Technology",
    "Health Care": "Healthcare",
    "Financials": "Financial Services",
    "Consumer Discretionary": "Consumer Cyclical",
    "Consumer Staples": "Consumer Defensive",
    "Materials": "Basic Materials",
    "Communication Services": "Communication Services",
    "Industrials": "Industrials",
    "Energy": "Energy",
    "Utilities": "Utilities",
    "Real Estate": "Real Estate",
}
_INTERNATIONAL_SUFFIXES = (".NS", ".L", ".TO", ".DE", ".HK", ".T")


class FmpSettings(BaseModel):
    """Plan behaviour that varies between accounts and over time (docs/providers.md §5.4 [U])."""

    quota_status: int = Field(default=429, description="HTTP status of the 'Limit Reach' reply (429 or 200).")
    premium_symbols: list[str] = Field(
        default_factory=lambda: ["RKLB", "IONQ", "AFRM"], description="Symbols answered with the 402 text."
    )
    exclusive_endpoints: list[str] = Field(
        default_factory=list, description="Endpoint names (e.g. 'sp500-constituent') answered with the 403."
    )


_SETTINGS: weakref.WeakKeyDictionary[Sandbox, FmpSettings] = weakref.WeakKeyDictionary()


def _settings(sandbox: Sandbox) -> FmpSettings:
    settings = _SETTINGS.get(sandbox)
    if settings is None:
        settings = _SETTINGS[sandbox] = FmpSettings()
    return settings


router = APIRouter()


def _key(request: Request) -> str | None:
    return request.query_params.get("apikey") or request.headers.get("apikey") or None


async def _open(request: Request, endpoint: str) -> tuple[Call, Response | None]:
    """Gate the call, then apply the plan switches (exclusive endpoint)."""
    call = await gate(request, NAME, endpoint=endpoint, key=_key(request))
    if call.reply is not None:
        return call, call.reply
    if endpoint in _settings(call.sandbox).exclusive_endpoints:
        return call, call.json(EXCLUSIVE_BODY, 403)
    return call, None


def _premium(call: Call, symbol: str) -> Response | None:
    if symbol.upper() in {s.upper() for s in _settings(call.sandbox).premium_symbols}:
        return call.text(PREMIUM_SYMBOL_TEXT, "text/plain; charset=utf-8", 402)
    return None


async def _open_company(request: Request, endpoint: str) -> tuple[Call, str, Company] | Response:
    """Gate a per-symbol call: the refusal, the premium-symbol reply, ``[]`` for an unknown symbol,
    or the call with its upper-cased symbol and the world's company."""
    call, refused = await _open(request, endpoint)
    if refused is not None:
        return refused
    symbol = (request.query_params.get("symbol") or "").upper()
    premium = _premium(call, symbol)
    if premium is not None:
        return premium
    company = call.world.company(symbol)
    if company is None:
        return call.json([])
    return call, symbol, company


def _date(text: str | None, default: date) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        return default


def _cik(company: Company) -> str:
    return company.cik.zfill(10) if company.cik else ""


def _cusip(world: World, symbol: str) -> str:
    rng = world.rng("cusip", symbol)
    return (
        "".join(rng.choice("0123456789") for _ in range(6))
        + rng.choice("1234")
        + "0"
        + str(rng.randrange(10))
    )


def _isin(cusip: str) -> str:
    # ISIN check digit (Luhn over the letters-as-numbers expansion).
    digits = "".join(str(int(ch, 36)) for ch in "US" + cusip)
    total = 0
    for index, ch in enumerate(reversed(digits)):
        value = int(ch) * (2 if index % 2 == 0 else 1)
        total += value // 10 + value % 10
    return f"US{cusip}{(10 - total % 10) % 10}"


# -- earnings -------------------------------------------------------------------------------------


def _event_rows(world: World, symbol: str, first: date, last: date, today: date) -> list[dict[str, Any]]:
    fy_end = int(world.traits(symbol)["fy_end_month"]) if world.company(symbol) else 12
    rows = []
    for event in finnhub_data.earnings_events(symbol, first, last, world.seed, fy_end):
        done = event.report_date < today
        rows.append(
            {
                "symbol": symbol,
                "date": event.report_date.isoformat(),
                "epsActual": event.eps_actual if done else None,
                "epsEstimated": event.eps_estimate
                if event.report_date - today < timedelta(days=120)
                else None,
                "revenueActual": event.revenue_actual if done else None,
                "revenueEstimated": event.revenue_estimate
                if event.report_date - today < timedelta(days=120)
                else None,
                "lastUpdated": min(today, event.report_date + timedelta(days=1)).isoformat(),
            }
        )
    return rows


def _international_rows(world: World, first: date, last: date, today: date) -> list[dict[str, Any]]:
    """A few non-US listings (exchange suffixes), as the real global calendar has."""
    rows = []
    day = first
    while day <= last:
        rng = world.rng("fmp-intl", day.toordinal())
        for _ in range(rng.randrange(0, 4) if day.weekday() < 5 else 0):
            symbol = "".join(
                rng.choice("ABCDEFGHIKLMNPRSTUVW") for _ in range(rng.choice((3, 4)))
            ) + rng.choice(_INTERNATIONAL_SUFFIXES)
            estimate = round(rng.uniform(0.2, 9.0), 2)
            done = day < today
            revenue = rng.randrange(100, 90_000) * 1_000_000
            rows.append(
                {
                    "symbol": symbol,
                    "date": day.isoformat(),
                    "epsActual": round(estimate * rng.uniform(0.7, 1.3), 2) if done else None,
                    "epsEstimated": estimate,
                    "revenueActual": int(revenue * rng.uniform(0.9, 1.1)) if done else None,
                    "revenueEstimated": revenue,
                    "lastUpdated": min(today, day).isoformat(),
                }
            )
        day += timedelta(days=1)
    return rows


@router.get("/earnings-calendar")
async def earnings_calendar(request: Request) -> Response:
    """Earnings in [from, to] (range clipped to 90 days, at most 4000 rows), newest first."""
    call, refused = await _open(request, "earnings-calendar")
    if refused is not None:
        return refused
    world = call.world
    today = call.now.date()
    first = _date(request.query_params.get("from"), today)
    last = min(
        _date(request.query_params.get("to"), first + timedelta(days=7)),
        first + timedelta(days=EARNINGS_MAX_DAYS),
    )
    rows: list[dict[str, Any]] = []
    for company in world.constituents():
        rows.extend(_event_rows(world, company.symbol, first, last, today))
    rows.extend(_international_rows(world, first, last, today))
    rows.sort(key=lambda row: (row["date"], row["symbol"]), reverse=True)
    return call.json(rows[:EARNINGS_MAX_ROWS])


@router.get("/earnings")
async def company_earnings(request: Request) -> Response:
    """A company's past and scheduled reports (``symbol``, ``limit``), newest first."""
    opened = await _open_company(request, "earnings")
    if isinstance(opened, Response):
        return opened
    call, symbol, _ = opened
    world = call.world
    today = call.now.date()
    rows = _event_rows(world, symbol, today - timedelta(days=5 * 365), today + timedelta(days=200), today)
    rows.sort(key=lambda row: row["date"], reverse=True)
    limit_text = request.query_params.get("limit") or "100"
    limit = int(limit_text) if limit_text.isdigit() else 100
    return call.json(rows[:limit])


# -- daily history (additive: served from sandbox.providers.daily_history) -------------------------


@router.get("/historical-price-eod/full")
async def historical_price_eod(request: Request) -> Response:
    """End-of-day bars of ``symbol`` with ``from``/``to`` inclusive, newest first (stocks and ETFs)."""
    from marketpipe.sandbox.providers import daily_history

    call, refused = await _open(request, "historical-price-eod")
    if refused is not None:
        return refused
    symbol = (request.query_params.get("symbol") or "").strip().upper()
    premium = _premium(call, symbol)
    if premium is not None:
        return premium
    if not symbol or not daily_history.stock_known(call.world, symbol):
        return call.json([])
    today = call.now.date()
    first = _date(request.query_params.get("from"), today - timedelta(days=5 * 365))
    last = _date(request.query_params.get("to"), today)
    return call.json(daily_history.fmp_eod(call.world, symbol, first, last, call.ts))


# -- index membership -----------------------------------------------------------------------------


@router.get("/sp500-constituent")
async def sp500_constituent(request: Request) -> Response:
    """The current S&P 500 members in FMP's shape (FMP sector names, zero-padded CIK)."""
    call, refused = await _open(request, "sp500-constituent")
    if refused is not None:
        return refused
    rows = [
        {
            "symbol": company.symbol,
            "name": company.name,
            "sector": FMP_SECTORS.get(company.sector, company.sector),
            "subSector": company.sub_industry,
            "headQuarter": company.headquarters,
            "dateFirstAdded": company.date_added or None,
            "cik": _cik(company),
            "founded": company.founded,
        }
        for company in call.world.constituents()
    ]
    return call.json(rows)


@router.get("/historical-sp500-constituent")
async def historical_sp500_constituent(request: Request) -> Response:
    """Index changes, newest first [U: shape follows FMP's legacy endpoint]."""
    call, refused = await _open(request, "historical-sp500-constituent")
    if refused is not None:
        return refused
    changes = call.world.membership_changes()
    by_day: dict[date, dict[str, Any]] = {}
    for change in changes:
        row = by_day.setdefault(
            change.day,
            {
                "dateAdded": change.day.strftime("%B %-d, %Y"),
                "addedSecurity": "",
                "removedTicker": "",
                "removedSecurity": "",
                "date": change.day.isoformat(),
                "symbol": "",
                "reason": "Market capitalization change.",
            },
        )
        if change.action == "added":
            row["addedSecurity"], row["symbol"] = change.company.name, change.company.symbol
        else:
            row["removedTicker"], row["removedSecurity"] = change.company.symbol, change.company.name
    return call.json([by_day[day] for day in sorted(by_day, reverse=True)])


# -- company data ---------------------------------------------------------------------------------


def _year_range(world: World, symbol: str, today: date) -> tuple[float, float]:
    closes = [world.close(symbol, today - timedelta(days=offset)) for offset in range(0, 365, 3)]
    return min(closes), max(closes)


@router.get("/profile")
async def profile(request: Request) -> Response:
    """Company profile: always a one-element array (``[]`` for an unknown symbol)."""
    opened = await _open_company(request, "profile")
    if isinstance(opened, Response):
        return opened
    call, symbol, company = opened
    world = call.world
    today = call.now.date()
    traits = world.traits(symbol)
    quote = world.quote(symbol, call.ts)
    low, high = _year_range(world, symbol, today)
    cusip = _cusip(world, symbol)
    city, _, state = company.headquarters.partition(", ")
    nasdaq = world.unit("exchange", symbol) < 0.4
    founded = company.founded[:4] if company.founded[:4].isdigit() else "1980"
    return call.json(
        [
            {
                "symbol": symbol,
                "price": round(quote.price, 2),
                "marketCap": int(quote.price * traits["shares"]),
                "beta": round(traits["beta"], 3),
                "lastDividend": round(quote.prev_close * traits["dividend_yield"], 2),
                "range": f"{min(low, quote.low):g}-{max(high, quote.high):g}",
                "change": round(quote.change, 2),
                "changePercentage": round(quote.change_pct, 4),
                "volume": quote.volume,
                "averageVolume": world.daily_volume(symbol, previous_trading_day(today)),
                "companyName": company.name,
                "currency": "USD",
                "cik": _cik(company),
                "isin": _isin(cusip),
                "cusip": cusip,
                "exchangeFullName": "NASDAQ Global Select" if nasdaq else "New York Stock Exchange",
                "exchange": "NASDAQ" if nasdaq else "NYSE",
                "industry": company.sub_industry,
                "website": f"https://www.{''.join(ch for ch in company.name.lower() if ch.isalnum())[:24]}.com",
                "description": f"{company.name} operates in the {company.sub_industry.lower()} industry "
                f"({company.sector}). It is headquartered in {company.headquarters}.",
                "ceo": f"Mr. {world.rng('ceo', symbol).choice(('Alex', 'Sam', 'Chris', 'Jordan', 'Taylor'))} "
                f"{world.rng('ceo-last', symbol).choice(('Smith', 'Lee', 'Garcia', 'Brown', 'Miller'))}",
                "sector": FMP_SECTORS.get(company.sector, company.sector),
                "country": "US",
                "fullTimeEmployees": str(int(traits["shares"] / 20_000)),
                "phone": f"({200 + int(world.unit('phone', symbol) * 700)}) 555-0{int(world.unit('ext', symbol) * 999):03d}",
                "address": f"{1 + int(world.unit('addr', symbol) * 9000)} Main Street",
                "city": city,
                "state": state,
                "zip": f"{int(world.unit('zip', symbol) * 99999):05d}",
                "image": f"https://images.financialmodelingprep.com/symbol/{symbol}.png",
                "ipoDate": f"{max(int(founded), 1980)}-{1 + int(world.unit('ipo', symbol) * 12):02d}-15",
                "defaultImage": False,
                "isEtf": False,
                "isActivelyTrading": company in world.constituents(),
                "isAdr": False,
                "isFund": False,
            }
        ]
    )


@router.get("/quote")
async def quote(request: Request) -> Response:
    """Real-time-ish quote, a one-element array [U: shape from FMP's stable docs, not in docs/providers.md §5]."""
    opened = await _open_company(request, "quote")
    if isinstance(opened, Response):
        return opened
    call, symbol, company = opened
    world = call.world
    today = call.now.date()
    snap = world.quote(symbol, call.ts)
    low, high = _year_range(world, symbol, today)
    closes50 = [world.close(symbol, today - timedelta(days=d)) for d in range(0, 70)]
    closes200 = [world.close(symbol, today - timedelta(days=d)) for d in range(0, 280, 2)]
    return call.json(
        [
            {
                "symbol": symbol,
                "name": company.name,
                "price": round(snap.price, 2),
                "changePercentage": round(snap.change_pct, 5),
                "change": round(snap.change, 2),
                "volume": snap.volume,
                "dayLow": round(snap.low, 2),
                "dayHigh": round(snap.high, 2),
                "yearHigh": round(max(high, snap.high), 2),
                "yearLow": round(min(low, snap.low), 2),
                "marketCap": int(snap.price * world.traits(symbol)["shares"]),
                "priceAvg50": round(sum(closes50) / len(closes50), 4),
                "priceAvg200": round(sum(closes200) / len(closes200), 4),
                "exchange": "NASDAQ" if world.unit("exchange", symbol) < 0.4 else "NYSE",
                "open": round(snap.open, 2),
                "previousClose": round(snap.prev_close, 2),
                "timestamp": int(snap.ts),
            }
        ]
    )


@router.get("/ipos-calendar")
async def ipos_calendar(request: Request) -> Response:
    """IPOs in [from, to] [U: field names from FMP's stable docs]; same IPOs as Finnhub's calendar."""
    call, refused = await _open(request, "ipos-calendar")
    if refused is not None:
        return refused
    today = call.now.date()
    first = _date(request.query_params.get("from"), today - timedelta(days=14))
    last = _date(request.query_params.get("to"), today + timedelta(days=14))
    rows = []
    for event in finnhub_data.ipo_events(first, last, call.world.seed):
        priced = event["day"] <= today
        mid = (event["price_low"] + event["price_high"]) / 2
        rows.append(
            {
                "symbol": event["symbol"],
                "date": event["day"].isoformat(),
                "daa": f"{event['day'].isoformat()}T04:00:00.000Z",
                "company": event["name"],
                "exchange": event["exchange"].split()[0],
                "actions": "Priced" if priced else "Expected",
                "shares": event["shares"],
                "priceRange": f"{event['price_low']:g}-{event['price_high']:g}" if not priced else None,
                "marketCap": int(event["shares"] * mid * 4) if priced else None,
            }
        )
    rows.sort(key=lambda row: row["date"], reverse=True)
    return call.json(rows)


# -- sandbox-only plan switches ----------------------------------------------------------------------


@router.get("/_settings")
def get_settings(request: Request) -> dict[str, Any]:
    """Sandbox-only: the plan switches (quota reply status, premium symbols, exclusive endpoints)."""
    return _settings(sandbox_of(request)).model_dump()


@router.post("/_settings")
def set_settings(body: dict[str, Any], request: Request) -> dict[str, Any]:
    """Sandbox-only: change plan switches (partial update)."""
    sandbox = sandbox_of(request)
    _SETTINGS[sandbox] = FmpSettings.model_validate({**_settings(sandbox).model_dump(), **body})
    return get_settings(request)


def _quota_reply(call: Call, decision: QuotaDecision) -> Response:
    return json_response(LIMIT_BODY, _settings(call.sandbox).quota_status)


def _reset(sandbox: Sandbox) -> None:
    """Admin reset: back to the default plan switches."""
    _SETTINGS[sandbox] = FmpSettings()


PROVIDER = ProviderSpec(
    name=NAME,
    prefix=PREFIX,
    router=router,
    quota=(per_day(DAILY_LIMIT),),
    on_reset=_reset,
    key_format=lambda key: key != "demo",
    missing_key_reply=lambda call: json_response(INVALID_KEY_BODY, 401),
    invalid_key_reply=lambda call: json_response(INVALID_KEY_BODY, 401),
    quota_reply=_quota_reply,
    description="Financial Modeling Prep /stable (docs/providers.md §5): calendars, profile, constituents; 250/day per key.",
)
