"""Alpha Vantage INCOME_STATEMENT, CASH_FLOW and EARNINGS parsers (spec/provider-apis.md §1.3).

Pure functions from a reply body to rows of the seed's yfinance-era tables (``income_stmt``,
``cash_flow``, ``earnings_history``, seed-system.md §1a). Requests are built with
:func:`marketpipe.providers.alpha_vantage.request`; classification (quota, ``{}`` for an unknown
symbol) is :func:`marketpipe.providers.alpha_vantage.classify`.

Mapping choices:

- ``income_stmt.basic_eps`` / ``diluted_eps`` are not in AV's income statement. EARNINGS' ``reportedEPS``
  is AV's *reported* (often adjusted) EPS, neither basic nor diluted GAAP EPS, and would cost a second
  call per symbol — so both columns are left NULL (and never overwritten by these rows).
- ``cash_flow.capital_expenditures`` keeps AV's sign (a positive outflow), and ``free_cash_flow`` is
  ``operatingCashflow − capitalExpenditures`` (NULL when either is missing).
- ``earnings_history`` price columns (``price_before_close`` … ``move_pct``) need daily prices that the
  free tier does not serve (no daily series in spec §1.2): they are not part of these rows.
"""

from __future__ import annotations

from typing import Any

from marketpipe.http.errors import MalformedResponse
from marketpipe.providers.alpha_vantage import NAME
from marketpipe.providers.base import clean_text, drop, to_date, to_decimal

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
