"""Alpha Vantage BALANCE_SHEET quarterly reports, progressive over the S&P 500 universe.

Quarterly statements change four times a year, so a symbol is due again after ``refresh_after``.
A quota reply stops the run without touching the cursor of the symbol in hand (the seed advanced its
offset anyway and skipped 20 companies for a whole cycle).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from marketpipe.datasets.universe import sp500_symbols
from marketpipe.engine.registry import DatasetSpec, Item, Pipe, Row, RunContext
from marketpipe.http.types import ApiRequest
from marketpipe.providers import alpha_vantage
from marketpipe.providers.alpha_vantage import fundamentals as alpha_vantage_fundamentals


def request(ctx: RunContext, symbol: str) -> ApiRequest:
    return alpha_vantage.request("BALANCE_SHEET", label=f"AV BALANCE_SHEET {symbol}", symbol=symbol)


def parse(body: Any, item: Item) -> list[Row]:
    return alpha_vantage_fundamentals.parse_balance_sheet(body, item.name)


DATASET = DatasetSpec(
    name="balance_sheet",
    table="balance_sheet",
    group="fundamentals",
    schedule="@weekly",
    providers=("alpha_vantage",),
    description="Quarterly balance sheets per S&P 500 symbol",
    key=("symbol", "fiscaldateending"),
    pipeline={"alpha_vantage": Pipe(request, parse)},
    items=sp500_symbols,
    touch="fetched_at",
    refresh_after=timedelta(days=80),
    depends_on=("sp500_companies",),
    progressive=True,
    max_items_per_run=20,
)
