"""X posts of the planned accounts (``plans/x_accounts.yaml``), evaluated on the run's logical date.

Items are ``<schedule>:<username>`` for the accounts due on the logical date (by priority) that have
not been collected for that date yet. Each account is served by its planned token (1-based index into
``MARKETPIPE_X_KEYS``; wrapped when fewer tokens are configured) and asks only for posts newer than the
newest stored one (``since_id``; the first time, posts since the day before the logical date), following
``meta.next_token`` through every page of that window (resumable from the item state when the token's
window runs out mid-way).

The free tier allows one timeline call per token per 15 minutes, so a run (every 15 minutes) takes at
most that many due accounts per token, highest priority first; the others follow in later runs. A 429
marks the token spent until ``x-rate-limit-reset`` (the quota ledger keeps it); an account whose token
is spent fails with :class:`TokenSpent` and stays due while the other tokens' accounts go on. No
sleeps: the seed slept up to 90 minutes inside the task.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

from marketpipe.datasets.social._x_plan import all_accounts
from marketpipe.engine.registry import DatasetSpec, ItemResult, RunContext
from marketpipe.http.errors import CollectError, InvalidKeyError, QuotaExhausted
from marketpipe.http.types import QuotaWindow
from marketpipe.providers import x
from marketpipe.providers.x import timeline as x_timeline

#: Pages of one account's window read in one run at most (each is a timeline call of its token).
MAX_PAGES_PER_RUN = 5
#: How long an account X reported as not found (suspended, renamed) is left alone.
NOT_FOUND_RETRY = timedelta(days=1)


class TokenSpent(CollectError):
    """The account's token has no timeline call left in its window; the account stays due."""

    retryable = True


class TokenRefused(CollectError):
    """X refused the account's token (invalid, revoked, app not enrolled); the account stays due."""


class UnknownAccount(CollectError):
    """The account has no user id in ``x_user_profiles`` yet (collect ``x_user_profiles`` first)."""

    retryable = True


def _timeline_window() -> QuotaWindow | None:
    return next((w for w in x.PROVIDER.windows if w.scope == x.TIMELINE), None)


#: Failures that made no successful timeline call (a refused or spent token, an unknown account).
_NO_CALL_FAILURES = ("TokenSpent", "TokenRefused", "UnknownAccount")


def due_accounts(ctx: RunContext) -> Sequence[str]:
    """Accounts due on the logical date and not yet collected for it, by priority — at most as many
    per token as the token's timeline window still allows (calls made in the current window by
    earlier runs count), so a run never asks a token that has no call left."""
    day = ctx.logical_date
    now = ctx.now()
    tokens = max(1, len(ctx.settings.keys("x")))
    window = _timeline_window()
    per_token = window.limit if window is not None else 1
    window_start = window.bounds(now)[0] if window is not None else now
    plan = all_accounts()
    states = {item: ctx.item_state(item) for item in plan}
    used: dict[int, int] = {}
    for item, (_, _, account) in plan.items():
        state = states[item]
        if state is None:
            continue
        called = (state.last_done_at is not None and state.last_done_at >= window_start) or (
            state.failed
            and state.last_error_at is not None
            and state.last_error_at >= window_start
            and state.last_error_class not in _NO_CALL_FAILURES
        )
        if called:
            token = token_of(account.token, tokens)
            used[token] = used.get(token, 0) + 1
    due = sorted(
        (account.priority, position, item)
        for position, (item, (_, _, account)) in enumerate(plan.items())
        if account.due_on(day)
    )
    items: list[str] = []
    for _, _, item in due:
        account = plan[item][2]
        state = states[item]
        if state is not None and not state.failed and state.last_done_at is not None:
            if state.state.get("day") == day.isoformat():
                continue  # already collected for this logical date
            if state.state.get("not_found") and state.last_done_at > now - NOT_FOUND_RETRY:
                continue  # suspended or renamed: X said so recently, do not spend a call on it again
        token = token_of(account.token, tokens)
        if used.get(token, 0) >= per_token:
            continue  # this token's window is used up; a later run takes the account
        used[token] = used.get(token, 0) + 1
        items.append(item)
    return items


