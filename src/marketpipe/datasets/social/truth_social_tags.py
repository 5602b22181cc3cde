"""Truth Social trending tags (``/v1/trends``), one row per tag per logical date, with the seven days
of use counts, their weekly average and the day-over-day growth (the seed stored growth 0).
"""

from __future__ import annotations

from marketpipe.engine.registry import DatasetSpec, Row, RunContext
from marketpipe.providers import truth_social_parse


def fetch(ctx: RunContext, item: str) -> list[Row]:
    return truth_social_parse.parse_tags(
        ctx.call(truth_social_parse.trends_request()).json(), ctx.logical_date
    )


DATASET = DatasetSpec(
    name="truth_social_tags",
    table="truth_social_tags",
    group="social",
    schedule="@daily",
    providers=("truth_social",),
    description="Trending Truth Social tags with 7 days of use counts, one row per tag per day",
    key=("name", "collected_date"),
    fetch={"truth_social": fetch},
    touch="updated_at",
)
