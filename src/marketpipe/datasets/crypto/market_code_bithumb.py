"""Bithumb markets (``/v1/market/all?isDetails=true``): a full refresh in one transaction.

The reply is merged (insert new markets, update changed names/warnings) and markets Bithumb no longer
lists are deleted in the same transaction, so readers never see an empty or half-loaded table (the
seed DELETEd everything, then inserted row by row with autocommit).
"""

from __future__ import annotations

from typing import Any

import psycopg

from marketpipe.db import MergeResult
from marketpipe.engine.registry import DatasetSpec, Item, Pipe, Row, RunContext
from marketpipe.http.errors import MalformedResponse
from marketpipe.http.types import ApiRequest
from marketpipe.providers.bithumb import markets as bithumb_markets


def request(ctx: RunContext, item: str) -> ApiRequest:
    return bithumb_markets.markets_request()


def parse(body: Any, item: Item) -> list[Row]:
    rows = bithumb_markets.parse_markets(body)
    if not rows:
        # An empty listing would delist every market: treat it as a bad reply, not as the truth.
        raise MalformedResponse("bithumb", "market/all returned no markets")
    return rows


def drop_delisted(
    conn: psycopg.Connection, ctx: RunContext, item: str, rows: list[Row], merged: MergeResult
) -> None:
    """Markets not in this (complete) listing are gone from Bithumb."""
    conn.execute(
        "DELETE FROM market_code_bithumb WHERE NOT (market_code = ANY(%s))",
        ([row["market_code"] for row in rows],),
    )


DATASET = DatasetSpec(
    name="market_code_bithumb",
    table="market_code_bithumb",
    group="crypto",
    schedule="@daily",
    providers=("bithumb",),
    description="Every Bithumb market (KRW/BTC/USDT quotes) with names and warning flag, full refresh",
    key=("market_code",),
    pipeline={"bithumb": Pipe(request, parse)},
    touch="updated_at",
    after_merge=drop_delisted,
)
