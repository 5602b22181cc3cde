"""Alpha Vantage (docs/providers.md §1): one ``/query`` URL, ``function`` selects the dataset; every failure is HTTP 200.

Quirks reproduced: all fundamentals are strings with ``"None"`` for missing values; unknown symbols
give ``{}``; the calendars are CSV (CRLF, quoted names, a download content type) and, under quota, carry
the ``I,n,f,o,r,m,…`` row instead of the JSON notice; NEWS_SENTIMENT mixes number and string scores.
Economic series are re-published from the simulated FRED series (as the real ones are), and earnings
come from the same calendar Finnhub serves, so the providers agree.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from marketpipe.sandbox.core import Call, ProviderSpec, gate, json_response
from marketpipe.sandbox.providers import fred_data
from marketpipe.sandbox.providers.finnhub_data import EarningsEvent, earnings_events, ipo_events
from marketpipe.sandbox.quota import QuotaDecision, per_day, per_second
from marketpipe.sandbox.world import (
    NEWS_TOPICS,
    Article,
    Company,
    World,
    day_of,
    last_trading_day,
    previous_trading_day,
    sentiment_label,
)

router = APIRouter()

# -- verbatim texts (docs/providers.md §1.4) ------------------------------------------------------------------
KEY_ERROR = (
    "the parameter apikey is invalid or missing. Please claim your free API key on "
    "(https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."
)
DAILY_LIMIT = (
    "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day. Please subscribe "
    "to any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove all daily rate "
    "limits."
)
#: The burst refusal exactly as Alpha Vantage sends it (captured from the live API, quoted in issue 10):
#: it mentions "25 requests per day" although it is a ~1 s throttle, not the daily quota.
BURST_LIMIT = (
    "Thank you for using Alpha Vantage! Please consider spreading out your free API requests more sparingly "
    "(1 request per second). You may subscribe to any of the premium plans at "
    "https://www.alphavantage.co/premium/ to lift the free key rate limit (25 requests per day), raise the "
    "per-second burst limit, and instantly unlock all premium endpoints"
)
LEGACY_NOTE = (
    "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 calls "
    "per day. Please visit https://www.alphavantage.co/premium/ if you would like to target a higher API call "
    "frequency."
)
PREMIUM = (
    "Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe to any of the premium "
    "plans at https://www.alphavantage.co/premium/ to instantly unlock all premium endpoints"
)
DEMO = (
    "The **demo** API key is for demo purposes only. Please claim your free API key at "
    "(https://www.alphavantage.co/support/#api-key) to explore our full API offerings. It takes fewer than "
    "20 seconds."
)
NEWS_INVALID = (
    "Invalid inputs. Please refer to the API documentation https://www.alphavantage.co/documentation#newsapi "
    "and try again."
)
NEWS_NONE = (
    "No articles found. Please adjust the time range or refer to the API documentation "
    "https://www.alphavantage.co/documentation#newsapi and try again."
)
SENTIMENT_DEFINITION = (
    "x <= -0.35: Bearish; -0.35 < x <= -0.15: Somewhat-Bearish; -0.15 < x < 0.15: Neutral; "
    "0.15 <= x < 0.35: Somewhat_Bullish; x >= 0.35: Bullish"
)
RELEVANCE_DEFINITION = "0 < x <= 1, with a higher score indicating higher relevance."


def invalid_call(function: str) -> dict[str, str]:
    return {
        "Error Message": "Invalid API call. Please retry or visit the documentation "
        f"(https://www.alphavantage.co/documentation/) for {function}."
    }


def unknown_function(function: str) -> dict[str, str]:
    return {"Error Message": f"This API function ({function}) does not exist."}


CSV_MEDIA_TYPE = "application/x-download"
EARNINGS_CALENDAR_HEADER = (
    "symbol",
    "name",
    "reportDate",
    "fiscalDateEnding",
    "estimate",
    "currency",
    "timeOfTheDay",
)
IPO_CALENDAR_HEADER = ("symbol", "name", "ipoDate", "priceRangeLow", "priceRangeHigh", "currency", "exchange")
CSV_HEADERS = {"EARNINGS_CALENDAR": EARNINGS_CALENDAR_HEADER, "IPO_CALENDAR": IPO_CALENDAR_HEADER}
#: Functions that exist on Alpha Vantage but only for premium keys.
PREMIUM_FUNCTIONS = frozenset(
    {"TIME_SERIES_DAILY_ADJUSTED", "REALTIME_BULK_QUOTES", "REALTIME_OPTIONS", "HISTORICAL_OPTIONS"}
)
#: Exactly what the documentation's example URLs ask with the ``demo`` key.
DEMO_SYMBOL = "IBM"


# -- refusals -------------------------------------------------------------------------------------
def csv_information_body(header: tuple[str, ...]) -> str:
    """The mangled quota reply of the CSV endpoints: "Information" spread one letter per column."""
    letters = ",".join("Information"[: len(header)])
    return ",".join(header) + "\r\n" + letters + "\r\n"


def _key_error(call: Call) -> Response:
    return json_response({"Error Message": KEY_ERROR})


def detected_key_limit(key: str) -> str:
    """The 2025+ wording of the daily cap, which echoes the key back (clients must not log bodies)."""
    return (
        f"We have detected your API key as {key} and our standard API rate limit is 25 requests per day. "
        "Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly "
        "remove all daily rate limits."
    )


def _quota(call: Call, decision: QuotaDecision) -> Response:
    # Through a rate_limit fault: window "note" = the pre-2024 throttle, "day_detected" = the 2025+ text.
    if decision.window == "note":
        return json_response({"Note": LEGACY_NOTE})
    if decision.window == "day_detected":
        return json_response({"Information": detected_key_limit(call.key or "")})
    if call.endpoint in CSV_HEADERS:
        return Response(csv_information_body(CSV_HEADERS[call.endpoint]), media_type=CSV_MEDIA_TYPE)
    return json_response({"Information": DAILY_LIMIT if decision.window == "day" else BURST_LIMIT})


PROVIDER = ProviderSpec(
    name="alpha_vantage",
    prefix="/alphavantage",
    router=router,
    # 25/day is the published free cap (00:00 UTC reset); "burst" stands for the undocumented short throttle.
    quota=(per_day(25), per_second(5, name="burst")),
    missing_key_reply=_key_error,
    invalid_key_reply=_key_error,
    quota_reply=_quota,
    description="Alpha Vantage /query",
)


# -- helpers --------------------------------------------------------------------------------------
def s(value: float | int | None, digits: int | None = None) -> str:
    """Alpha Vantage renders every number as a string and a missing one as ``"None"``."""
    if value is None:
        return "None"
    if isinstance(value, int) or digits == 0:
        return str(round(value))
    return f"{value:.{digits if digits is not None else 4}f}"


def _csv(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _fy_end_month(world: World, symbol: str) -> int:
    return int(world.traits(symbol)["fy_end_month"])


def reported_events(world: World, symbol: str, now: datetime, years: int = 5) -> list[EarningsEvent]:
    """Quarterly reports already published at ``now``, newest first."""
    first = (now - timedelta(days=365 * years + 120)).date()
    events = earnings_events(symbol, first, now.date(), world.seed, _fy_end_month(world, symbol))
    return sorted((e for e in events if _published(e, now)), key=lambda e: e.period_end, reverse=True)


def _published(event: EarningsEvent, now: datetime) -> bool:
    if event.report_date != now.date():
        return event.report_date < now.date()
    return now.hour * 60 + now.minute >= (13 * 60 + 30 if event.hour == "bmo" else 21 * 60)


def _report_time(hour: str) -> str | None:
    return {"bmo": "pre-market", "amc": "post-market"}.get(hour)


_SIC_SECTOR = {
    "Information Technology": "TECHNOLOGY",
    "Communication Services": "TECHNOLOGY",
    "Health Care": "LIFE SCIENCES",
    "Financials": "FINANCE",
    "Energy": "ENERGY & TRANSPORTATION",
    "Utilities": "ENERGY & TRANSPORTATION",
    "Industrials": "MANUFACTURING",
    "Materials": "MANUFACTURING",
    "Consumer Staples": "MANUFACTURING",
    "Consumer Discretionary": "TRADE & SERVICES",
    "Real Estate": "REAL ESTATE & CONSTRUCTION",
}


def _company_or_none(world: World, symbol: str | None) -> Company | None:
    """A company Alpha Vantage knows: any that ever was in the simulated index (not candidates)."""
    if not symbol:
        return None
    company = world.company(symbol)
    if company is None or not company.date_added:
        return None
    return company


# -- statements -----------------------------------------------------------------------------------
def _quarter_figures(world: World, symbol: str, event: EarningsEvent) -> dict[str, float]:
    """The base figures of one quarter, all consistent with the reported EPS."""
    traits = world.traits(symbol)
    rng = world.rng("statement", symbol, event.period_end.toordinal())
    shares = traits["shares"]
    net_income = event.eps_actual * shares
    margin = traits["margin"]
    revenue = abs(net_income) / margin
    gross = revenue * rng.uniform(0.35, 0.7)
    tax = max(0.0, net_income) * rng.uniform(0.12, 0.24)
    interest = revenue * rng.uniform(0.002, 0.02)
    pretax = net_income + tax
    operating = pretax + interest
    dep = revenue * rng.uniform(0.02, 0.06)
    assets = revenue * rng.uniform(2.5, 6.0)
    liabilities = assets * rng.uniform(0.35, 0.8)
    return {
        "shares": shares,
        "revenue": revenue,
        "gross": gross,
        "net_income": net_income,
        "tax": tax,
        "interest": interest,
        "pretax": pretax,
        "operating": operating,
        "dep": dep,
        "assets": assets,
        "liabilities": liabilities,
        "rnd": revenue * rng.uniform(0.0, 0.15) if rng.random() < 0.6 else -1.0,
        "cash": assets * rng.uniform(0.03, 0.15),
        "capex": revenue * rng.uniform(0.03, 0.12),
        "dividends": net_income * rng.uniform(0.1, 0.4) if traits["dividend_yield"] > 0 else -1.0,
        "buyback": net_income * rng.uniform(0.0, 0.5),
        "goodwill": assets * rng.uniform(0.02, 0.2) if rng.random() < 0.7 else -1.0,
    }


def _none_if_negative(value: float) -> float | None:
    return None if value < 0 else value


def income_report(fiscal_end: date, f: dict[str, float]) -> dict[str, str]:
    revenue, gross = f["revenue"], f["gross"]
    opex = gross - f["operating"]
    rnd = _none_if_negative(f["rnd"])
    return {
        "fiscalDateEnding": fiscal_end.isoformat(),
        "reportedCurrency": "USD",
        "grossProfit": s(gross, 0),
        "totalRevenue": s(revenue, 0),
        "costOfRevenue": s(revenue - gross, 0),
        "costofGoodsAndServicesSold": s(revenue - gross, 0),
        "operatingIncome": s(f["operating"], 0),
        "sellingGeneralAndAdministrative": s(opex - (rnd or 0.0), 0),
        "researchAndDevelopment": s(rnd, 0),
        "operatingExpenses": s(opex, 0),
        "investmentIncomeNet": "None",
        "netInterestIncome": s(-f["interest"], 0),
        "interestIncome": s(f["interest"] * 0.3, 0),
        "interestExpense": s(f["interest"], 0),
        "nonInterestIncome": "None",
        "otherNonOperatingIncome": s(0, 0),
        "depreciation": "None",
        "depreciationAndAmortization": s(f["dep"], 0),
        "incomeBeforeTax": s(f["pretax"], 0),
        "incomeTaxExpense": s(f["tax"], 0),
        "interestAndDebtExpense": s(f["interest"], 0),
        "netIncomeFromContinuingOperations": s(f["net_income"], 0),
        "comprehensiveIncomeNetOfTax": s(f["net_income"] * 1.01, 0),
        "ebit": s(f["operating"], 0),
        "ebitda": s(f["operating"] + f["dep"], 0),
        "netIncome": s(f["net_income"], 0),
    }


def balance_report(fiscal_end: date, f: dict[str, float]) -> dict[str, str]:
    assets, liabilities = f["assets"], f["liabilities"]
    current_assets = assets * 0.35
    current_liabilities = liabilities * 0.4
    goodwill = _none_if_negative(f["goodwill"])
    long_debt = liabilities * 0.3
    return {
        "fiscalDateEnding": fiscal_end.isoformat(),
        "reportedCurrency": "USD",
        "totalAssets": s(assets, 0),
        "totalCurrentAssets": s(current_assets, 0),
        "cashAndCashEquivalentsAtCarryingValue": s(f["cash"], 0),
        "cashAndShortTermInvestments": s(f["cash"] * 1.3, 0),
        "inventory": s(current_assets * 0.2, 0),
        "currentNetReceivables": s(current_assets * 0.3, 0),
        "totalNonCurrentAssets": s(assets - current_assets, 0),
        "propertyPlantEquipment": s(assets * 0.25, 0),
        "accumulatedDepreciationAmortizationPPE": "None",
        "intangibleAssets": s(goodwill * 0.5 if goodwill else None, 0),
        "intangibleAssetsExcludingGoodwill": s(goodwill * 0.5 if goodwill else None, 0),
        "goodwill": s(goodwill, 0),
        "investments": "None",
        "longTermInvestments": s(assets * 0.05, 0),
        "shortTermInvestments": s(f["cash"] * 0.3, 0),
        "otherCurrentAssets": s(current_assets * 0.1, 0),
        "otherNonCurrentAssets": s(assets * 0.04, 0),
        "totalLiabilities": s(liabilities, 0),
        "totalCurrentLiabilities": s(current_liabilities, 0),
        "currentAccountsPayable": s(current_liabilities * 0.4, 0),
        "deferredRevenue": "None",
        "currentDebt": s(current_liabilities * 0.2, 0),
        "shortTermDebt": s(current_liabilities * 0.2, 0),
        "totalNonCurrentLiabilities": s(liabilities - current_liabilities, 0),
        "capitalLeaseObligations": "None",
        "longTermDebt": s(long_debt, 0),
        "currentLongTermDebt": s(current_liabilities * 0.1, 0),
        "longTermDebtNoncurrent": s(long_debt * 0.9, 0),
        "shortLongTermDebtTotal": s(long_debt + current_liabilities * 0.2, 0),
        "otherCurrentLiabilities": s(current_liabilities * 0.3, 0),
        "otherNonCurrentLiabilities": s(liabilities * 0.1, 0),
        "totalShareholderEquity": s(assets - liabilities, 0),
        "treasuryStock": "None",
        "retainedEarnings": s((assets - liabilities) * 0.6, 0),
        "commonStock": s((assets - liabilities) * 0.2, 0),
        "commonStockSharesOutstanding": s(f["shares"], 0),
    }


def cash_flow_report(fiscal_end: date, f: dict[str, float]) -> dict[str, str]:
    operating = f["net_income"] + f["dep"]
    dividends = _none_if_negative(f["dividends"])
    investing = -f["capex"] * 1.2
    financing = -(dividends or 0.0) - f["buyback"]
    return {
        "fiscalDateEnding": fiscal_end.isoformat(),
        "reportedCurrency": "USD",
        "operatingCashflow": s(operating, 0),
        "paymentsForOperatingActivities": "None",
        "proceedsFromOperatingActivities": "None",
        "changeInOperatingLiabilities": s(operating * 0.05, 0),
        "changeInOperatingAssets": s(-operating * 0.04, 0),
        "depreciationDepletionAndAmortization": s(f["dep"], 0),
        "capitalExpenditures": s(f["capex"], 0),
        "changeInReceivables": "None",
        "changeInInventory": s(-operating * 0.01, 0),
        "profitLoss": s(f["net_income"], 0),
        "cashflowFromInvestment": s(investing, 0),
        "cashflowFromFinancing": s(financing, 0),
        "proceedsFromRepaymentsOfShortTermDebt": "None",
        "paymentsForRepurchaseOfCommonStock": s(f["buyback"], 0),
        "paymentsForRepurchaseOfEquity": s(f["buyback"], 0),
        "paymentsForRepurchaseOfPreferredStock": "None",
        "dividendPayout": s(dividends, 0),
        "dividendPayoutCommonStock": s(dividends, 0),
        "dividendPayoutPreferredStock": "None",
        "proceedsFromIssuanceOfCommonStock": "None",
        "proceedsFromIssuanceOfLongTermDebtAndCapitalSecuritiesNet": "None",
        "proceedsFromIssuanceOfPreferredStock": "None",
        "proceedsFromRepurchaseOfEquity": s(-f["buyback"], 0),
        "proceedsFromSaleOfTreasuryStock": "None",
        "changeInCashAndCashEquivalents": s(operating + investing + financing, 0),
        "changeInExchangeRate": "None",
        "netIncome": s(f["net_income"], 0),
    }


_FLOWS = (
    "revenue",
    "gross",
    "net_income",
    "tax",
    "interest",
    "pretax",
    "operating",
    "dep",
    "capex",
    "buyback",
)


def _annual_figures(world: World, symbol: str, quarters: list[EarningsEvent]) -> dict[str, float]:
    """A fiscal year: flows summed over its four quarters, stocks taken at year end."""
    parts = [_quarter_figures(world, symbol, e) for e in quarters]
    year = dict(parts[0])  # newest quarter = year end (balance sheet items)
    for name in _FLOWS:
        year[name] = sum(p[name] for p in parts)
    for name in ("rnd", "dividends"):
        year[name] = -1.0 if parts[0][name] < 0 else sum(max(0.0, p[name]) for p in parts)
    return year


def _fiscal_years(events: list[EarningsEvent]) -> list[list[EarningsEvent]]:
    """Complete fiscal years (four reported quarters, newest quarter first), newest year first."""
    by_year: dict[int, list[EarningsEvent]] = {}
    for event in events:
        by_year.setdefault(event.fiscal_year, []).append(event)
    return [by_year[y] for y in sorted(by_year, reverse=True) if len(by_year[y]) == 4]


def statements(
    world: World, symbol: str, now: datetime, report: Callable[[date, dict[str, float]], dict[str, str]]
) -> dict[str, Any]:
    events = reported_events(world, symbol, now)
    return {
        "symbol": symbol,
        "annualReports": [
            report(year[0].period_end, _annual_figures(world, symbol, year)) for year in _fiscal_years(events)
        ],
        "quarterlyReports": [report(e.period_end, _quarter_figures(world, symbol, e)) for e in events[:20]],
    }


def earnings(world: World, symbol: str, now: datetime) -> dict[str, Any]:
    events = reported_events(world, symbol, now)
    quarterly = []
    for event in events[:20]:
        surprise = event.eps_actual - event.eps_estimate
        row = {
            "fiscalDateEnding": event.period_end.isoformat(),
            "reportedDate": event.report_date.isoformat(),
            "reportedEPS": s(event.eps_actual, 2),
            "estimatedEPS": s(event.eps_estimate, 2),
            "surprise": s(surprise, 2),
            "surprisePercentage": s(surprise / event.eps_estimate * 100 if event.eps_estimate else None, 4),
        }
        report_time = _report_time(event.hour)
        if report_time:  # absent on some rows, as in real captures
            row["reportTime"] = report_time
        quarterly.append(row)
    annual = [
        {
            "fiscalDateEnding": year[0].period_end.isoformat(),
            "reportedEPS": s(sum(e.eps_actual for e in year), 2),
        }
        for year in _fiscal_years(events)
    ]
    return {"symbol": symbol, "annualEarnings": annual, "quarterlyEarnings": quarterly}


# -- overview -------------------------------------------------------------------------------------
_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)  # fmt: skip


def overview(world: World, company: Company, now: datetime) -> dict[str, str]:
    symbol = company.symbol
    traits = world.traits(symbol)
    rng = world.rng("overview", symbol)
    events = reported_events(world, symbol, now, years=2)
    last_close_day = previous_trading_day(now.date())
    price = world.close(symbol, last_close_day)
    shares = traits["shares"]
    ttm = events[:4]
    figures = [_quarter_figures(world, symbol, e) for e in ttm]
    eps = sum(e.eps_actual for e in ttm) if len(ttm) == 4 else None
    revenue = sum(f["revenue"] for f in figures) if figures else None
    gross = sum(f["gross"] for f in figures) if figures else None
    ebitda = sum(f["operating"] + f["dep"] for f in figures) if figures else None
    net = sum(f["net_income"] for f in figures) if figures else None
    equity = figures[0]["assets"] - figures[0]["liabilities"] if figures else None
    market_cap = price * shares
    closes = [world.close(symbol, last_close_day - timedelta(days=d)) for d in range(0, 365, 7)]
    dividend = traits["dividend_yield"] * price if traits["dividend_yield"] > 0.002 else None
    yoy = None
    if len(events) >= 5:
        yoy = events[0].eps_actual / events[4].eps_actual - 1
    ex_div = last_close_day - timedelta(days=int(rng.uniform(10, 80)))
    targets = [int(rng.uniform(0, 15)) for _ in range(5)]
    fy_end = int(traits["fy_end_month"])
    slug = "".join(ch for ch in company.name.lower() if ch.isalnum())[:20]
    return {
        "Symbol": symbol,
        "AssetType": "Common Stock",
        "Name": company.name,
        "Description": f"{company.name} is a company in the {company.sub_industry} industry, "
        f"headquartered in {company.headquarters}.",
        "CIK": company.cik,
        "Exchange": world.exchange(symbol),
        "Currency": "USD",
        "Country": "USA",
        "Sector": _SIC_SECTOR.get(company.sector, company.sector.upper()),
        "Industry": company.sub_industry.upper(),
        "Address": f"{company.headquarters.upper()}, UNITED STATES",
        "OfficialSite": f"https://www.{slug}.com",
        "FiscalYearEnd": _MONTHS[fy_end - 1],
        "LatestQuarter": events[0].period_end.isoformat() if events else "None",
        "MarketCapitalization": s(market_cap, 0),
        "EBITDA": s(ebitda, 0),
        "PERatio": s(price / eps if eps and eps > 0 else None, 2),
        "PEGRatio": s(rng.uniform(0.5, 3.0) if rng.random() < 0.8 else None, 3),
        "BookValue": s(equity / shares if equity else None, 2),
        "DividendPerShare": s(dividend, 2),
        "DividendYield": s(traits["dividend_yield"] if dividend else 0.0, 4) if dividend else "None",
        "EPS": s(eps, 2),
        "RevenuePerShareTTM": s(revenue / shares if revenue else None, 2),
        "ProfitMargin": s(net / revenue if net and revenue else None, 3),
        "OperatingMarginTTM": s(traits["margin"] * 1.25, 3),
        "ReturnOnAssetsTTM": s(rng.uniform(0.01, 0.2), 4),
        "ReturnOnEquityTTM": s(rng.uniform(0.02, 0.45), 4),
        "RevenueTTM": s(revenue, 0),
        "GrossProfitTTM": s(gross, 0),
        "DilutedEPSTTM": s(eps * 0.99 if eps else None, 2),
        "QuarterlyEarningsGrowthYOY": s(yoy, 3),
        "QuarterlyRevenueGrowthYOY": s(yoy * 0.6 if yoy is not None else None, 3),
        "AnalystTargetPrice": s(price * rng.uniform(0.9, 1.3), 2),
        "AnalystRatingStrongBuy": str(targets[0]),
        "AnalystRatingBuy": str(targets[1]),
        "AnalystRatingHold": str(targets[2]),
        "AnalystRatingSell": str(targets[3] // 3),
        "AnalystRatingStrongSell": str(targets[4] // 5),
        "TrailingPE": s(price / eps if eps and eps > 0 else None, 2),
        "ForwardPE": s(price / (eps * 1.08) if eps and eps > 0 else None, 2),
        "PriceToSalesRatioTTM": s(market_cap / revenue if revenue else None, 3),
        "PriceToBookRatio": s(market_cap / equity if equity and equity > 0 else None, 2),
        "EVToRevenue": s(market_cap * 1.1 / revenue if revenue else None, 3),
        "EVToEBITDA": s(market_cap * 1.1 / ebitda if ebitda and ebitda > 0 else None, 2),
        "Beta": s(traits["beta"], 3),
        "52WeekHigh": s(max(closes), 2),
        "52WeekLow": s(min(closes), 2),
        "50DayMovingAverage": s(sum(closes[:8]) / 8, 2),
        "200DayMovingAverage": s(sum(closes[:29]) / 29, 2),
        "SharesOutstanding": s(shares, 0),
        "SharesFloat": s(shares * rng.uniform(0.85, 0.995), 0),
        "PercentInsiders": s(rng.uniform(0.05, 8.0), 3),
        "PercentInstitutions": s(rng.uniform(55, 90), 3),
        "DividendDate": (ex_div + timedelta(days=21)).isoformat() if dividend else "None",
        "ExDividendDate": ex_div.isoformat() if dividend else "None",
    }


# -- calendars --------------------------------------------------------------------------------------
_HORIZONS = {"3month": 90, "6month": 182, "12month": 365}


def earnings_calendar_csv(world: World, now: datetime, symbol: str | None, horizon_days: int) -> str:
    today = now.date()
    last = today + timedelta(days=horizon_days)
    companies = [c for c in world.constituents(today) if symbol is None or c.symbol == symbol]
    rows = []
    for company in companies:
        for event in earnings_events(
            company.symbol, today, last, world.seed, _fy_end_month(world, company.symbol)
        ):
            if _published(event, now):
                continue
            estimate = (
                ""
                if world.unit("no-estimate", company.symbol, event.period_end.toordinal()) < 0.1
                else (f"{event.eps_estimate:.2f}")
            )
            time_of_day = _report_time(event.hour) or ""
            rows.append(
                (company.symbol, company.name, event.report_date.isoformat(), event.period_end.isoformat(),
                 estimate, "USD", time_of_day)
            )  # fmt: skip
    rows.sort(key=lambda r: (r[2], r[0]))
    return _csv(EARNINGS_CALENDAR_HEADER, rows)


def ipo_calendar_csv(world: World, now: datetime) -> str:
    today = now.date()
    last = today + timedelta(days=90)
    rows: list[tuple[Any, ...]] = []
    for event in ipo_events(today, last, world.seed):
        if event["day"] < today:
            continue
        exchange = "NYSE" if str(event["exchange"]).startswith("NYSE") else "NASDAQ"
        rows.append(
            (event["symbol"], event["name"], event["day"].isoformat(), f"{event['price_low']:.2f}",
             f"{event['price_high']:.2f}", "USD", exchange)
        )  # fmt: skip
    # SPAC rights/units list with a 0,0 price range (docs/providers.md §1.3).
    monday = today - timedelta(days=today.weekday())
    while monday <= last:
        rng = world.rng("av-spac", monday.toordinal())
        if rng.random() < 0.6:
            day = monday + timedelta(days=rng.randrange(0, 5))
            if today <= day <= last:
                root = "".join(rng.choice("ABCDEFGHJKLMNPRSTVWXYZ") for _ in range(4))
                name = f"{root.title()} Capital Acquisition Corporation"
                rows.append((f"{root}R", f"{name} Rights", day.isoformat(), "0", "0", "USD", "NASDAQ"))
                rows.append((f"{root}U", f"{name} Units", day.isoformat(), "0", "0", "USD", "NASDAQ"))
        monday += timedelta(days=7)
    rows.sort(key=lambda r: (r[2], r[0]))
    return _csv(IPO_CALENDAR_HEADER, rows)


# -- market movers ----------------------------------------------------------------------------------
_EASTERN = ZoneInfo("America/New_York")


def _microcaps(world: World, day: date) -> list[dict[str, str]]:
    """Small, volatile tickers (warrants, units, rights) that dominate the real movers lists."""
    rng = world.rng("microcaps", day.toordinal())
    rows = []
    for index in range(40):
        root = "".join(rng.choice("ABCDEFGHJKLMNPRSTVWXYZ") for _ in range(rng.choice((3, 4))))
        ticker = root + rng.choice(("", "", "W", "U", "R", "+", "^", "WS"))
        prev = round(10 ** rng.uniform(-2.2, 1.0), 4)
        pct = rng.choice((1, -1)) * rng.uniform(5, 160 if index % 2 == 0 else 60)
        pct = max(pct, -95.0)
        price = round(prev * (1 + pct / 100), 4)
        rows.append(
            {
                "ticker": ticker,
                "price": f"{price:g}",
                "change_amount": f"{price - prev:.4f}",
                "change_percentage": f"{(price / prev - 1) * 100:.4f}%",
                "volume": str(int(10 ** rng.uniform(0.5, 8.7))),
            }
        )
    return rows


def top_gainers_losers(world: World, now: datetime) -> dict[str, Any]:
    ts = now.timestamp()
    session_day = last_trading_day(now.date())
    session_open = datetime(session_day.year, session_day.month, session_day.day, 14, 30, tzinfo=UTC)
    if now < session_open:
        session_day = previous_trading_day(session_day)
        ts = datetime(session_day.year, session_day.month, session_day.day, 21, 16, tzinfo=UTC).timestamp()
    moment = min(
        ts, datetime(session_day.year, session_day.month, session_day.day, 21, 16, tzinfo=UTC).timestamp()
    )
    rows = []
    for company in world.constituents(session_day):
        q = world.quote(company.symbol, moment)
        rows.append(
            {
                "ticker": company.symbol,
                "price": f"{q.price:g}",
                "change_amount": f"{q.change:.4f}",
                "change_percentage": f"{q.change_pct:.4f}%",
                "volume": str(q.volume),
            }
        )
    rows.extend(_microcaps(world, session_day))

    def pct(row: dict[str, str]) -> float:
        return float(row["change_percentage"].rstrip("%"))

    gainers = sorted((r for r in rows if pct(r) > 0), key=lambda r: (-pct(r), r["ticker"]))[:20]
    losers = sorted((r for r in rows if pct(r) < 0), key=lambda r: (pct(r), r["ticker"]))[:20]
    active = sorted(rows, key=lambda r: (-int(r["volume"]), r["ticker"]))[:20]
    eastern = datetime.fromtimestamp(moment, UTC).astimezone(_EASTERN)
    return {
        "metadata": "Top gainers, losers, and most actively traded US tickers",
        "last_updated": f"{eastern:%Y-%m-%d %H:%M:%S} US/Eastern",
        "top_gainers": gainers,
        "top_losers": losers,
        "most_actively_traded": active,
    }


# -- news -----------------------------------------------------------------------------------------
NEWS_DEFAULT_LOOKBACK_DAYS = 90
NEWS_MAX_LOOKBACK_DAYS = 400


def _parse_news_time(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y%m%dT%H%M").replace(tzinfo=UTC)
    except ValueError:
        try:
            return datetime.strptime(text, "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        except ValueError:
            return None


def _news_item(article: Article) -> dict[str, Any]:
    return {
        "title": article.title,
        "url": article.url,
        "time_published": datetime.fromtimestamp(article.ts, UTC).strftime("%Y%m%dT%H%M%S"),
        "authors": list(article.authors),
        "summary": article.summary,
        "banner_image": article.banner_image,
        "source": article.source,
        "category_within_source": article.category,
        "source_domain": article.source_domain,
        "topics": [
            {"topic": NEWS_TOPICS[code], "relevance_score": f"{rel:g}"} for code, rel in article.topics
        ],
        "overall_sentiment_score": article.sentiment,
        "overall_sentiment_label": sentiment_label(article.sentiment),
        "ticker_sentiment": [
            {
                "ticker": ticker,
                "relevance_score": f"{rel:.6f}",
                "ticker_sentiment_score": f"{score:.6f}",
                "ticker_sentiment_label": sentiment_label(score),
            }
            for ticker, rel, score in article.tickers
        ],
    }


def news_sentiment(world: World, now: datetime, params: dict[str, str]) -> dict[str, Any]:
    """NEWS_SENTIMENT with AND semantics for ``tickers`` and ``topics``, a time window, sort and limit."""
    tickers = [t.strip().upper() for t in params.get("tickers", "").split(",") if t.strip()]
    topics = [t.strip().lower() for t in params.get("topics", "").split(",") if t.strip()]
    sort = (params.get("sort") or "LATEST").upper()
    known = set(world.known_symbols())
    if (
        any(t not in NEWS_TOPICS for t in topics)
        or any(not (t in known or t.startswith(("CRYPTO:", "FOREX:"))) for t in tickers)
        or sort not in ("LATEST", "EARLIEST", "RELEVANCE")
    ):
        return {"Information": NEWS_INVALID}
    try:
        limit = int(params.get("limit") or 50)
    except ValueError:
        return {"Information": NEWS_INVALID}
    limit = max(1, min(limit, 1000))
    time_to = _parse_news_time(params["time_to"]) if params.get("time_to") else now
    time_from = _parse_news_time(params["time_from"]) if params.get("time_from") else None
    if time_to is None or (params.get("time_from") and time_from is None):
        return {"Information": NEWS_INVALID}
    time_to = min(time_to, now)
    if time_from is None:
        time_from = time_to - timedelta(days=NEWS_DEFAULT_LOOKBACK_DAYS)
    time_from = max(time_from, time_to - timedelta(days=NEWS_MAX_LOOKBACK_DAYS))
    wanted_tickers, wanted_topics = set(tickers), set(topics)

    def relevant(article: Article) -> bool:
        if not time_from.timestamp() <= article.ts <= time_to.timestamp():
            return False
        if wanted_tickers and not wanted_tickers <= {t for t, _, _ in article.tickers}:
            return False
        return not wanted_topics or wanted_topics <= {code for code, _ in article.topics}

    def score(article: Article) -> float:
        rel = [r for t, r, _ in article.tickers if t in wanted_tickers]
        rel += [r for c, r in article.topics if c in wanted_topics]
        return sum(rel) / len(rel) if rel else article.tickers[0][1]

    days = [day_of(time_to.timestamp()) - timedelta(days=i) for i in range((time_to - time_from).days + 2)]
    found: list[Article] = []
    if sort == "LATEST":  # newest first: stop scanning once enough are found
        for day in days:
            found.extend(
                sorted(
                    (a for a in world.articles(day, time_to.timestamp()) if relevant(a)), key=lambda a: -a.ts
                )
            )
            if len(found) >= limit:
                break
    else:
        for day in reversed(days):
            found.extend(a for a in world.articles(day, time_to.timestamp()) if relevant(a))
            if sort == "EARLIEST" and len(found) >= limit:
                break
        if sort == "RELEVANCE":
            found.sort(key=lambda a: (-score(a), -a.ts))
    found = found[:limit]
    if not found:
        return {"Information": NEWS_NONE}
    return {
        "items": str(len(found)),
        "sentiment_score_definition": SENTIMENT_DEFINITION,
        "relevance_score_definition": RELEVANCE_DEFINITION,
        "feed": [_news_item(a) for a in found],
    }


# -- economic indicators (re-published simulated FRED series) -------------------------------------
_TREASURY_SERIES = {
    "3month": "DGS3MO",
    "2year": "DGS2",
    "5year": "DGS5",
    "7year": "DGS7",
    "10year": "DGS10",
    "30year": "DGS30",
}
_TREASURY_NAMES = {
    "3month": "3-Month", "2year": "2-Year", "5year": "5-Year", "7year": "7-Year", "10year": "10-Year",
    "30year": "30-Year",
}  # fmt: skip


def _series_rows(series_id: str, today: date, frequency: str | None) -> list[tuple[date, float | None]]:
    rows = list(fred_data.history(series_id, today))
    if frequency:
        rows = fred_data.aggregate(rows, frequency, "avg")
    return rows


def _econ_value(value: float | None, decimals: int) -> str:
    """FRED's missing marker "." survives re-publication; INFLATION keeps full float precision."""
    if value is None:
        return "."
    return f"{value:.15g}" if decimals < 0 else f"{value:.{decimals}f}"


