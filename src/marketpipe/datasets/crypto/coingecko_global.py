"""CoinGecko ``/global``: one row per collection instant (every 6 hours, keyed by the period's start),
so a rerun of the same interval updates that row instead of appending (the seed appended).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from marketpipe.datasets.crypto._instant import collection_instant
from marketpipe.engine.registry import DatasetSpec, Item, Pipe, Row, RunContext
from marketpipe.http.types import ApiRequest
from marketpipe.providers.coingecko import markets as coingecko_markets

PERIOD = timedelta(hours=6)


def request(ctx: RunContext, item: str) -> ApiRequest:
    return coingecko_markets.global_request()


def parse(body: Any, item: Item) -> list[Row]:
    row = coingecko_markets.parse_global(body)
    return [{**row, "collected_at": collection_instant(item, PERIOD)}]


DATASET = DatasetSpec(
    name="coingecko_global",
    table="coingecko_global",
    group="crypto",
    schedule="0 */6 * * *",
    providers=("coingecko",),
    description="Crypto market totals and dominance from CoinGecko, one row per 6-hour instant",
    key=("collected_at",),
    pipeline={"coingecko": Pipe(request, parse)},
    touch="updated_at",
    slot=PERIOD,
)
