"""Alpha Vantage NEWS_SENTIMENT with the weekday query plans (``plans/av_news_weekday.yaml``).

The plan is chosen by the weekday of the run's logical date (Monday's run executes Monday's plan —
the seed's ``execution_date`` lagged one day). One item per query label; each run that stores rows
takes one ``batch_id`` from the table's sequence (history by batch, as the backend reads it). Every
query asks for ``limit=1000`` (AV's maximum; the seed took the default 50), so each of the 25 daily
calls brings all it can. An article found by several of the day's queries is stored once per
batch, labelled with the first query that found it. ``ticker_sentiment``/``topics`` keep AV's element keys and values.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from marketpipe.engine.plans import news_weekday_plan
from marketpipe.engine.registry import DatasetSpec, Item, Pipe, Request, Row, RunContext
from marketpipe.http.errors import ConfigurationError
from marketpipe.providers import alpha_vantage
from marketpipe.providers.alpha_vantage import news as alpha_vantage_news

#: AV's maximum number of articles per query.
LIMIT = "1000"


def todays_queries(ctx: RunContext) -> Sequence[str]:
    return [query.label for query in news_weekday_plan().queries_for(ctx.logical_date)]


def request(ctx: RunContext, label: str) -> Request:
    queries = {q.label: q for q in news_weekday_plan().queries_for(ctx.logical_date)}
    query = queries.get(label)
    if query is None:
        raise ConfigurationError(f"market_news_sentiment: {label!r} is not in today's plan")
    params = {**query.params, "limit": LIMIT}
    return Request(
        alpha_vantage.request("NEWS_SENTIMENT", label=f"AV NEWS_SENTIMENT {label}", **params),
        context={"query_params": query.param_string},
    )


def parse(body: Any, item: Item) -> list[Row]:
    return [
        {**row, "query_type": item.name, "query_params": item.context["query_params"]}
        for row in alpha_vantage_news.parse_news_sentiment(body)
    ]


DATASET = DatasetSpec(
    name="market_news_sentiment",
    table="market_news_sentiment",
    group="news",
    schedule="@daily",
    providers=("alpha_vantage",),
    description="Alpha Vantage news with sentiment per ticker/topic, 25 weekday-planned queries, one batch per run",
    key=("batch_id", "url"),
    pipeline={"alpha_vantage": Pipe(request, parse)},
    items=todays_queries,
    # An article found by several queries of one batch keeps the label of the first that found it.
    merge="nothing",
    refresh_after=timedelta(hours=20),
    batch_sequence="market_news_sentiment_batch_id_seq",
)