def economic(function: str, params: dict[str, str], now: datetime) -> dict[str, Any] | None:
    """The econ envelope (``data`` newest first, values strings) or None when a parameter is invalid."""
    today = now.date()
    interval = (params.get("interval") or "").lower()
    if function == "CPI":
        interval = interval or "monthly"
        if interval not in ("monthly", "semiannual"):
            return None
        rows = _series_rows("CPIAUCSL", today, "sa" if interval == "semiannual" else None)
        name, unit, decimals = "Consumer Price Index for all Urban Consumers", "index 1982-1984=100", 3
    elif function == "INFLATION":
        rows = _series_rows("FPCPITOTLZGUSA", today, None)
        interval, name, unit, decimals = "annual", "Inflation - US Consumer Prices", "percent", -1
    elif function == "FEDERAL_FUNDS_RATE":
        interval = interval or "monthly"
        if interval not in ("daily", "weekly", "monthly"):
            return None
        if interval == "monthly":  # the monthly figure is FEDFUNDS itself, as on FRED
            rows = _series_rows("FEDFUNDS", today, None)
        else:
            rows = _series_rows("DFF", today, "w" if interval == "weekly" else None)
        name, unit, decimals = "Effective Federal Funds Rate", "percent", 2
    else:  # TREASURY_YIELD
        interval = interval or "monthly"
        maturity = (params.get("maturity") or "10year").lower()
        if interval not in ("daily", "weekly", "monthly") or maturity not in _TREASURY_SERIES:
            return None
        rows = _series_rows(
            _TREASURY_SERIES[maturity], today, {"daily": None, "weekly": "w", "monthly": "m"}[interval]
        )
        name = f"{_TREASURY_NAMES[maturity]} Treasury Constant Maturity Rate"
        unit, decimals = "percent", 2
    data = [{"date": day.isoformat(), "value": _econ_value(value, decimals)} for day, value in reversed(rows)]
    return {"name": name, "interval": interval, "unit": unit, "data": data}


