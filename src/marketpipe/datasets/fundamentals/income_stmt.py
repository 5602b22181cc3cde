"""Alpha Vantage INCOME_STATEMENT quarterly reports, progressive over the S&P 500 universe.

The seed filled ``income_stmt`` from yfinance; the columns are the same (AV field mapping and the
NULL ``basic_eps``/``diluted_eps`` in :mod:`marketpipe.providers.alpha_vantage.fundamentals`).
Statements change four times a year, so a symbol is due again after ``refresh_after``. The sweep
shares the Alpha Vantage key with the daily datasets: it sorts after them for the key's budget
(longer refresh interval) and takes at most ``max_items_per_run`` symbols a run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from marketpipe.datasets.universe import sp500_symbols
from marketpipe.engine.registry import DatasetSpec, Item, Pipe, Row, RunContext
from marketpipe.http.types import ApiRequest
from marketpipe.providers import alpha_vantage
from marketpipe.providers.alpha_vantage import fundamentals as alpha_vantage_fundamentals

#: Quarterly data: a quarter, so the sweep sorts after balance_sheet (80 days) for the shared budget.
STATEMENT_REFRESH = timedelta(days=90)
#: Symbols per weekly run (docs/collecting.md "Alpha Vantage daily budget").
STATEMENTS_PER_RUN = 10


def request(ctx: RunContext, symbol: str) -> ApiRequest:
    return alpha_vantage.request("INCOME_STATEMENT", label=f"AV INCOME_STATEMENT {symbol}", symbol=symbol)


def parse(body: Any, item: Item) -> list[Row]:
    return alpha_vantage_fundamentals.parse_income_statement(body, item.name)


DATASET = DatasetSpec(
    name="income_stmt",
    table="income_stmt",
    group="fundamentals",
    schedule="@weekly",
    providers=("alpha_vantage",),
    description="Quarterly income statements per S&P 500 symbol (revenue, profit, EBITDA)",
    key=("symbol", "fiscal_date_ending"),
    pipeline={"alpha_vantage": Pipe(request, parse)},
    items=sp500_symbols,
    touch="updated_at",
    refresh_after=STATEMENT_REFRESH,
    depends_on=("sp500_companies",),
    progressive=True,
    max_items_per_run=STATEMENTS_PER_RUN,
)
