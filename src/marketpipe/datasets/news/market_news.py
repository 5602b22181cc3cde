"""NewsAPI headlines and keyword searches for the run's logical day (plan: ``plans/newsapi.yaml``).

One item per planned query (``headlines:<category>``, ``everything:<keyword>``, ``sources``), so a
run stopped by the 50-per-12-hours budget resumes at the first unfinished query. Every article kept
was published on the logical day (UTC): ``/everything`` is asked for exactly that day, and the
undated ``/top-headlines`` replies are filtered to it. Scheduled late in the day so the day's window
is nearly complete when it runs. The seed's invalid ``politics`` category is gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from functools import lru_cache
from importlib import resources

import yaml
from pydantic import BaseModel, Field, ValidationError

from marketpipe.engine.registry import DatasetSpec, Row, RunContext
from marketpipe.http.errors import ConfigurationError
from marketpipe.http.types import ApiRequest
from marketpipe.providers import newsapi_parse


class HeadlinesPlan(BaseModel):
    categories: list[str]


class EverythingPlan(BaseModel):
    sort_by: str = "popularity"
    keywords: list[str]


class SourcesPlan(BaseModel):
    ids: list[str] = Field(max_length=20)


class NewsApiPlan(BaseModel):
    #: The day collected = logical date minus this many days (0: the logical day itself). A knob for
    #: the Developer plan's reported 24-hour delay, should the logical day come back empty.
    window_day_offset: int = Field(default=0, ge=0, le=29)
    headlines: HeadlinesPlan
    everything: EverythingPlan
    sources: SourcesPlan

    def items(self) -> list[str]:
        bad = [c for c in self.headlines.categories if c not in newsapi_parse.CATEGORIES]
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


def window_day(ctx: RunContext) -> date:
    """The UTC day whose articles this run collects."""
    return ctx.logical_date - timedelta(days=newsapi_plan().window_day_offset)


def request_for(item: str, ctx: RunContext) -> ApiRequest:
    plan = newsapi_plan()
    kind, _, value = item.partition(":")
    if kind == "headlines":
        return newsapi_parse.headlines_request(category=value)
    if kind == "everything":
        return newsapi_parse.everything_request(value, window_day(ctx), plan.everything.sort_by)
    if kind == "sources":
        return newsapi_parse.headlines_request(sources=plan.sources.ids)
    raise ConfigurationError(f"market_news: unknown plan item {item!r}")


def fetch(ctx: RunContext, item: str) -> list[Row]:
    reply = ctx.call(request_for(item, ctx))
    day = window_day(ctx)
    return [row for row in newsapi_parse.parse_articles(reply.json()) if row["published_at"].date() == day]


DATASET = DatasetSpec(
    name="market_news",
    table="market_news",
    group="news",
    schedule="50 23 * * *",
    providers=("newsapi",),
    description="NewsAPI US headlines, keyword searches and wire sources published on the logical day",
    key=("source", "url"),
    fetch={"newsapi": fetch},
    items=planned_queries,
    touch="fetched_at",
    refresh_after=timedelta(hours=20),
)