def token_of(planned: int, configured: int) -> int:
    """The 1-based key index serving an account planned on token ``planned`` (wrapped to the pool)."""
    return (planned - 1) % configured + 1


def _user_id(ctx: RunContext, username: str) -> str:
    rows = ctx.query("SELECT user_id FROM x_user_profiles WHERE lower(username) = lower(%s)", (username,))
    if not rows:
        raise UnknownAccount(f"x: no user id for {username} (x_user_profiles has not looked it up yet)")
    return str(rows[0][0])


def _since_id(ctx: RunContext, username: str) -> str | None:
    rows = ctx.query(
        "SELECT max(tweet_id::numeric)::text FROM x_posts WHERE lower(source_account) = lower(%s)",
        (username,),
    )
    return rows[0][0] if rows and rows[0][0] else None


def _paging(ctx: RunContext, item: str) -> dict[str, Any] | None:
    """The unfinished window of the item's last run (its next page token and the window's bounds)."""
    state = ctx.item_state(item)
    paging = state.state.get("paging") if state is not None else None
    return paging if isinstance(paging, dict) and paging.get("next_token") else None


def fetch(ctx: RunContext, item: str) -> ItemResult:
    """Every post of the account's window, page by page (``meta.next_token`` → ``pagination_token``).

    Each page is one timeline call of the account's token. When the token's window has no call left
    for the next page, the pages read so far are stored and the next page token is kept in the item's
    state (the item stays due); the next run resumes the same window from there, so no post between
    ``since_id`` and the newest one is ever skipped."""
    _, schedule, account = all_accounts()[item]
    user_id = _user_id(ctx, account.username)
    token = token_of(account.token, max(1, len(ctx.settings.keys("x"))))
    resume = _paging(ctx, item)
    if resume is not None:
        since_id = resume.get("since_id")
        start_time = datetime.fromisoformat(resume["start_time"]) if resume.get("start_time") else None
        page_token: str | None = resume["next_token"]
        newest: str | None = resume.get("newest_id")
    else:
        since_id = _since_id(ctx, account.username)
        first_time = datetime.combine(ctx.logical_date - timedelta(days=1), time(0), tzinfo=UTC)
        start_time = None if since_id else first_time
        page_token, newest = None, None
    rows: list[dict[str, Any]] = []
    pages = 0
    while True:
        request = x_timeline.timeline_request(
            user_id, since_id=since_id, start_time=start_time, pagination_token=page_token
        )
        try:
            reply = ctx.call(request, key_index=token)
        except QuotaExhausted as exc:
            if pages == 0:
                raise TokenSpent(f"x token {token} for {account.username}: {exc}") from None
            break  # keep what was read; the next run continues from page_token
        except InvalidKeyError as exc:
            # Only this token's accounts are affected; the other tokens' accounts go on.
            raise TokenRefused(f"x token {token} for {account.username}: {exc}") from None
        body = reply.json()
        page_rows, page_newest = x_timeline.parse_timeline(body, user_id)
        rows.extend(page_rows)
        newest = newest or page_newest  # the first page of a window holds its newest post
        pages += 1
        page_token = x_timeline.next_token(body)
        if page_token is None or pages >= MAX_PAGES_PER_RUN:
            break
    stamped = [
        {
            **row,
            "source_account": account.username,
            "account_category": schedule.category_of(account),
            "collection_source": schedule.collection_source,
        }
        for row in rows
    ]
    state: dict[str, Any] = {"token": token, "posts": len(rows), "pages": pages}
    if page_token is None:
        state.update({"day": ctx.logical_date.isoformat(), "since_id": newest or since_id})
    else:
        state["paging"] = {
            "next_token": page_token,
            "since_id": since_id,
            "start_time": start_time.isoformat() if start_time else None,
            "newest_id": newest,
        }
    return ItemResult(stamped, state=state)


DATASET = DatasetSpec(
    name="x_posts",
    table="x_posts",
    group="social",
    schedule="*/15 * * * *",
    providers=("x",),
    description="Posts of the planned X accounts due on the logical date, newer than the stored ones",
    key=("tweet_id",),
    fetch={"x": fetch},
    items=due_accounts,
    touch="updated_at",
    depends_on=("x_user_profiles",),
)
