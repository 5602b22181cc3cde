"""Alpha Vantage ETF_PROFILE over ``etf_basic_info``: net assets, expense ratio, sector weights and
holdings per ETF, refreshing the stalest first.

Items are every ETF of ``etf_basic_info`` (by popularity rank, then symbol). An ETF is due when never
fetched, when its last attempt failed, or after 30 days; the engine orders failed, never fetched, then
stalest — so the seed's "first 52 symbols, never refreshed" becomes a rolling refresh of all of them.
At most 10 a run: the key's 25 daily calls are shared with other Alpha Vantage datasets.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from marketpipe.engine.registry import DatasetSpec, Row, RunContext
from marketpipe.providers import alpha_vantage, alpha_vantage_parse


def etf_symbols(ctx: RunContext) -> Sequence[str]:
    rows = ctx.query("SELECT symbol FROM etf_basic_info ORDER BY popularity_rank NULLS LAST, symbol")
    symbols = [row[0] for row in rows]
    limit = ctx.universe_limit
    return symbols[:limit] if limit else symbols


def fetch(ctx: RunContext, symbol: str) -> list[Row]:
    reply = ctx.call(alpha_vantage.request("ETF_PROFILE", label=f"AV ETF_PROFILE {symbol}", symbol=symbol))
    return [alpha_vantage_parse.parse_etf_profile(reply.json(), symbol)]


DATASET = DatasetSpec(
    name="etf_profile_holdings",
    table="etf_profile_holdings",
    group="fundamentals",
    schedule="0 8 * * *",
    providers=("alpha_vantage",),
    description="ETF profile, sector weights and holdings per ETF of etf_basic_info, stalest first",
    key=("symbol",),
    fetch={"alpha_vantage": fetch},
    items=etf_symbols,
    touch="updated_at",
    refresh_after=timedelta(days=30),
    progressive=True,
    max_items_per_run=10,
)
