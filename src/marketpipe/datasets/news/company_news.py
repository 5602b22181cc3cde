"""Finnhub company news per S&P 500 symbol: a progressive sweep with one cursor per symbol.

Each symbol is one item; its window is the 7 days up to the run's logical date. A symbol is due again
after ``refresh_after`` (two sweeps a day); a failed symbol stays due and comes first next time, so a
run stopped by the per-minute budget resumes exactly where it stopped (the seed advanced one shared
offset by "symbols with new articles", skipping the rest). Finnhub's 60 calls/minute are paced by the
quota ledger, not by sleeps.
"""

from __future__ import annotations

from datetime import timedelta

from marketpipe.datasets.news._common import json_or_none
from marketpipe.datasets.universe import sp500_symbols
from marketpipe.engine.registry import DatasetSpec, ItemResult, Row, RunContext
from marketpipe.providers import finnhub_parse

WINDOW_DAYS = 7


def fetch(ctx: RunContext, symbol: str) -> ItemResult:
    last = ctx.logical_date
    first = last - timedelta(days=WINDOW_DAYS)
    reply = ctx.call(finnhub_parse.company_news_request(symbol, first, last))
    rows: list[Row] = [
        {
            "symbol": symbol,
            "source": item["source"],
            "url": item["url"],
            "title": item["headline"],
            "description": item["summary"],
            # The backend shows `content` when `description` is empty; Finnhub has only a summary.
            "content": item["summary"],
            "published_at": item["published_at"],
        }
        for item in finnhub_parse.parse_company_news(json_or_none(reply))
    ]
    return ItemResult(rows, state={"from": first.isoformat(), "to": last.isoformat(), "articles": len(rows)})


DATASET = DatasetSpec(
    name="company_news",
    table="company_news",
    group="news",
    schedule="0 3,15 * * *",
    providers=("finnhub",),
    description="Finnhub company news of the last 7 days per S&P 500 symbol, swept twice a day",
    key=("symbol", "url"),
    fetch={"finnhub": fetch},
    items=sp500_symbols,
    touch="fetched_at",
    refresh_after=timedelta(hours=11),
    depends_on=("sp500_companies",),
    progressive=True,
)
