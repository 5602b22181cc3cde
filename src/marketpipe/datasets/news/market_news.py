"""NewsAPI headlines and keyword searches for the run's data interval (plan: ``plans/newsapi.yaml``).

One item per planned query (``headlines:<category>``, ``everything:<keyword>``, ``sources``), so a
run stopped by the 50-per-12-hours budget resumes at the first unfinished query. The seed's invalid
``politics`` category is gone.

The Developer (free) plan serves ``/everything`` articles with a **24-hour delay**: a keyword query
for day D sent at 23:50 on D finds nothing of D. So ``/everything`` asks for the run's data interval
shifted back by the plan's delay (``delay_hours`` in the plan, default 24 = the free plan; set
``MARKETPIPE_NEWSAPI_DELAY_HOURS=0`` on a paid plan): daily runs tile time without gaps, each reading
the 24 hours that just became visible. ``/top-headlines`` is not delayed; its undated replies are
filtered to the run's own interval.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError

from marketpipe.engine.registry import DatasetSpec, Item, Parsed, Pipe, Request, RunContext
from marketpipe.http.errors import ConfigurationError
from marketpipe.providers.newsapi import news as newsapi_news


class HeadlinesPlan(BaseModel):
    categories: list[str]


class EverythingPlan(BaseModel):
    sort_by: str = "popularity"
    keywords: list[str]


class SourcesPlan(BaseModel):
    ids: list[str] = Field(max_length=20)


#: The environment variable that overrides the plan's ``delay_hours`` (a paid plan: 0).
DELAY_ENV = "MARKETPIPE_NEWSAPI_DELAY_HOURS"


class NewsApiPlan(BaseModel):
    #: How far behind real time ``/everything`` serves articles on the key's plan: 24 hours on the
    #: Developer (free) plan (newsapi.org/pricing), 0 on the paid plans.
    delay_hours: int = Field(default=24, ge=0, le=24 * 29)
    headlines: HeadlinesPlan
    everything: EverythingPlan
    sources: SourcesPlan

    def items(self) -> list[str]:
        bad = [c for c in self.headlines.categories if c not in newsapi_news.CATEGORIES]
        if bad:
            raise ConfigurationError(f"newsapi plan: {bad} are not NewsAPI categories")
        return [
            *(f"headlines:{c}" for c in self.headlines.categories),
            *(f"everything:{k}" for k in self.everything.keywords),
            *(["sources"] if self.sources.ids else []),
        ]


@lru_cache(maxsize=1)
def newsapi_plan() -> NewsApiPlan:
    """The packaged NewsAPI plan (validated)."""
    try:
        text = (resources.files("marketpipe.plans") / "newsapi.yaml").read_text("utf-8")
        return NewsApiPlan.model_validate(yaml.safe_load(text))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigurationError(f"newsapi plan cannot be used: {exc}") from None


def planned_queries(ctx: RunContext) -> Sequence[str]:
    return newsapi_plan().items()


def delay() -> timedelta:
    """The plan's ``/everything`` delay (``MARKETPIPE_NEWSAPI_DELAY_HOURS`` overrides the plan)."""
    raw = os.environ.get(DELAY_ENV)
    if raw is None or not raw.strip():
        return timedelta(hours=newsapi_plan().delay_hours)
    try:
        hours = float(raw)
    except ValueError:
        raise ConfigurationError(f"{DELAY_ENV}={raw!r} is not a number of hours") from None
    if not 0 <= hours <= 24 * 29:
        raise ConfigurationError(f"{DELAY_ENV}={raw!r} is outside 0..696 hours")
    return timedelta(hours=hours)


def everything_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The interval ``/everything`` can serve for a run of [start, end): shifted back by the delay."""
    shift = delay()
    return start - shift, end - shift


def request_for(ctx: RunContext, item: str) -> Request:
    plan = newsapi_plan()
    kind, _, value = item.partition(":")
    start, end = ctx.data_interval_start, ctx.data_interval_end
    if kind == "headlines":
        api = newsapi_news.headlines_request(category=value)
    elif kind == "everything":
        start, end = everything_window(start, end)
        api = newsapi_news.everything_request(value, start, end, plan.everything.sort_by)
    elif kind == "sources":
        api = newsapi_news.headlines_request(sources=plan.sources.ids)
    else:
        raise ConfigurationError(f"market_news: unknown plan item {item!r}")
    return Request(api, context={"from": start, "to": end})


def parse(body: Any, item: Item) -> Parsed:
    """Articles published inside the window the request asked for (pure)."""
    first, last = item.context["from"], item.context["to"]
    parsed = Parsed()
    for row in newsapi_news.parse_articles(body):
        if first <= row["published_at"] < last:
            parsed.rows.append(row)
    return parsed


DATASET = DatasetSpec(
    name="market_news",
    table="market_news",
    group="news",
    schedule="50 23 * * *",
    providers=("newsapi",),
    description="NewsAPI US headlines, keyword searches and wire sources of the run's interval (searches 24 h behind)",
    key=("source", "url"),
    pipeline={"newsapi": Pipe(request_for, parse)},
    items=planned_queries,
    touch="fetched_at",
    refresh_after=timedelta(hours=20),
)
