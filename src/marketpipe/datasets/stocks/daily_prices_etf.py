"""Daily OHLCV bars of the ETF universe (``etf_basic_info``) in ``daily_prices``; same providers,
backfill and resume rules as :mod:`.daily_prices` (:mod:`._daily_history`).
"""

from __future__ import annotations

from collections.abc import Sequence

from marketpipe.datasets.stocks import _daily_history as history
from marketpipe.engine.registry import DatasetSpec, RunContext
from marketpipe.http.errors import ConfigurationError


def etf_symbols(ctx: RunContext) -> list[str]:
    symbols = [row[0] for row in ctx.query("SELECT symbol FROM etf_basic_info ORDER BY symbol")]
    if not symbols:
        raise ConfigurationError("the ETF universe is empty: collect etf_basic_info first")
    limit = ctx.universe_limit
    return symbols[:limit] if limit else symbols


def items(ctx: RunContext) -> Sequence[str]:
    return history.stale_items(ctx, etf_symbols(ctx))


DATASET = DatasetSpec(
    name="daily_prices_etf",
    table="daily_prices",
    group="stocks",
    schedule="10 23 * * *",
    providers=("fmp", "alpha_vantage"),
    description="Daily OHLCV per ETF and NYSE session (5-year backfill, then new bars)",
    key=("symbol", "date"),
    fetch=history.FETCH,
    items=items,
    touch="collected_at",
    depends_on=("etf_basic_info",),
    progressive=True,
    max_items_per_run=40,
)
