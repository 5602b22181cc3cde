"""Alpha Vantage company fundamentals (docs/providers.md §1): OVERVIEW, BALANCE_SHEET,
INCOME_STATEMENT, CASH_FLOW, EARNINGS and ETF_PROFILE, as pure functions from a reply body to rows.

Statements map to the seed's yfinance-era tables (``income_stmt``, ``cash_flow``,
``earnings_history``, docs/seed.md §1a). Requests are built with
:func:`marketpipe.providers.alpha_vantage.client.request`; classification (quota, ``{}`` for an unknown
symbol) is :func:`marketpipe.providers.alpha_vantage.client.classify`.

Statement mapping choices:

- ``income_stmt.basic_eps`` / ``diluted_eps`` are not in AV's income statement. EARNINGS' ``reportedEPS``
  is AV's *reported* (often adjusted) EPS, neither basic nor diluted GAAP EPS, and would cost a second
  call per symbol — so both columns are left NULL (and never overwritten by these rows).
- ``cash_flow.capital_expenditures`` keeps AV's sign (a positive outflow), and ``free_cash_flow`` is
  ``operatingCashflow − capitalExpenditures`` (NULL when either is missing).
- ``earnings_history`` price columns (``price_before_close`` … ``move_pct``) need daily prices that the
  free tier does not serve (no daily series in docs/providers.md §1.2): they are not part of these rows.
"""

from __future__ import annotations

from typing import Any

from marketpipe.http.errors import MalformedResponse
from marketpipe.providers.alpha_vantage.client import NAME
from marketpipe.providers.base import clean_text, drop, to_date, to_decimal, to_int

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


#: AV INCOME_STATEMENT report key → ``income_stmt`` column.
INCOME_FIELDS: dict[str, str] = {
    "totalRevenue": "total_revenue",
    "grossProfit": "gross_profit",
    "operatingIncome": "operating_income",
    "netIncome": "net_income",
    "ebitda": "ebitda",
}

#: AV CASH_FLOW report key → ``cash_flow`` column (free_cash_flow is computed).
CASH_FLOW_FIELDS: dict[str, str] = {
    "operatingCashflow": "operating_cashflow",
    "cashflowFromInvestment": "investing_cashflow",
    "cashflowFromFinancing": "financing_cashflow",
    "capitalExpenditures": "capital_expenditures",
}


def _reports(body: Any, function: str, list_key: str) -> list[dict[str, Any]]:
    """The list ``list_key`` of a statement-shaped reply (typed error when the shape is wrong)."""
    if not isinstance(body, dict):
        raise MalformedResponse(NAME, f"{function}: expected an object, got {type(body).__name__}")
    reports = body.get(list_key)
    if not isinstance(reports, list):
        raise MalformedResponse(NAME, f"{function}: {list_key} missing or not a list")
    return [report for report in reports if isinstance(report, dict)]


def _symbol(body: dict[str, Any], symbol: str) -> str:
    return clean_text(body.get("symbol")) or symbol


def parse_income_statement(body: Any, symbol: str) -> list[dict[str, Any]]:
    """INCOME_STATEMENT → ``income_stmt`` rows, one per quarterly report with a valid date."""
    rows = []
    for report in _reports(body, "INCOME_STATEMENT", "quarterlyReports"):
        ending = to_date(report.get("fiscalDateEnding"))
        if ending is None:
            drop("report without a valid fiscalDateEnding")
            continue
        row: dict[str, Any] = {"symbol": _symbol(body, symbol), "fiscal_date_ending": ending}
        row.update({column: to_decimal(report.get(key)) for key, column in INCOME_FIELDS.items()})
        rows.append(row)
    return rows


def parse_cash_flow(body: Any, symbol: str) -> list[dict[str, Any]]:
    """CASH_FLOW → ``cash_flow`` rows, one per quarterly report, with free cash flow computed."""
    rows = []
    for report in _reports(body, "CASH_FLOW", "quarterlyReports"):
        ending = to_date(report.get("fiscalDateEnding"))
        if ending is None:
            drop("report without a valid fiscalDateEnding")
            continue
        row: dict[str, Any] = {"symbol": _symbol(body, symbol), "fiscal_date_ending": ending}
        row.update({column: to_decimal(report.get(key)) for key, column in CASH_FLOW_FIELDS.items()})
        operating, capex = row["operating_cashflow"], row["capital_expenditures"]
        row["free_cash_flow"] = operating - capex if operating is not None and capex is not None else None
        rows.append(row)
    return rows


def parse_earnings(body: Any, symbol: str) -> list[dict[str, Any]]:
    """EARNINGS quarterlyEarnings → ``earnings_history`` rows keyed by ``reportedDate``.

    Rows without a valid ``reportedDate`` are dropped; ``"None"`` estimates/surprises become NULL.
    """
    rows = []
    for report in _reports(body, "EARNINGS", "quarterlyEarnings"):
        reported = to_date(report.get("reportedDate"))
        if reported is None:
            drop("earnings report without a valid reportedDate")
            continue
        rows.append(
            {
                "symbol": _symbol(body, symbol),
                "report_date": reported,
                "eps_estimate": to_decimal(report.get("estimatedEPS")),
                "eps_actual": to_decimal(report.get("reportedEPS")),
                "surprise_pct": to_decimal(report.get("surprisePercentage")),
            }
        )
    return rows


def _weights(elements: Any, name_key: str, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """ETF sector/holding weights as numbers (AV sends strings); other keys as text."""
    if not isinstance(elements, list):
        return []
    found: list[dict[str, Any]] = []
    for element in elements:
        if not isinstance(element, dict) or clean_text(element.get(name_key)) is None:
            drop(f"element without {name_key}")
            continue
        entry: dict[str, Any] = {k: clean_text(element.get(k)) for k in keys}
        weight = to_decimal(element.get("weight"))
        entry["weight"] = float(weight) if weight is not None else None
        found.append(entry)
    return found


def parse_etf_profile(body: Any, symbol: str) -> dict[str, Any]:
    """One ``etf_profile_holdings`` row from an ETF_PROFILE reply (every number is a string there)."""
    if not isinstance(body, dict) or not any(k in body for k in ("net_assets", "holdings", "sectors")):
        raise MalformedResponse(NAME, f"ETF_PROFILE reply for {symbol} has no profile fields")
    return {
        "symbol": symbol,
        "net_assets": to_int(body.get("net_assets")),
        "net_expense_ratio": to_decimal(body.get("net_expense_ratio")),
        "portfolio_turnover": to_decimal(body.get("portfolio_turnover")),
        "dividend_yield": to_decimal(body.get("dividend_yield")),
        "inception_date": to_date(body.get("inception_date")),
        "leveraged": clean_text(body.get("leveraged")),
        "sectors": _weights(body.get("sectors"), "sector", ("sector",)),
        "holdings": _weights(body.get("holdings"), "symbol", ("symbol", "description")),
    }