def economic_csv(payload: dict[str, Any]) -> str:
    return _csv(("timestamp", "value"), [(row["date"], row["value"]) for row in payload["data"]])


# -- ETF profile [U: not in docs/providers.md §1.2; shape from the public documentation, used by the seed] -------
_SELECT_SECTOR = "1998-12-16"
#: symbol → (GICS sectors held (empty = all), number of holdings, expense ratio, inception date)
ETFS: dict[str, tuple[tuple[str, ...], int, str, str]] = {
    "SPY": ((), 503, "0.000945", "1993-01-22"),
    "IVV": ((), 503, "0.0003", "2000-05-15"),
    "VOO": ((), 503, "0.0003", "2010-09-07"),
    "DIA": ((), 30, "0.0016", "1998-01-14"),
    "QQQ": (("Information Technology", "Communication Services", "Consumer Discretionary", "Health Care"), 100,
            "0.002", "1999-03-10"),
    "XLK": (("Information Technology",), 70, "0.0008", _SELECT_SECTOR),
    "XLF": (("Financials",), 75, "0.0008", _SELECT_SECTOR),
    "XLE": (("Energy",), 25, "0.0008", _SELECT_SECTOR),
    "XLV": (("Health Care",), 65, "0.0008", _SELECT_SECTOR),
    "XLY": (("Consumer Discretionary",), 55, "0.0008", _SELECT_SECTOR),
    "XLP": (("Consumer Staples",), 40, "0.0008", _SELECT_SECTOR),
    "XLI": (("Industrials",), 80, "0.0008", _SELECT_SECTOR),
    "XLU": (("Utilities",), 32, "0.0008", _SELECT_SECTOR),
    "XLB": (("Materials",), 30, "0.0008", _SELECT_SECTOR),
    "XLRE": (("Real Estate",), 32, "0.0008", "2015-10-07"),
    "XLC": (("Communication Services",), 25, "0.0008", "2018-06-18"),
    "VTI": ((), 503, "0.0003", "2001-05-24"),
    "RSP": ((), 503, "0.002", "2003-04-24"),
    "VUG": (("Information Technology", "Communication Services", "Consumer Discretionary", "Health Care"), 160,
            "0.0004", "2004-01-26"),
    "IWF": (("Information Technology", "Communication Services", "Consumer Discretionary", "Health Care"), 390,
            "0.0018", "2000-05-22"),
    "VTV": (("Financials", "Health Care", "Industrials", "Energy", "Consumer Staples", "Utilities"), 330,
            "0.0004", "2004-01-26"),
    "IWD": (("Financials", "Health Care", "Industrials", "Energy", "Consumer Staples", "Utilities"), 870,
            "0.0018", "2000-05-22"),
    "SCHD": (("Energy", "Consumer Staples", "Health Care", "Industrials", "Financials"), 100, "0.0006",
             "2011-10-20"),
    "VIG": ((), 340, "0.0005", "2006-04-21"),
    "SMH": (("Information Technology",), 25, "0.0035", "2011-12-20"),
    "SOXX": (("Information Technology",), 30, "0.0035", "2001-07-10"),
}  # fmt: skip


