"""Freshness: is each dataset's newest data as recent as its schedule promises?

For every registered dataset, *last data* is the newest ``collect_cursors.last_done_at`` — the moment
an item's rows were committed (or the provider answered that it had none), written in the same
transaction as the rows. Its schedule (cron or Airflow preset) says when runs are owed; a scheduled
run is *owed* once ``grace`` has passed after it (``grace`` = half the schedule's period, between 5
minutes and 2 hours: time for the run to finish). With *missed* = owed runs after the last data and
*period* = the gap between the two scheduled runs before now:

- **fresh** — no run missed, or the data is at most one period (+ grace) old: a weekly dataset is
  fresh for a week, a monthly one for a month, a weekday one over the weekend;
- **late** — otherwise, when one run is missed or the data is at most two periods old;
- **stale** — two or more runs missed and the data older than two periods;
- **never** — no item of the dataset was ever collected.

Market-hours datasets (those that derive NYSE market caches) owe runs only inside NYSE regular
sessions (``exchange_calendars`` XNYS: weekends, holidays, half days) and are judged on missed runs
alone, so a Saturday never makes them late and ten silent minutes of a session do. ``next_run`` is
the next scheduled run (inside a session for market-hours datasets); ``resumes_at`` is set when the
latest run stopped on quota and says when its keys come back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

import psycopg

from marketpipe.engine.registry import DatasetSpec, all_datasets

State = Literal["fresh", "late", "stale", "never"]
STATES: tuple[State, ...] = ("fresh", "late", "stale", "never")

MIN_GRACE = timedelta(minutes=5)
MAX_GRACE = timedelta(hours=2)
#: Scheduled times examined per dataset at most (a 10-minute schedule over a long weekend is ~500).
_MAX_FIRES = 5000


@dataclass(frozen=True)
class Freshness:
    """One dataset's freshness at ``checked_at``."""

    dataset: str
    group: str
    schedule: str
    state: State
    checked_at: datetime
    last_data_at: datetime | None
    age_s: float | None
    missed_runs: int
    next_run_at: datetime | None
    resumes_at: datetime | None
    market_hours: bool
    items_done: int
    items_fresh: int
    last_status: str | None
    last_error: str | None

    def as_json(self) -> dict[str, Any]:
        """JSON-ready (timestamps as ISO 8601 UTC)."""
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}


class ScheduleError(ValueError):
    """A dataset's schedule is not a cron expression or preset that freshness understands."""


def _iter(schedule: str, start: datetime) -> Any:
    from croniter import croniter

    try:
        return croniter(schedule, start)
    except (ValueError, KeyError) as exc:
        raise ScheduleError(f"schedule {schedule[:60]!r}: {exc}") from None


def schedule_period(schedule: str, now: datetime) -> timedelta:
    """The gap between the two scheduled runs before ``now``."""
    it = _iter(schedule, now)
    last: datetime = it.get_prev(datetime)
    before: datetime = it.get_prev(datetime)
    return last - before


def grace_for(schedule: str, now: datetime) -> timedelta:
    return min(max(schedule_period(schedule, now) / 2, MIN_GRACE), MAX_GRACE)


@lru_cache(maxsize=4)
def _xnys(year: int) -> Any:
    import exchange_calendars  # pandas-heavy: loaded on first use only

    return exchange_calendars.get_calendar("XNYS", start=f"{year - 1}-01-01", end=f"{year + 1}-12-31")


def nyse_open(moment: datetime) -> bool:
    """Whether the NYSE regular session is open at ``moment``."""
    import pandas as pd

    minute = pd.Timestamp(moment.astimezone(UTC)).floor("min")
    calendar = _xnys(minute.year)
    if not calendar.first_minute <= minute <= calendar.last_minute:
        return False
    return bool(calendar.is_open_on_minute(minute))


def is_market_hours(spec: DatasetSpec) -> bool:
    """True for datasets that derive a market cache (runs owed only while NYSE is open)."""
    from marketpipe.datasets.derived._market_cache import MarketCache

    return any(isinstance(getattr(fetch, "__self__", None), MarketCache) for fetch in spec.fetch.values())


def missed_runs(
    schedule: str, last_data_at: datetime, now: datetime, *, market_hours: bool = False, cap: int = 2
) -> int:
    """Scheduled runs after ``last_data_at`` that are owed by ``now`` (counted up to ``cap``)."""
    owed_before = now - grace_for(schedule, now)
    it = _iter(schedule, last_data_at)
    missed = 0
    for _ in range(_MAX_FIRES):
        fire: datetime = it.get_next(datetime)
        if fire > owed_before:
            break
        if market_hours and not nyse_open(fire):
            continue
        missed += 1
        if missed >= cap:
            break
    return missed


def next_run(schedule: str, now: datetime, *, market_hours: bool = False) -> datetime | None:
    """The next scheduled run after ``now`` (inside an NYSE session for market-hours datasets)."""
    it = _iter(schedule, now)
    for _ in range(_MAX_FIRES):
        fire: datetime = it.get_next(datetime)
        if not market_hours or nyse_open(fire):
            return fire
    return None


def state_of(
    missed: int,
    age: timedelta | None,
    period: timedelta,
    grace: timedelta,
    *,
    market_hours: bool = False,
) -> State:
    """The state for ``missed`` owed runs and data ``age`` old (None: never collected)."""
    if age is None:
        return "never"
    if market_hours:
        return "fresh" if missed == 0 else "late" if missed == 1 else "stale"
    if missed == 0 or age <= period + grace:
        return "fresh"
    if missed == 1 or age <= 2 * period + grace:
        return "late"
    return "stale"


