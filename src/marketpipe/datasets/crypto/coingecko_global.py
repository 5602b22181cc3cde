"""CoinGecko ``/global``: one row per collection instant (every 6 hours, keyed by the period's start),
so a rerun of the same interval updates that row instead of appending (the seed appended).
"""

from __future__ import annotations

from datetime import timedelta

from marketpipe.datasets.crypto._instant import collection_instant
from marketpipe.engine.registry import DatasetSpec, Row, RunContext
from marketpipe.providers import coingecko_parse

PERIOD = timedelta(hours=6)


def fetch(ctx: RunContext, item: str) -> list[Row]:
    row = coingecko_parse.parse_global(ctx.call(coingecko_parse.global_request()).json())
    return [{**row, "collected_at": collection_instant(ctx, PERIOD)}]


DATASET = DatasetSpec(
    name="coingecko_global",
    table="coingecko_global",
    group="crypto",
    schedule="0 */6 * * *",
    providers=("coingecko",),
    description="Crypto market totals and dominance from CoinGecko, one row per 6-hour instant",
    key=("collected_at",),
    fetch={"coingecko": fetch},
    touch="updated_at",
    slot=PERIOD,
)
