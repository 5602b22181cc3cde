"""Truth Social trending statuses (``/v1/truth/trending/truths``, top 20), ranked by position.

Every run refreshes rank, score and counts of the statuses trending now (a status keeps its row, its
latest rank and counts); ``updated_at`` moves only when something changed.
"""

from __future__ import annotations

from marketpipe.engine.registry import DatasetSpec, Row, RunContext
from marketpipe.providers import truth_social_parse


def fetch(ctx: RunContext, item: str) -> list[Row]:
    return truth_social_parse.parse_trending_truths(
        ctx.call(truth_social_parse.trending_truths_request()).json()
    )


DATASET = DatasetSpec(
    name="truth_social_trends",
    table="truth_social_trends",
    group="social",
    schedule="0 * * * *",
    providers=("truth_social",),
    description="The 20 trending Truth Social statuses with rank and favourites score",
    key=("id",),
    fetch={"truth_social": fetch},
    touch="updated_at",
)