def etf_profile(world: World, symbol: str, now: datetime) -> dict[str, Any]:
    """ETF_PROFILE: fund facts plus sector weights and holdings, all numbers as strings."""
    sectors, count, expense, inception = ETFS[symbol]
    day = previous_trading_day(now.date())
    members = [c for c in world.constituents(day) if not sectors or c.sector in sectors]
    caps = sorted(
        ((world.close(c.symbol, day) * world.traits(c.symbol)["shares"], c) for c in members),
        key=lambda pair: (-pair[0], pair[1].symbol),
    )[:count]
    total = sum(cap for cap, _ in caps) or 1.0
    by_sector: dict[str, float] = {}
    for cap, company in caps:
        by_sector[company.sector.upper()] = by_sector.get(company.sector.upper(), 0.0) + cap / total
    rng = world.rng("etf", symbol)
    dividend = sum(world.traits(c.symbol)["dividend_yield"] * cap for cap, c in caps) / total
    return {
        "net_assets": s(total * rng.uniform(0.002, 0.02), 0),
        "net_expense_ratio": expense,
        "portfolio_turnover": s(rng.uniform(0.02, 0.3), 2),
        "dividend_yield": s(dividend, 4),
        "inception_date": inception,
        "leveraged": "NO",
        "sectors": [
            {"sector": name, "weight": f"{weight:.3f}"}
            for name, weight in sorted(by_sector.items(), key=lambda item: -item[1])
        ],
        "holdings": [
            {"symbol": c.symbol, "description": c.name.upper(), "weight": f"{cap / total:.4f}"}
            for cap, c in caps
        ],
    }


