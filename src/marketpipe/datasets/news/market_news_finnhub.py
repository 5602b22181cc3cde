"""Finnhub market news for the four categories, each with its own ``minId`` cursor.

One item per category. The cursor (``min_id`` in the item state, seeded from ``MAX(news_id)`` of the
table the first time) is passed as ``minId``, so every run asks only for items newer than the last
stored one; it advances in the same transaction as the rows. A category that fails stays due with its
old cursor, so nothing is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from marketpipe.engine.registry import DatasetSpec, Item, Parsed, Pipe, Request, RunContext
from marketpipe.providers.finnhub import news as finnhub_news


def categories(ctx: RunContext) -> Sequence[str]:
    return finnhub_news.MARKET_CATEGORIES


def _cursor(ctx: RunContext, category: str) -> int:
    state = ctx.item_state(category)
    if state is not None and state.state.get("min_id"):
        return int(state.state["min_id"])
    rows = ctx.query("SELECT max(news_id) FROM market_news_finnhub WHERE category = %s", (category,))
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def request(ctx: RunContext, category: str) -> Request:
    min_id = _cursor(ctx, category)
    return Request(finnhub_news.market_news_request(category, min_id), context={"min_id": min_id})


def parse(body: Any, item: Item) -> Parsed:
    min_id = item.context["min_id"]
    rows = [
        row
        for row in finnhub_news.parse_market_news(body, item.name)
        if row["news_id"] > min_id  # defensive: the cursor must never move backwards
    ]
    newest = max((row["news_id"] for row in rows), default=min_id)
    return Parsed(rows=rows, state={"min_id": newest})


DATASET = DatasetSpec(
    name="market_news_finnhub",
    table="market_news_finnhub",
    group="news",
    schedule="30 * * * *",
    providers=("finnhub",),
    description="Finnhub market news (general, forex, crypto, merger), only items newer than the cursor",
    key=("category", "news_id"),
    pipeline={"finnhub": Pipe(request, parse)},
    items=categories,
    touch="fetched_at",
)
