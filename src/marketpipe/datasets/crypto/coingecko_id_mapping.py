"""CoinGecko ``/coins/markets`` by market cap, page after page until an empty (or short) page.

One item: every page is fetched within the run and all rows are merged together, so a stop by quota
leaves the item due and the table consistent (no half-refreshed ranks). 250 coins a page.
"""

from __future__ import annotations

from datetime import timedelta

from marketpipe.engine.registry import DatasetSpec, Row, RunContext
from marketpipe.providers.coingecko import markets as coingecko_markets

#: A guard against a provider that never returns an empty page (CoinGecko lists ~17k coins).
MAX_PAGES = 80


def fetch(ctx: RunContext, item: str) -> list[Row]:
    rows: list[Row] = []
    for page in range(1, MAX_PAGES + 1):
        body = ctx.call(coingecko_markets.markets_request(page)).json()
        page_rows = coingecko_markets.parse_markets(body)
        rows.extend(page_rows)
        if len(body) < coingecko_markets.MARKETS_PER_PAGE:
            break
    return rows


DATASET = DatasetSpec(
    name="coingecko_id_mapping",
    table="coingecko_id_mapping",
    group="crypto",
    schedule="@daily",
    providers=("coingecko",),
    description="CoinGecko coins by market cap (id, symbol, rank, price, supply), every page",
    key=("coingecko_id",),
    fetch={"coingecko": fetch},
    touch="updated_at",
    refresh_after=timedelta(hours=20),
)
