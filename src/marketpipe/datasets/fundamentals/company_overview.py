"""Alpha Vantage OVERVIEW, progressive over the S&P 500 universe, with history by batch.

Each run takes one batch id (from the table's sequence) and stores the overview of the due symbols
under it; consumers read the latest batch per symbol. Symbols are due when never fetched, when their
last attempt failed, or after ``refresh_after``; failed ones come first, so nothing is skipped.
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
    return alpha_vantage.request("OVERVIEW", label=f"AV OVERVIEW {symbol}", symbol=symbol)


def parse(body: Any, item: Item) -> list[Row]:
    return [alpha_vantage_fundamentals.parse_overview(body)]


DATASET = DatasetSpec(
    name="company_overview",
    table="company_overview",
    group="fundamentals",
    schedule="0 6 * * *",
    providers=("alpha_vantage",),
    description="Company profile and valuation ratios per S&P 500 symbol, history by batch",
    key=("batch_id", "symbol"),
    pipeline={"alpha_vantage": Pipe(request, parse)},
    items=sp500_symbols,
    refresh_after=timedelta(days=30),
    batch_sequence="company_overview_batch_id_seq",
    depends_on=("sp500_companies",),
    progressive=True,
    max_items_per_run=20,
)
