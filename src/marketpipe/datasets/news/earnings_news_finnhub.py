"""Finnhub company news in the 14 days before each upcoming earnings report.

Items are ``SYMBOL:report_date`` for every ``earnings_calendar`` row reported within
[logical date, logical date + 14 days]. Each is fetched once a day while it is in range (news keep
arriving as the report approaches; the seed skipped a symbol for 7 days after one fetch). An item
whose call fails stays due. Finnhub returns nothing from the future, so the window simply ends at
the report date.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from marketpipe.engine.registry import DatasetSpec, Item, Parsed, Pipe, Row, RunContext
from marketpipe.http.types import ApiRequest
from marketpipe.providers.finnhub import news as finnhub_news

LOOKAHEAD_DAYS = 14
LOOKBACK_DAYS = 14


def upcoming_reports(ctx: RunContext) -> Sequence[str]:
    """``SYMBOL:YYYY-MM-DD`` for reports in [logical date, +14 days], soonest first."""
    start = ctx.logical_date
    rows = ctx.query(
        """SELECT symbol, report_date FROM earnings_calendar
            WHERE report_date BETWEEN %s AND %s ORDER BY report_date, symbol""",
        (start, start + timedelta(days=LOOKAHEAD_DAYS)),
    )
    items = [f"{symbol}:{report_date.isoformat()}" for symbol, report_date in rows]
    limit = ctx.universe_limit
    return items[:limit] if limit else items


def request(ctx: RunContext, item: str) -> ApiRequest:
    symbol, _, day = item.partition(":")
    report_date = date.fromisoformat(day)
    return finnhub_news.company_news_request(symbol, report_date - timedelta(days=LOOKBACK_DAYS), report_date)


def parse(body: Any, item: Item) -> Parsed:
    symbol, _, day = item.name.partition(":")
    report_date = date.fromisoformat(day)
    rows: list[Row] = [
        {
            "symbol": symbol,
            "report_date": report_date,
            "category": news["category"],
            "article_id": str(news["id"]) if news["id"] is not None else None,
            "headline": news["headline"],
            "image": news["image"],
            "related": news["related"],
            "source": news["source"],
            "summary": news["summary"],
            "url": news["url"],
            "published_at": news["published_at"],
        }
        for news in finnhub_news.parse_company_news(body)
        if news["published_at"] is not None
    ]
    return Parsed(rows=rows, state={"articles": len(rows)})


DATASET = DatasetSpec(
    name="earnings_news_finnhub",
    table="earnings_news_finnhub",
    group="news",
    schedule="0 3 * * *",
    providers=("finnhub",),
    description="Finnhub company news of the 14 days before each earnings report due in the next 14 days",
    key=("symbol", "report_date", "url"),
    pipeline={"finnhub": Pipe(request, parse)},
    items=upcoming_reports,
    touch="fetched_at",
    refresh_after=timedelta(hours=20),
    depends_on=("earnings_calendar",),
)