# -- the route ------------------------------------------------------------------------------------
SYMBOL_FUNCTIONS = ("OVERVIEW", "INCOME_STATEMENT", "BALANCE_SHEET", "CASH_FLOW", "EARNINGS")
ECONOMIC_FUNCTIONS = ("CPI", "INFLATION", "FEDERAL_FUNDS_RATE", "TREASURY_YIELD")
FUNCTIONS = frozenset(
    (
        *SYMBOL_FUNCTIONS,
        *ECONOMIC_FUNCTIONS,
        "EARNINGS_CALENDAR",
        "IPO_CALENDAR",
        "TOP_GAINERS_LOSERS",
        "NEWS_SENTIMENT",
        "ETF_PROFILE",
        "TIME_SERIES_DAILY",
    )
)


def _demo_allowed(function: str, params: dict[str, str]) -> bool:
    """The demo key answers only the documentation's example URLs."""
    if function in SYMBOL_FUNCTIONS:
        return params.get("symbol", "").upper() == DEMO_SYMBOL
    if function == "EARNINGS_CALENDAR":
        return params.get("symbol", DEMO_SYMBOL).upper() == DEMO_SYMBOL
    if function == "ETF_PROFILE":
        return params.get("symbol", "").upper() == "QQQ"
    if function == "NEWS_SENTIMENT":
        return params.get("tickers", "").upper() == "AAPL"
    return function in FUNCTIONS


