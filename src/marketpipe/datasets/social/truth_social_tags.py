"""Truth Social trending tags (``/v1/trends``), one row per tag per logical date, with the seven days
of use counts, their weekly average and the day-over-day growth (the seed stored growth 0).
"""

from __future__ import annotations

from typing import Any

from marketpipe.engine.registry import DatasetSpec, Item, Pipe, Row, RunContext
from marketpipe.http.types import ApiRequest
from marketpipe.providers.truth_social import posts as truth_social_posts


def request(ctx: RunContext, item: str) -> ApiRequest:
    return truth_social_posts.trends_request()


def parse(body: Any, item: Item) -> list[Row]:
    return truth_social_posts.parse_tags(body, item.logical_date)


DATASET = DatasetSpec(
    name="truth_social_tags",
    table="truth_social_tags",
    group="social",
    schedule="@daily",
    providers=("truth_social",),
    description="Trending Truth Social tags with 7 days of use counts, one row per tag per day",
    key=("name", "collected_date"),
    pipeline={"truth_social": Pipe(request, parse)},
    touch="updated_at",
)
