"""CoinGecko ``/derivatives``: one snapshot per collection instant (``batch_id`` = ``YYYYMMDD_HHMMSS``
of the run's logical instant), so a rerun of the same interval updates its batch instead of appending
duplicates (the seed appended with only a serial id). ``expired_at`` is a timestamp (the seed passed
an int and the row failed).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from marketpipe.datasets.crypto._instant import collection_instant
from marketpipe.engine.registry import DatasetSpec, Item, Pipe, Row, RunContext
from marketpipe.http.types import ApiRequest
from marketpipe.providers.coingecko import markets as coingecko_markets


def request(ctx: RunContext, item: str) -> ApiRequest:
    return coingecko_markets.derivatives_request()


def parse(body: Any, item: Item) -> list[Row]:
    instant = collection_instant(item, timedelta(days=1))
    batch_id = instant.strftime("%Y%m%d_%H%M%S")
    rows = coingecko_markets.parse_derivatives(body)
    return [{**row, "batch_id": batch_id, "collected_at": instant} for row in rows]


DATASET = DatasetSpec(
    name="coingecko_derivatives",
    table="coingecko_derivatives",
    group="crypto",
    schedule="@daily",
    providers=("coingecko",),
    description="CoinGecko derivatives tickers (perpetuals, futures), one batch per logical day",
    key=("batch_id", "market", "symbol"),
    pipeline={"coingecko": Pipe(request, parse)},
    touch="updated_at",
)
