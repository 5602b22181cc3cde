"""Alpha Vantage (spec/provider-apis.md §1): one ``/query`` URL, ``apikey`` query parameter, and every
failure as HTTP 200 with ``Information`` / ``Note`` / ``Error Message`` — or, on the CSV calendar
endpoints, a quota refusal disguised as one row of single characters (``I,n,f,o,r,m,a``).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from marketpipe.http.client import Auth
from marketpipe.http.errors import MalformedResponse
from marketpipe.http.types import OK, ApiRequest, Outcome, OutcomeKind, Reply, per_day, per_second
from marketpipe.providers.base import (
    Provider,
    classify_status,
    clean_text,
    drop,
    to_date,
    to_decimal,
    to_int,
)
from marketpipe.providers.records import earnings_event
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
    base_url_key=NAME,
    auth=Auth(query_param="apikey"),
    # Free key: 25 requests per day; bursts are refused above ~1 request per second.
    windows=(per_day(25), per_second(1)),
    classify=classify,
    timeout_s=30.0,
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


# -- parsers (pure) -----------------------------------------------------------------------------------

#: AV OVERVIEW key → company_overview column, with the value kind.
OVERVIEW_FIELDS: dict[str, tuple[str, str]] = {
    "Symbol": ("symbol", "text"),
    "AssetType": ("asset_type", "text"),
    "Name": ("name", "text"),
    "Description": ("description", "text"),
    "CIK": ("cik", "text"),
    "Exchange": ("exchange", "text"),
    "Currency": ("currency", "text"),
    "Country": ("country", "text"),
    "Sector": ("sector", "text"),
    "Industry": ("industry", "text"),
    "Address": ("address", "text"),
    "OfficialSite": ("official_site", "text"),
    "FiscalYearEnd": ("fiscal_year_end", "text"),
    "LatestQuarter": ("latest_quarter", "text"),
    "MarketCapitalization": ("market_capitalization", "int"),
    "EBITDA": ("ebitda", "int"),
    "PERatio": ("pe_ratio", "num"),
    "PEGRatio": ("peg_ratio", "num"),
    "BookValue": ("book_value", "num"),
    "DividendPerShare": ("dividend_per_share", "num"),
    "DividendYield": ("dividend_yield", "num"),
    "EPS": ("eps", "num"),
    "RevenuePerShareTTM": ("revenue_per_share_ttm", "num"),
    "ProfitMargin": ("profit_margin", "num"),
    "OperatingMarginTTM": ("operating_margin_ttm", "num"),
    "ReturnOnAssetsTTM": ("return_on_assets_ttm", "num"),
    "ReturnOnEquityTTM": ("return_on_equity_ttm", "num"),
    "RevenueTTM": ("revenue_ttm", "int"),
    "GrossProfitTTM": ("gross_profit_ttm", "int"),
    "DilutedEPSTTM": ("diluted_eps_ttm", "num"),
    "QuarterlyEarningsGrowthYOY": ("quarterly_earnings_growth_yoy", "num"),
    "QuarterlyRevenueGrowthYOY": ("quarterly_revenue_growth_yoy", "num"),
    "AnalystTargetPrice": ("analyst_target_price", "num"),
    "TrailingPE": ("trailing_pe", "num"),
    "ForwardPE": ("forward_pe", "num"),
    "PriceToSalesRatioTTM": ("price_to_sales_ratio_ttm", "num"),
    "PriceToBookRatio": ("price_to_book_ratio", "num"),
    "EVToRevenue": ("ev_to_revenue", "num"),
    "EVToEBITDA": ("ev_to_ebitda", "num"),
    "Beta": ("beta", "num"),
    "52WeekHigh": ("week_52_high", "num"),
    "52WeekLow": ("week_52_low", "num"),
    "50DayMovingAverage": ("day_50_moving_average", "num"),
    "200DayMovingAverage": ("day_200_moving_average", "num"),
    "SharesOutstanding": ("shares_outstanding", "int"),
    "DividendDate": ("dividend_date", "text"),
    "ExDividendDate": ("ex_dividend_date", "text"),
}

_CONVERT = {"text": clean_text, "int": to_int, "num": to_decimal}


def parse_overview(body: Any) -> dict[str, Any]:
    """OVERVIEW → one ``company_overview`` row (without batch_id). Requires Symbol and Name."""
    if not isinstance(body, dict):
        raise MalformedResponse(NAME, f"OVERVIEW: expected an object, got {type(body).__name__}")
    row = {column: _CONVERT[kind](body.get(key)) for key, (column, kind) in OVERVIEW_FIELDS.items()}
    if not row["symbol"] or not row["name"]:
        raise MalformedResponse(NAME, "OVERVIEW: Symbol or Name missing")
    return row


#: BALANCE_SHEET report keys, in AV order (the table stores them lower-cased).
BALANCE_SHEET_FIELDS: tuple[str, ...] = (
    "totalAssets", "totalCurrentAssets", "cashAndCashEquivalentsAtCarryingValue",
    "cashAndShortTermInvestments", "inventory", "currentNetReceivables", "totalNonCurrentAssets",
    "propertyPlantEquipment", "accumulatedDepreciationAmortizationPPE", "intangibleAssets",
    "intangibleAssetsExcludingGoodwill", "goodwill", "investments", "longTermInvestments",
    "shortTermInvestments", "otherCurrentAssets", "otherNonCurrentAssets", "totalLiabilities",
    "totalCurrentLiabilities", "currentAccountsPayable", "deferredRevenue", "currentDebt",
    "shortTermDebt", "totalNonCurrentLiabilities", "capitalLeaseObligations", "longTermDebt",
    "currentLongTermDebt", "longTermDebtNoncurrent", "shortLongTermDebtTotal",
    "otherCurrentLiabilities", "otherNonCurrentLiabilities", "totalShareholderEquity",
    "treasuryStock", "retainedEarnings", "commonStock", "commonStockSharesOutstanding",
)  # fmt: skip


def parse_balance_sheet(body: Any, symbol: str) -> list[dict[str, Any]]:
    """BALANCE_SHEET → ``balance_sheet`` rows, one per quarterly report with a valid date."""
    if not isinstance(body, dict) or not isinstance(body.get("quarterlyReports", []), list):
        raise MalformedResponse(NAME, "BALANCE_SHEET: expected an object with quarterlyReports")
    reports = body.get("quarterlyReports")
    if reports is None:
        raise MalformedResponse(NAME, "BALANCE_SHEET: quarterlyReports missing")
    rows = []
    for report in reports:
        ending = to_date(report.get("fiscalDateEnding")) if isinstance(report, dict) else None
        if ending is None:
            drop("balance sheet report without a valid fiscalDateEnding")
            continue
        row: dict[str, Any] = {
            "symbol": clean_text(body.get("symbol")) or symbol,
            "fiscaldateending": ending,
            "reportedcurrency": clean_text(report.get("reportedCurrency")),
        }
        row.update({field.lower(): to_decimal(report.get(field)) for field in BALANCE_SHEET_FIELDS})
        rows.append(row)
    return rows


def _csv_rows(text: str, required: tuple[str, ...], what: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [name for name in required if name not in header]
    if missing:
        raise MalformedResponse(NAME, f"{what}: CSV header lacks {', '.join(missing)}")
    return [{(k or "").strip(): (v or "") for k, v in row.items()} for row in reader]


def parse_earnings_calendar_csv(text: str) -> list[dict[str, Any]]:
    """EARNINGS_CALENDAR CSV → ``earnings_calendar`` rows, by header name (6 or 7 columns)."""
    events = (
        earnings_event(
            {
                "symbol": raw.get("symbol"),
                "name": raw.get("name"),
                "report_date": raw.get("reportDate"),
                "fiscal_date_ending": raw.get("fiscalDateEnding"),
                "estimate": raw.get("estimate"),
                "currency": raw.get("currency"),
                "timing": raw.get("timeOfTheDay"),
            }
        )
        for raw in _csv_rows(text, ("symbol", "name", "reportDate"), "EARNINGS_CALENDAR")
    )
    return [event for event in events if event is not None]


def parse_ipo_calendar_csv(text: str) -> list[dict[str, Any]]:
    """IPO_CALENDAR CSV → ``ipo_calendar`` rows (SPAC price ranges ``0,0`` kept as 0)."""
    rows = []
    for raw in _csv_rows(text, ("symbol", "name", "ipoDate"), "IPO_CALENDAR"):
        symbol, ipo_date = clean_text(raw.get("symbol")), to_date(raw.get("ipoDate"))
        if not symbol or ipo_date is None:
            drop("IPO without symbol or valid ipoDate")
            continue
        rows.append(
            {
                "symbol": symbol,
                "company_name": clean_text(raw.get("name")),
                "ipo_date": ipo_date,
                "price_range_low": to_decimal(raw.get("priceRangeLow")),
                "price_range_high": to_decimal(raw.get("priceRangeHigh")),
                "currency": clean_text(raw.get("currency")) or "USD",
                "exchange": clean_text(raw.get("exchange")),
            }
        )
    return rows


_EASTERN = ZoneInfo("America/New_York")
TOP_GAINERS_CATEGORIES = ("top_gainers", "top_losers", "most_actively_traded")


def parse_last_updated(value: Any) -> datetime | None:
    """``"2025-11-06 16:16:00 US/Eastern"`` → an aware datetime (US/Eastern wall clock)."""
    text = clean_text(value)
    if not text:
        return None
    stamp = " ".join(text.split()[:2])
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(stamp, fmt).replace(tzinfo=_EASTERN)
        except ValueError:
            continue
    return None


def parse_top_gainers(body: Any) -> list[dict[str, Any]]:
    """TOP_GAINERS_LOSERS → ``top_gainers`` rows (without batch_id); change % as a number
    (``change_percentage_value``; the table derives AV's "12.3%" string from it)."""
    if not isinstance(body, dict) or not any(isinstance(body.get(c), list) for c in TOP_GAINERS_CATEGORIES):
        raise MalformedResponse(NAME, "TOP_GAINERS_LOSERS: no gainers/losers lists")
    last_updated = parse_last_updated(body.get("last_updated"))
    rows = []
    for category in TOP_GAINERS_CATEGORIES:
        for rank, entry in enumerate(body.get(category) or [], start=1):
            symbol = clean_text(entry.get("ticker")) if isinstance(entry, dict) else None
            if not symbol:
                drop(f"{category} entry without a ticker")
                continue
            rows.append(
                {
                    "last_updated": last_updated,
                    "symbol": symbol,
                    "category": category,
                    "rank_position": rank,
                    "price": to_decimal(entry.get("price")),
                    "change_amount": to_decimal(entry.get("change_amount")),
                    "change_percentage_value": to_decimal(entry.get("change_percentage")),
                    "volume": to_int(entry.get("volume")),
                }
            )
    return rows


def parse_economic_series(body: Any) -> tuple[dict[str, str | None], list[tuple[Any, Decimal | None]]]:
    """CPI / INFLATION / FEDERAL_FUNDS_RATE / TREASURY_YIELD → (envelope, [(date, value)]).

    The FRED missing marker ``"."`` becomes None; points without a valid date are dropped.
    """
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise MalformedResponse(NAME, "economic series: expected an object with a data list")
    envelope = {key: clean_text(body.get(key)) for key in ("name", "interval", "unit")}
    points = []
    for point in body["data"]:
        when = to_date(point.get("date")) if isinstance(point, dict) else None
        if when is None:
            drop("data point without a valid date")
            continue
        points.append((when, to_decimal(point.get("value"))))
    return envelope, points
