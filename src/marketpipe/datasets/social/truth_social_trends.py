"""Truth Social trending statuses (``/v1/truth/trending/truths``, top 20), ranked by position.

Every run refreshes rank, score and counts of the statuses trending now (a status keeps its row, its
latest rank and counts); ``updated_at`` moves only when something changed.
"""

from __future__ import annotations

from typing import Any

from marketpipe.engine.registry import DatasetSpec, Item, Pipe, Row, RunContext
from marketpipe.http.types import ApiRequest
from marketpipe.providers.truth_social import posts as truth_social_posts


def request(ctx: RunContext, item: str) -> ApiRequest:
    return truth_social_posts.trending_truths_request()


def parse(body: Any, item: Item) -> list[Row]:
    return truth_social_posts.parse_trending_truths(body)


DATASET = DatasetSpec(
    name="truth_social_trends",
    table="truth_social_trends",
    group="social",
    schedule="0 * * * *",
    providers=("truth_social",),
    description="The 20 trending Truth Social statuses with rank and favourites score",
    key=("id",),
    pipeline={"truth_social": Pipe(request, parse)},
    touch="updated_at",
)
