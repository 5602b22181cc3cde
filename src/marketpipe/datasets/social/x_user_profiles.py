"""X user ids for the planned accounts: one ``users/by/username`` lookup per account not yet known.

Items are the planned usernames (``plans/x_accounts.yaml``) without a row in ``x_user_profiles``
(case-insensitive — the seed's 'oracle' never matched 'Oracle'). A username X does not know is
recorded as such and not looked up again for a week, so the 3-per-15-minutes lookup window is spent
only on accounts that can still be found.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from marketpipe.datasets.social._x_plan import category_of, planned_usernames
from marketpipe.engine.registry import DatasetSpec, Item, Pipe, Row, RunContext
from marketpipe.http.types import ApiRequest
from marketpipe.providers.x import timeline as x_timeline

NOT_FOUND_RETRY = timedelta(days=7)


def missing_accounts(ctx: RunContext) -> Sequence[str]:
    known = {row[0] for row in ctx.query("SELECT lower(username) FROM x_user_profiles")}
    missing: list[str] = []
    for username in planned_usernames():
        if username.lower() in known:
            continue
        state = ctx.item_state(username)
        if (
            state is not None
            and state.state.get("not_found")
            and state.last_done_at is not None
            and state.last_done_at > ctx.now() - NOT_FOUND_RETRY
        ):
            continue
        missing.append(username)
    return missing


def request(ctx: RunContext, username: str) -> ApiRequest:
    return x_timeline.user_lookup_request(username)


def parse(body: Any, item: Item) -> list[Row]:
    return [{**x_timeline.parse_user(body), "category": category_of(item.name)}]


DATASET = DatasetSpec(
    name="x_user_profiles",
    table="x_user_profiles",
    group="social",
    schedule="*/15 * * * *",
    providers=("x",),
    description="X user ids of the planned accounts, one lookup per account not yet known",
    key=("username",),
    pipeline={"x": Pipe(request, parse)},
    items=missing_accounts,
)
