"""Alpha Vantage ETF_PROFILE over ``etf_basic_info``: net assets, expense ratio, sector weights and
holdings per ETF, refreshing the stalest first.

Items are every ETF of ``etf_basic_info`` (by popularity rank, then symbol). An ETF is due when never
fetched, when its last attempt failed, or after 30 days; the engine orders failed, never fetched, then
stalest — so the seed's "first 52 symbols, never refreshed" becomes a rolling refresh of all of them.
At most 10 a run: the key's 25 daily calls are shared with other Alpha Vantage datasets.

Each collected profile also refreshes the ETF's facts in ``etf_basic_info`` (assets, expense ratio,
dividend yield, inception date, ``alphavantage_collected``) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import psycopg

from marketpipe.db import MergeResult
from marketpipe.engine.registry import DatasetSpec, Item, Pipe, Row, RunContext
from marketpipe.http.types import ApiRequest
from marketpipe.providers import alpha_vantage
from marketpipe.providers.alpha_vantage import fundamentals as alpha_vantage_fundamentals


def etf_symbols(ctx: RunContext) -> Sequence[str]:
    rows = ctx.query("SELECT symbol FROM etf_basic_info ORDER BY popularity_rank NULLS LAST, symbol")
    symbols = [row[0] for row in rows]
    limit = ctx.universe_limit
    return symbols[:limit] if limit else symbols


def request(ctx: RunContext, symbol: str) -> ApiRequest:
    return alpha_vantage.request("ETF_PROFILE", label=f"AV ETF_PROFILE {symbol}", symbol=symbol)


def parse(body: Any, item: Item) -> list[Row]:
    return [alpha_vantage_fundamentals.parse_etf_profile(body, item.name)]


def update_basic_info(
    conn: psycopg.Connection, ctx: RunContext, item: str, rows: list[Row], merged: MergeResult
) -> None:
    """Copy the profile's facts to the ETF's ``etf_basic_info`` row (a value the profile lacks stays)."""
    conn.execute(
        """UPDATE etf_basic_info b
              SET aum = COALESCE(p.net_assets, b.aum),
                  expense_ratio = COALESCE(p.net_expense_ratio, b.expense_ratio),
                  dividend_yield = COALESCE(p.dividend_yield, b.dividend_yield),
                  inception_date = COALESCE(p.inception_date, b.inception_date),
                  alphavantage_collected = true,
                  updated_at = now()
             FROM etf_profile_holdings p
            WHERE p.symbol = b.symbol AND b.symbol = %s""",
        (item,),
    )


DATASET = DatasetSpec(
    name="etf_profile_holdings",
    table="etf_profile_holdings",
    group="fundamentals",
    schedule="0 8 * * *",
    providers=("alpha_vantage",),
    description="ETF profile, sector weights and holdings per ETF of etf_basic_info, stalest first",
    key=("symbol",),
    pipeline={"alpha_vantage": Pipe(request, parse)},
    items=etf_symbols,
    touch="updated_at",
    refresh_after=timedelta(days=30),
    progressive=True,
    max_items_per_run=10,
    after_merge=update_basic_info,
    depends_on=("etf_basic_info",),
)
