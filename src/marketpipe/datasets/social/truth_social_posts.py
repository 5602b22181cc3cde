"""Truth Social statuses of the planned accounts (``plans/truth_social_accounts.yaml``), called directly
on the Mastodon-style API (the seed shelled out to the truthbrush CLI).

One item per account. The account id is looked up once and kept in the item state. Each run asks for
statuses newer than the newest stored one (``since_id``), paging back with ``max_id`` until it reaches
that id — so a late or failed run leaves no gap (the seed's fixed one-hour window did). The first
time, it reads back to the day before the logical date. Replies are excluded, as in the seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from marketpipe.engine.registry import DatasetSpec, ItemResult, RunContext
from marketpipe.http.errors import ConfigurationError
from marketpipe.providers.truth_social import posts as truth_social_posts

#: A guard for the first run of a very active account (40 statuses a page).
MAX_PAGES = 10


class TruthAccount(BaseModel):
    username: str
    account_type: str = "individual"
    market_influence: int = 0


class TruthPlan(BaseModel):
    accounts: list[TruthAccount]


@lru_cache(maxsize=1)
def truth_accounts() -> dict[str, TruthAccount]:
    try:
        text = (resources.files("marketpipe.plans") / "truth_social_accounts.yaml").read_text("utf-8")
        plan = TruthPlan.model_validate(yaml.safe_load(text))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigurationError(f"truth social plan cannot be used: {exc}") from None
    return {account.username: account for account in plan.accounts}


def accounts(ctx: RunContext) -> Sequence[str]:
    return list(truth_accounts())


def _since_id(ctx: RunContext, username: str) -> str | None:
    rows = ctx.query(
        "SELECT max(id::numeric)::text FROM truth_social_posts WHERE lower(username) = lower(%s)", (username,)
    )
    return rows[0][0] if rows and rows[0][0] else None


def fetch(ctx: RunContext, username: str) -> ItemResult:
    plan = truth_accounts()[username]
    state = ctx.item_state(username)
    account_id = state.state.get("account_id") if state is not None else None
    if not account_id:
        account_id = truth_social_posts.parse_account(
            ctx.call(truth_social_posts.lookup_request(username)).json()
        )["id"]
    since_id = _since_id(ctx, username)
    oldest_wanted = datetime.combine(ctx.logical_date - timedelta(days=1), time(0), tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    max_id: str | None = None
    for _ in range(MAX_PAGES):
        page = truth_social_posts.parse_statuses(
            ctx.call(truth_social_posts.statuses_request(account_id, since_id=since_id, max_id=max_id)).json()
        )
        parsed = [
            row
            for row in (
                truth_social_posts.parse_post(s, plan.account_type, plan.market_influence) for s in page
            )
            if row is not None
        ]
        rows.extend(parsed)
        if len(page) < truth_social_posts.STATUSES_PAGE:
            break  # the last page newer than since_id
        max_id = min((str(s["id"]) for s in page), key=int)
        if since_id is None and parsed and min(r["created_at"] for r in parsed) < oldest_wanted:
            break
    if since_id is None:
        rows = [row for row in rows if row["created_at"] >= oldest_wanted]
    newest = max((row["id"] for row in rows), key=int, default=since_id)
    return ItemResult(rows, state={"account_id": account_id, "since_id": newest, "statuses": len(rows)})


DATASET = DatasetSpec(
    name="truth_social_posts",
    table="truth_social_posts",
    group="social",
    schedule="0 * * * *",
    providers=("truth_social",),
    description="Truth Social statuses (no replies) of the planned accounts, newer than the stored ones",
    key=("id",),
    fetch={"truth_social": fetch},
    items=accounts,
    touch="updated_at",
)
