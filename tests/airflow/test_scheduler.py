"""Airflow as deployed: a real scheduler, DAG processor and API server (LocalExecutor, metadata on
PostgreSQL) run a marketpipe DAG on its schedule against the sandbox, across a simulated UTC midnight.

The DAG is ``marketpipe_fundamentals_daily_0600`` (``company_overview``: Alpha Vantage OVERVIEW, one call
per symbol, 25 calls a day per key). The scheduler creates its scheduled run (the latest 06:00 UTC) on
unpause, and runs the backfill run of the day before, both on the DAG's own timetable. Tasks run with
``MARKETPIPE_AIRFLOW_CLOCK=run``: each run's engine clock starts at the moment that run was due, so the
two runs live on two consecutive simulated days and the quota ledger's daily windows are two windows.

Each day's budget is 25 calls of which 22 are already spent (other work earlier that day, written to
the quota ledger), for a universe of 6 symbols: the first day's run does 3 and stops *partial* (3 pending,
resumes at midnight), the next day's run does the other 3 and is ok. Asserted from PostgreSQL: the run
ledger per logical date, the quota ledger per window (never over its limit), calls = items = rows, and
the sandbox saw exactly those calls, none refused (no wasted call). And from Airflow's metadata: both DAG
runs and their tasks succeeded on the first try. The deployment stops with no process left behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from marketpipe.config import Settings
from marketpipe.engine.runner import run_dataset
from marketpipe.http.types import per_day
from marketpipe.orchestration.deployed import DeployedAirflow, create_database
from marketpipe.orchestration.local import REPO_DAGS_FOLDER, connection_json
from marketpipe.orchestration.plan import plan_dags, pool_name
from marketpipe.redaction import key_hash
from plugins.sandbox import SandboxHandle

DAG_ID = "marketpipe_fundamentals_daily_0600"
DATASET = "company_overview"
POOL = pool_name("alpha_vantage")
AV_KEY = "av-scheduler-test"
UNIVERSE = 6
DAILY_LIMIT = 25  # Alpha Vantage's published free tier (marketpipe.providers.alpha_vantage)
SPENT_BEFORE = 22  # of each day's budget, already used by other work that day
LEFT = DAILY_LIMIT - SPENT_BEFORE
#: Bounds for the waits below (they only bound a hang; nothing asserts on time).
WAIT_S = 240


@pytest.fixture
def deployed_airflow(
    pg_server: str, pg_dsn: str, sandbox: SandboxHandle, tmp_path: Path
) -> Iterator[DeployedAirflow]:
    """A running deployment on this test's marketpipe database and the session's sandbox."""
    from marketpipe.db.connect import with_database

    metadata_db = f"airflow_meta_{os.getpid()}"
    create_database(pg_server, metadata_db, drop=True)
    airflow = DeployedAirflow(
        home=tmp_path / "airflow",
        metadata_dsn=with_database(pg_server, metadata_db),
        dags_folder=REPO_DAGS_FOLDER,
        inherit_marketpipe_env=False,
        extra_env={
            "AIRFLOW_CONN_MARKETPIPE_POSTGRES": connection_json(pg_dsn),
            "AIRFLOW_VAR_MARKETPIPE_ALPHA_VANTAGE_KEYS": AV_KEY,
            "MARKETPIPE_SANDBOX": "true",
            "MARKETPIPE_SANDBOX_PORT": str(sandbox.port),
            "MARKETPIPE_COLLECT_UNIVERSE_LIMIT": str(UNIVERSE),
            "MARKETPIPE_AIRFLOW_CLOCK": "run",
            "MARKETPIPE_AIRFLOW_RETRIES": "0",  # a failure shows at once instead of after a backoff
        },
    )
    try:
        airflow.start(timeout=WAIT_S)
    except Exception as exc:
        pytest.fail(f"Airflow (scheduler + dag-processor + api-server) is required and did not start: {exc}")
    groups = airflow.process_groups
    try:
        yield airflow
    finally:
        airflow.stop()
        assert DeployedAirflow.leftover_groups(groups) == [], "Airflow processes left behind"
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{metadata_db}" WITH (FORCE)')


def _spend(pg_dsn: str, day_start: datetime, used: int) -> None:
    """Record ``used`` calls of the key's daily window containing ``day_start`` (earlier work)."""
    start, end = per_day(DAILY_LIMIT).bounds(day_start)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO quota_ledger (provider, key_hash, window_name, window_start, window_end, used,
                                         quota_limit)
               VALUES ('alpha_vantage', %s, 'day', %s, %s, %s, %s)""",
            (key_hash(AV_KEY), start, end, used, DAILY_LIMIT),
        )


def _rows(pg_dsn: str, query: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(pg_dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query.encode(), params)
        return cur.fetchall()


def _midnight(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def test_scheduler_runs_consecutive_days_partial_then_resumed_without_wasted_calls(
    deployed_airflow: DeployedAirflow, pg_dsn: str, sandbox: SandboxHandle
) -> None:
    airflow = deployed_airflow
    plan = next(p for p in plan_dags() if p.dag_id == DAG_ID)
    assert plan.schedule == "0 6 * * *" and [t.dataset for t in plan.tasks] == [DATASET]
    assert plan.tasks[0].pool == POOL

    # The universe to work through (the stocks DAG has its own tests).
    seeded = run_dataset(
        "sp500_companies",
        settings=Settings(_env_file=None, database_url=pg_dsn, sandbox=True, sandbox_port=sandbox.port),  # type: ignore[call-arg]
    )
    assert seeded.status == "ok", seeded

    cli = airflow.cli()
    # The Alpha Vantage pool holds tasks until both runs exist: then the scheduler takes them in
    # logical-date order, as a deployment catching up would.
    cli.run("pools", "set", POOL, "0", "held until both runs are queued")
    airflow.wait_for(f"{DAG_ID} parsed", lambda: airflow.dag_is_parsed(DAG_ID), WAIT_S)
    cli.run("dags", "unpause", DAG_ID)

    # The scheduler creates the scheduled run of the latest 06:00 UTC on its own.
    scheduled = airflow.wait_for(
        "the scheduled run",
        lambda: [r for r in airflow.dag_runs(DAG_ID) if r["run_type"] == "scheduled"],
        WAIT_S,
    )
    assert len(scheduled) == 1, scheduled
    day2 = scheduled[0]["logical_date"].astimezone(UTC)
    assert (day2.hour, day2.minute) == (6, 0) and day2 <= datetime.now(UTC)
    day1 = day2 - timedelta(days=1)
    for day in (day1, day2):
        _spend(pg_dsn, day, SPENT_BEFORE)

    # The day before, through a backfill (the DAG does not catch up by itself: catchup=False).
    cli.run(
        "backfill", "create", "--dag-id", DAG_ID,
        "--from-date", day1.isoformat(), "--to-date", day1.isoformat(), "--max-active-runs", "1",
    )  # fmt: skip

    def both_waiting() -> list[dict[str, Any]] | None:
        runs = airflow.dag_runs(DAG_ID)
        states = [airflow.task_instances(DAG_ID, r["run_id"]).get(DATASET, {}).get("state") for r in runs]
        return runs if len(runs) == 2 and states == ["scheduled", "scheduled"] else None

    airflow.wait_for("both runs' tasks waiting for the pool", both_waiting, WAIT_S)
    cli.run("pools", "set", POOL, "1", "marketpipe: concurrent tasks against alpha_vantage")

    def finished() -> list[dict[str, Any]] | None:
        runs = airflow.dag_runs(DAG_ID)
        return runs if runs and all(r["state"] in ("success", "failed") for r in runs) else None

    runs = airflow.wait_for("both DAG runs to finish", finished, WAIT_S)

    # -- Airflow's own state: two runs on the DAG's timetable, each side of a UTC midnight -----------
    assert [(r["run_type"], r["logical_date"].astimezone(UTC)) for r in runs] == [
        ("backfill", day1),
        ("scheduled", day2),
    ]
    assert _midnight(day2) > day1, "the two runs are on two days"
    for run in runs:
        assert run["state"] == "success", (run, airflow.log_tails())
        task = airflow.task_instances(DAG_ID, run["run_id"])[DATASET]
        assert (task["state"], task["try_number"]) == ("success", 1), task

    # -- the run ledger: day 1 partial (budget gone), day 2 resumes and finishes ----------------------
    ledger = _rows(pg_dsn, "SELECT * FROM collect_runs WHERE dataset = %s ORDER BY run_id", DATASET)
    assert [(r["logical_date"], r["status"]) for r in ledger] == [
        (_midnight(day1), "partial"),
        (_midnight(day2), "ok"),
    ], ledger
    first, second = ledger
    # Each run lived on its own simulated day: its clock started when it was due.
    assert first["started_at"] >= day1 and first["ended_at"] < _midnight(day2), first
    assert second["started_at"] >= day2, second
    assert (first["calls"], first["items_done"], first["items_pending"]) == (LEFT, LEFT, UNIVERSE - LEFT)
    assert first["error_class"] == "QuotaExhausted" and first["resume_at"] == _midnight(day2), first
    assert (second["calls"], second["items_done"], second["items_pending"]) == (
        UNIVERSE - LEFT,
        UNIVERSE - LEFT,
        0,
    )
    assert [r["rows_inserted"] for r in ledger] == [r["items_done"] for r in ledger]

    # -- the quota ledger: two daily windows, each filled to its limit and not one call more ---------
    windows = _rows(
        pg_dsn,
        """SELECT window_name, window_start, used, quota_limit FROM quota_ledger
            WHERE provider = 'alpha_vantage' AND key_hash = %s ORDER BY window_name, window_start""",
        key_hash(AV_KEY),
    )
    daily = [(w["window_start"], w["used"], w["quota_limit"]) for w in windows if w["window_name"] == "day"]
    assert daily == [
        (_midnight(day1), DAILY_LIMIT, DAILY_LIMIT),
        (_midnight(day2), SPENT_BEFORE + UNIVERSE - LEFT, DAILY_LIMIT),
    ]
    assert all(w["used"] <= w["quota_limit"] for w in windows), windows

    # -- no wasted call, nothing skipped: every call reached the sandbox, was served and gave a row ----
    counters = sandbox.admin.counters("alpha_vantage")["totals"]
    assert counters["calls"] == counters["served"] == sum(r["calls"] for r in ledger) == UNIVERSE
    assert counters["refused_quota"] == 0
    symbols = _rows(pg_dsn, "SELECT count(DISTINCT symbol) AS n FROM company_overview")[0]["n"]
    assert symbols == UNIVERSE
