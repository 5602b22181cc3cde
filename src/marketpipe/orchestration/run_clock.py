"""Which clock the engine runs on inside an Airflow task (``MARKETPIPE_AIRFLOW_CLOCK``).

* ``wall`` (the default, and the only choice against real providers): the engine's "now" — quota
  windows, spent-until marks, refresh ages — is the wall clock, because a provider counts calls in
  real time whatever logical date a run belongs to.
* ``run`` (sandbox mode only): "now" starts at the moment the DAG run was *due* — the end of its data
  interval (with Airflow 3's cron timetables, the logical date), else its ``run_after`` — and then
  flows in real time. Runs the scheduler creates for consecutive past intervals (a backfill, a
  catch-up) then each live on their own simulated day: the quota ledger's daily windows of the first
  run fill, the next run's day starts fresh, as if each had run on time. This is how a local
  deployment rehearses days of schedules against the simulator in minutes.

No Airflow import: the task passes the context values in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, date, datetime

from marketpipe.engine.clock import SYSTEM_CLOCK, Clock, ManualClock
from marketpipe.http.errors import ConfigurationError

CLOCK_ENV = "MARKETPIPE_AIRFLOW_CLOCK"
CLOCK_MODES = ("wall", "run")


def plain_utc(value: datetime | date) -> datetime:
    """``value`` as a plain stdlib ``datetime`` in UTC (a date is its midnight).

    Airflow hands pendulum instants; their arithmetic is not the stdlib's (a pendulum ``Duration``
    floor-divided by a ``timedelta`` raises AttributeError in pendulum 3), so nothing of pendulum
    goes past the task boundary."""
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    # A plain stdlib datetime (Airflow hands pendulum instants).
    moment = moment.astimezone(UTC)
    return datetime(*moment.timetuple()[:6], moment.microsecond, tzinfo=UTC)


def run_due_at(context: Mapping[str, object]) -> datetime | None:
    """When the run was due: the data interval's end, else the logical date, else ``run_after``."""
    for name in ("data_interval_end", "logical_date"):
        value = context.get(name)
        if isinstance(value, date):
            return plain_utc(value)
    run_after = getattr(context.get("dag_run"), "run_after", None)
    return plain_utc(run_after) if isinstance(run_after, date) else None


def task_clock(
    context: Mapping[str, object], *, sandbox: bool, env: Mapping[str, str] | None = None
) -> Clock:
    """The engine clock for one task (see the module docstring); raises ConfigurationError on a bad
    mode, or on ``run`` outside sandbox mode."""
    mode = (os.environ if env is None else env).get(CLOCK_ENV, "wall").strip().lower() or "wall"
    if mode not in CLOCK_MODES:
        raise ConfigurationError(f"{CLOCK_ENV}={mode!r}: expected one of {', '.join(CLOCK_MODES)}")
    if mode == "wall":
        return SYSTEM_CLOCK
    if not sandbox:
        raise ConfigurationError(
            f"{CLOCK_ENV}=run replays runs on simulated days: sandbox mode only (MARKETPIPE_SANDBOX=true)"
        )
    due = run_due_at(context)
    if due is None:
        raise ConfigurationError(f"{CLOCK_ENV}=run: the task's run has no data interval or run_after")
    return ManualClock(due, real_sleep=True)
