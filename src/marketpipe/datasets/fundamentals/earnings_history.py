"""Alpha Vantage EARNINGS quarterly earnings: report date, EPS estimate and actual, surprise %.

The seed took these from yfinance plus daily prices around each report (``price_before_close``,
``price_open``, ``price_close``, ``gap_pct``, ``move_pct``). The free Alpha Vantage tier serves no
daily price series cheaply (docs/providers.md §1.2 lists none), so those columns are not written by this dataset
(left NULL, and never overwritten with NULL should another source fill them). Same sweep and budget
rules as :mod:`marketpipe.datasets.fundamentals.income_stmt`.
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
    return alpha_vantage.request("EARNINGS", label=f"AV EARNINGS {symbol}", symbol=symbol)


def parse(body: Any, item: Item) -> list[Row]:
    return alpha_vantage_fundamentals.parse_earnings(body, item.name)


DATASET = DatasetSpec(
    name="earnings_history",
    table="earnings_history",
    group="fundamentals",
    schedule="@weekly",
    providers=("alpha_vantage",),
    description="Quarterly EPS estimate, actual and surprise % per S&P 500 symbol and report date",
    key=("symbol", "report_date"),
    pipeline={"alpha_vantage": Pipe(request, parse)},
    items=sp500_symbols,
    touch="updated_at",
    refresh_after=STATEMENT_REFRESH,
    depends_on=("sp500_companies",),
    progressive=True,
    max_items_per_run=STATEMENTS_PER_RUN,
)