@router.get("/query")
async def query(request: Request) -> Response:
    """``GET /query?function=...&apikey=...`` — every Alpha Vantage function of docs/providers.md §1.2."""
    params = dict(request.query_params)
    function = (params.get("function") or "").upper()
    call = await gate(request, "alpha_vantage", endpoint=function or "-", key=params.get("apikey"))
    if call.reply is not None:
        return call.reply
    if params.get("apikey") == "demo" and not _demo_allowed(function, params):
        return call.refuse_auth(json_response({"Information": DEMO}))
    if function in PREMIUM_FUNCTIONS or params.get("entitlement"):
        return call.json({"Information": PREMIUM})
    if function not in FUNCTIONS:
        return call.json(unknown_function(params.get("function") or ""))
    world, now = call.world, call.now
    wants_csv = (params.get("datatype") or "json").lower() == "csv"

    if function in SYMBOL_FUNCTIONS:
        symbol = (params.get("symbol") or "").strip().upper()
        if not symbol:
            return call.json(invalid_call(function))
        company = _company_or_none(world, symbol)
        if company is None:
            return call.json({})  # unknown symbol, ETF or delisted → {} (docs/providers.md §1.3)
        if function == "OVERVIEW":
            return call.json(overview(world, company, now))
        if function == "EARNINGS":
            return call.json(earnings(world, company.symbol, now))
        report = {
            "INCOME_STATEMENT": income_report,
            "BALANCE_SHEET": balance_report,
            "CASH_FLOW": cash_flow_report,
        }
        return call.json(statements(world, company.symbol, now, report[function]))

    if function == "TIME_SERIES_DAILY":
        from marketpipe.sandbox.providers import daily_history

        symbol = (params.get("symbol") or "").strip().upper()
        if (params.get("outputsize") or "compact").lower() == "full":
            return call.json({"Information": PREMIUM})  # free keys: compact (100 sessions) only
        if not symbol or not daily_history.stock_known(world, symbol):
            return call.json(invalid_call(function))
        return call.json(daily_history.av_daily(world, symbol, call.ts))
    if function == "ETF_PROFILE":
        symbol = (params.get("symbol") or "").strip().upper()
        if not symbol:
            return call.json(invalid_call(function))
        return call.json(etf_profile(world, symbol, now) if symbol in ETFS else {})
    if function == "EARNINGS_CALENDAR":
        horizon = (params.get("horizon") or "3month").lower()
        if horizon not in _HORIZONS:
            return call.json(invalid_call(function))
        only = (params.get("symbol") or "").strip().upper() or None
        body = earnings_calendar_csv(world, now, only, _HORIZONS[horizon])
        return call.text(body, CSV_MEDIA_TYPE)
    if function == "IPO_CALENDAR":
        return call.text(ipo_calendar_csv(world, now), CSV_MEDIA_TYPE)
    if function == "TOP_GAINERS_LOSERS":
        return call.json(top_gainers_losers(world, now))
    if function == "NEWS_SENTIMENT":
        return call.json(news_sentiment(world, now, params))

    payload = economic(function, params, now)
    if payload is None:
        return call.json(invalid_call(function))
    if wants_csv:
        return call.text(economic_csv(payload), CSV_MEDIA_TYPE)
    return call.json(payload)
