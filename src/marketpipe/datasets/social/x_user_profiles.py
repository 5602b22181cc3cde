"""X user ids for the planned accounts: one ``users/by/username`` lookup per account not yet known.

Items are the planned usernames (``plans/x_accounts.yaml``) without a row in ``x_user_profiles``
(case-insensitive — the seed's 'oracle' never matched 'Oracle'). A username X does not know is
recorded as such and not looked up again for a week, so the 3-per-15-minutes lookup window is spent
only on accounts that can still be found.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from marketpipe.datasets.social._x_plan import category_of, planned_usernames
from marketpipe.engine.registry import DatasetSpec, Row, RunContext
from marketpipe.providers import x_parse

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


def fetch(ctx: RunContext, username: str) -> list[Row]:
    user = x_parse.parse_user(ctx.call(x_parse.user_lookup_request(username)).json())
    return [{**user, "category": category_of(username)}]


DATASET = DatasetSpec(
    name="x_user_profiles",
    table="x_user_profiles",
    group="social",
    schedule="*/15 * * * *",
    providers=("x",),
    description="X user ids of the planned accounts, one lookup per account not yet known",
    key=("username",),
    fetch={"x": fetch},
    items=missing_accounts,
)
