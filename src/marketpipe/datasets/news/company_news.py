"""Finnhub company news per S&P 500 symbol: a progressive sweep with one cursor per symbol.

Each symbol is one item; its window is the 7 days up to the run's logical date. A symbol is due again
after ``refresh_after`` (two sweeps a day); a failed symbol stays due and comes first next time, so a
run stopped by the per-minute budget resumes exactly where it stopped (the seed advanced one shared
offset by "symbols with new articles", skipping the rest). Finnhub's 60 calls/minute are paced by the
quota ledger, not by sleeps.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from marketpipe.datasets.universe import sp500_symbols
from marketpipe.engine.registry import DatasetSpec, Item, Parsed, Pipe, Request, Row, RunContext
from marketpipe.providers.finnhub import news as finnhub_news

WINDOW_DAYS = 7


def request(ctx: RunContext, symbol: str) -> Request:
    last = ctx.logical_date
    first = last - timedelta(days=WINDOW_DAYS)
    return Request(
        finnhub_news.company_news_request(symbol, first, last), context={"from": first, "to": last}
    )


def parse(body: Any, item: Item) -> Parsed:
    rows: list[Row] = [
        {
            "symbol": item.name,
            "source": news["source"],
            "url": news["url"],
            "title": news["headline"],
            "description": news["summary"],
            # The backend shows `content` when `description` is empty; Finnhub has only a summary.
            "content": news["summary"],
            "published_at": news["published_at"],
        }
        for news in finnhub_news.parse_company_news(body)
    ]
    window = {"from": item.context["from"].isoformat(), "to": item.context["to"].isoformat()}
    return Parsed(rows=rows, state={**window, "articles": len(rows)})


DATASET = DatasetSpec(
    name="company_news",
    table="company_news",
    group="news",
    schedule="0 3,15 * * *",
    providers=("finnhub",),
    description="Finnhub company news of the last 7 days per S&P 500 symbol, swept twice a day",
    key=("symbol", "url"),
    pipeline={"finnhub": Pipe(request, parse)},
    items=sp500_symbols,
    touch="fetched_at",
    refresh_after=timedelta(hours=11),
    depends_on=("sp500_companies",),
    progressive=True,
)
