"""Alpha Vantage CASH_FLOW quarterly reports, progressive over the S&P 500 universe.

The seed filled ``cash_flow`` from yfinance; here ``investing_cashflow`` = ``cashflowFromInvestment``,
``financing_cashflow`` = ``cashflowFromFinancing`` and ``free_cash_flow`` = operating cash flow −
capital expenditures (AV reports capex as a positive outflow; the column keeps AV's sign).
Same sweep and budget rules as :mod:`marketpipe.datasets.fundamentals.income_stmt`.
"""

from __future__ import annotations

from marketpipe.datasets.fundamentals.income_stmt import STATEMENT_REFRESH, STATEMENTS_PER_RUN
from marketpipe.datasets.universe import sp500_symbols
from marketpipe.engine.registry import DatasetSpec, Row, RunContext
from marketpipe.providers import alpha_vantage, alpha_vantage_statements


def fetch(ctx: RunContext, symbol: str) -> list[Row]:
    reply = ctx.call(alpha_vantage.request("CASH_FLOW", label=f"AV CASH_FLOW {symbol}", symbol=symbol))
    return alpha_vantage_statements.parse_cash_flow(reply.json(), symbol)


DATASET = DatasetSpec(
    name="cash_flow",
    table="cash_flow",
    group="fundamentals",
    schedule="@weekly",
    providers=("alpha_vantage",),
    description="Quarterly cash flow statements per S&P 500 symbol, free cash flow computed",
    key=("symbol", "fiscal_date_ending"),
    fetch={"alpha_vantage": fetch},
    items=sp500_symbols,
    touch="updated_at",
    refresh_after=STATEMENT_REFRESH,
    depends_on=("sp500_companies",),
    progressive=True,
    max_items_per_run=STATEMENTS_PER_RUN,
)
