"""Daily OHLCV bars of the S&P 500 constituents in ``daily_prices`` (FMP end-of-day, then Alpha
Vantage ``TIME_SERIES_DAILY``). Backfill, resume and quota sharing: :mod:`._daily_history`.
"""

from __future__ import annotations

from collections.abc import Sequence

from marketpipe.datasets.stocks import _daily_history as history
from marketpipe.datasets.universe import sp500_symbols
from marketpipe.engine.registry import DatasetSpec, RunContext


def items(ctx: RunContext) -> Sequence[str]:
    return history.stale_items(ctx, sp500_symbols(ctx))


DATASET = DatasetSpec(
    name="daily_prices",
    table="daily_prices",
    group="stocks",
    schedule="0 23 * * *",
    providers=("fmp", "alpha_vantage"),
    description="Daily OHLCV per S&P 500 symbol and NYSE session (5-year backfill over days, then new bars)",
    key=("symbol", "date"),
    fetch=history.FETCH,
    items=items,
    touch="collected_at",
    depends_on=("sp500_companies",),
    progressive=True,
    max_items_per_run=history.ITEMS_PER_RUN,
)
