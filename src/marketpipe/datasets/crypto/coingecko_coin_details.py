"""CoinGecko ``/coins/{id}`` details for the top 1000 coins by rank, at most 200 a day, each refreshed
after 30 days. Items are due when never fetched, failed, or older than 30 days; the engine serves
failed first, then never fetched, then the stalest, so the daily share always goes where it is due.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from marketpipe.engine.registry import DatasetSpec, Item, Pipe, Row, RunContext
from marketpipe.http.types import ApiRequest
from marketpipe.providers.coingecko import markets as coingecko_markets

TOP_RANKS = 1000
DAILY_COINS = 200


def top_coins(ctx: RunContext) -> Sequence[str]:
    rows = ctx.query(
        """SELECT coingecko_id FROM coingecko_id_mapping
            WHERE market_cap_rank <= %s ORDER BY market_cap_rank, coingecko_id""",
        (TOP_RANKS,),
    )
    coins = [row[0] for row in rows]
    limit = ctx.universe_limit
    return coins[:limit] if limit else coins


def request(ctx: RunContext, coin_id: str) -> ApiRequest:
    return coingecko_markets.coin_request(coin_id)


def parse(body: Any, item: Item) -> list[Row]:
    return [coingecko_markets.parse_coin(body)]


DATASET = DatasetSpec(
    name="coingecko_coin_details",
    table="coingecko_coin_details",
    group="crypto",
    schedule="@daily",
    providers=("coingecko",),
    description="CoinGecko coin profiles, links, community/developer data for the top 1000, 30-day refresh",
    key=("coingecko_id",),
    pipeline={"coingecko": Pipe(request, parse)},
    items=top_coins,
    touch="updated_at",
    refresh_after=timedelta(days=30),
    depends_on=("coingecko_id_mapping",),
    progressive=True,
    max_items_per_run=DAILY_COINS,
)