_CURSORS = """
SELECT c.dataset, max(c.last_done_at), count(c.last_done_at),
       count(*) FILTER (WHERE c.last_done_at > w.since)
  FROM collect_cursors c
  JOIN unnest(%s::text[], %s::timestamptz[]) AS w(dataset, since) ON w.dataset = c.dataset
 GROUP BY c.dataset
"""
_LATEST_RUNS = """
SELECT DISTINCT ON (dataset) dataset, status, error_class, resume_at
  FROM collect_runs
 WHERE dataset = ANY(%s) AND status <> 'running'
 ORDER BY dataset, run_id DESC
"""


def freshness_queries(
    specs: Sequence[DatasetSpec], now: datetime
) -> tuple[tuple[str, tuple[Any, ...]], tuple[str, tuple[Any, ...]]]:
    """The two read-only queries (SQL, params) whose rows :func:`build_freshness` needs (sync or async
    callers run them on their own connection)."""
    names = [spec.name for spec in specs]
    # An item counts as fresh when it completed within one schedule period (plus grace).
    since = [now - schedule_period(s.schedule, now) - grace_for(s.schedule, now) for s in specs]
    return (_CURSORS, (names, since)), (_LATEST_RUNS, (names,))


def build_freshness(
    specs: Sequence[DatasetSpec],
    now: datetime,
    cursor_rows: Sequence[Sequence[Any]],
    run_rows: Sequence[Sequence[Any]],
) -> list[Freshness]:
    """Freshness per dataset from the rows of :func:`freshness_queries`."""
    cursors = {row[0]: tuple(row[1:]) for row in cursor_rows}
    latest = {row[0]: tuple(row[1:]) for row in run_rows}
    found: list[Freshness] = []
    for spec in specs:
        market = is_market_hours(spec)
        last_data, done, fresh_items = cursors.get(spec.name, (None, 0, 0))
        last_data = last_data.astimezone(UTC) if last_data else None  # schedules are in UTC
        status, error_class, resume_at = latest.get(spec.name, (None, None, None))
        missed = missed_runs(spec.schedule, last_data, now, market_hours=market) if last_data else 0
        quota_stopped = status == "partial" and error_class == "QuotaExhausted"
        found.append(
            Freshness(
                dataset=spec.name,
                group=spec.group,
                schedule=spec.schedule,
                state=state_of(
                    missed,
                    now - last_data if last_data else None,
                    schedule_period(spec.schedule, now),
                    grace_for(spec.schedule, now),
                    market_hours=market,
                ),
                checked_at=now,
                last_data_at=last_data,
                age_s=(now - last_data).total_seconds() if last_data else None,
                missed_runs=missed,
                next_run_at=next_run(spec.schedule, now, market_hours=market),
                resumes_at=resume_at if quota_stopped and resume_at and resume_at > now else None,
                market_hours=market,
                items_done=int(done),
                items_fresh=int(fresh_items),
                last_status=status,
                last_error=error_class,
            )
        )
    return found


def dataset_freshness(
    conn: psycopg.Connection, now: datetime, specs: Sequence[DatasetSpec] | None = None
) -> list[Freshness]:
    """Freshness of ``specs`` (default: every registered dataset) on a sync connection."""
    specs = list(specs) if specs is not None else all_datasets()
    now = now.astimezone(UTC)
    (cursor_sql, cursor_params), (run_sql, run_params) = freshness_queries(specs, now)
    cursor_rows = conn.execute(cursor_sql, cursor_params).fetchall()
    run_rows = conn.execute(run_sql, run_params).fetchall()
    if not conn.autocommit:
        conn.rollback()  # read-only: end the snapshot
    return build_freshness(specs, now, cursor_rows, run_rows)


def freshness_table(rows: Sequence[Freshness]) -> Any:
    """A rich table of ``rows`` (what ``marketpipe status`` prints)."""
    from rich.table import Table

    colours = {"fresh": "green", "late": "yellow", "stale": "red", "never": "dim"}
    table = Table(title="dataset freshness")
    for column in ("dataset", "schedule", "state", "last data", "age", "items", "next run", "resumes at"):
        table.add_column(column, justify="right" if column in ("age", "items") else "left")
    for row in rows:
        table.add_row(
            row.dataset,
            row.schedule + (" (NYSE hours)" if row.market_hours else ""),
            f"[{colours[row.state]}]{row.state}[/]",
            f"{row.last_data_at:%Y-%m-%d %H:%M}" if row.last_data_at else "-",
            _age(row.age_s),
            f"{row.items_fresh}/{row.items_done}" if row.items_done else "-",
            f"{row.next_run_at:%Y-%m-%d %H:%M}" if row.next_run_at else "-",
            f"{row.resumes_at:%Y-%m-%d %H:%M}" if row.resumes_at else "-",
        )
    return table


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def print_status_freshness(console: Any, settings: Any, now: datetime | None = None) -> list[Freshness]:
    """Print the freshness table for ``marketpipe status`` (never starts a database: a stopped one is
    reported, not started)."""
    from marketpipe.runtime.postgres import PostgresService

    service = PostgresService(settings)
    url = service.url()
    if url is None or not service.ping(url):
        console.print("[yellow]freshness: PostgreSQL is not running (marketpipe up)[/]")
        return []
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            rows = dataset_freshness(conn, now or datetime.now(UTC))
    except psycopg.errors.UndefinedTable:
        console.print("[yellow]freshness: the schema is not migrated (marketpipe migrate)[/]")
        return []
    console.print(freshness_table(rows))
    return rows
