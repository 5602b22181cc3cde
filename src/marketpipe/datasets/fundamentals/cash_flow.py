"""Alpha Vantage CASH_FLOW quarterly reports, progressive over the S&P 500 universe.

The seed filled ``cash_flow`` from yfinance; here ``investing_cashflow`` = ``cashflowFromInvestment``,
``financing_cashflow`` = ``cashflowFromFinancing`` and ``free_cash_flow`` = operating cash flow −
capital expenditures (AV reports capex as a positive outflow; the column keeps AV's sign).
Same sweep and budget rules as :mod:`marketpipe.datasets.fundamentals.income_stmt`.
"""

from __future__ import annotations

from typing import Any

from marketpipe.datasets.fundamentals.income_stmt import STATEMENT_REFRESH, STATEMENTS_PER_RUN
from marketpipe.datasets.universe import sp500_symbols
from marketpipe.engine.registry import DatasetSpec, Item, Pipe, Row, RunContext
from marketpipe.http.types import ApiRequest
from marketpipe.providers import alpha_vantage
from marketpipe.providers.alpha_vantage import fundamentals as alpha_vantage_fundamentals


def request(ctx: RunContext, symbol: str) -> ApiRequest:
    return alpha_vantage.request("CASH_FLOW", label=f"AV CASH_FLOW {symbol}", symbol=symbol)


def parse(body: Any, item: Item) -> list[Row]:
    return alpha_vantage_fundamentals.parse_cash_flow(body, item.name)


DATASET = DatasetSpec(
    name="cash_flow",
    table="cash_flow",
    group="fundamentals",
    schedule="@weekly",
    providers=("alpha_vantage",),
    description="Quarterly cash flow statements per S&P 500 symbol, free cash flow computed",
    key=("symbol", "fiscal_date_ending"),
    pipeline={"alpha_vantage": Pipe(request, parse)},
    items=sp500_symbols,
    touch="updated_at",
    refresh_after=STATEMENT_REFRESH,
    depends_on=("sp500_companies",),
    progressive=True,
    max_items_per_run=STATEMENTS_PER_RUN,
)
