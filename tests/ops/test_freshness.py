"""Freshness against schedules: pure rules (NYSE sessions, weekly, monthly) and a partially collected
database shown by ``marketpipe status`` and ``GET /api/v1/freshness``."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from marketpipe.engine.registry import get_dataset
from marketpipe.ops.freshness import (
    ScheduleError,
    dataset_freshness,
    grace_for,
    is_market_hours,
    missed_runs,
    next_run,
    schedule_period,
    state_of,
)
from plugins.engine import seed_universe

FRIDAY_CLOSE = datetime(2026, 11, 13, 20, 55, tzinfo=UTC)  # 15:55 New York, the last slot before 16:00


def state(schedule: str, last: datetime | None, now: datetime, market: bool = False) -> str:
    missed = missed_runs(schedule, last, now, market_hours=market) if last else 0
    return state_of(
        missed,
        now - last if last else None,
        schedule_period(schedule, now),
        grace_for(schedule, now),
        market_hours=market,
    )


def test_a_market_hours_dataset_stays_fresh_over_the_weekend_and_goes_stale_in_a_silent_session():
    ten = "*/10 * * * *"
    assert state(ten, FRIDAY_CLOSE, datetime(2026, 11, 14, 12, 0, tzinfo=UTC), market=True) == "fresh"
    assert state(ten, FRIDAY_CLOSE, datetime(2026, 11, 16, 14, 34, tzinfo=UTC), market=True) == "fresh"
    assert state(ten, FRIDAY_CLOSE, datetime(2026, 11, 16, 14, 36, tzinfo=UTC), market=True) == "late"
    assert state(ten, FRIDAY_CLOSE, datetime(2026, 11, 16, 15, 0, tzinfo=UTC), market=True) == "stale"
    # Without the session rule the same dataset is stale all weekend.
    assert state(ten, FRIDAY_CLOSE, datetime(2026, 11, 14, 12, 0, tzinfo=UTC)) == "stale"


def test_thanksgiving_is_not_a_session():
    wednesday_close = datetime(2026, 11, 25, 20, 55, tzinfo=UTC)
    thursday = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
    assert state("*/10 * * * *", wednesday_close, thursday, market=True) == "fresh"
    assert next_run("*/10 * * * *", thursday, market_hours=True) == datetime(2026, 11, 27, 14, 30, tzinfo=UTC)


def test_a_weekly_dataset_is_fresh_for_a_week_then_late_then_stale():
    collected = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)  # a Monday: the Sunday run comes first
    assert state("@weekly", collected, collected + timedelta(days=6, hours=23)) == "fresh"
    assert state("@weekly", collected, collected + timedelta(days=7, hours=3)) == "late"
    assert state("@weekly", collected, collected + timedelta(days=13)) == "late"
    assert state("@weekly", collected, collected + timedelta(days=15)) == "stale"


def test_a_weekday_schedule_is_fresh_over_the_weekend():
    friday_run = datetime(2026, 11, 13, 21, 20, tzinfo=UTC)
    assert state("15 21 * * 1-5", friday_run, datetime(2026, 11, 16, 12, 0, tzinfo=UTC)) == "fresh"
    assert state("15 21 * * 1-5", friday_run, datetime(2026, 11, 17, 22, 0, tzinfo=UTC)) == "late"


def test_an_unreadable_schedule_is_a_typed_error():
    with pytest.raises(ScheduleError):
        schedule_period("every tuesday\x00", datetime(2026, 11, 16, tzinfo=UTC))


@settings(max_examples=60, deadline=None)
@given(
    schedule=st.sampled_from(
        ["@daily", "@weekly", "@monthly", "0 */6 * * *", "*/15 * * * *", "0 3,15 * * *"]
    ),
    last=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    gap=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=120)),
    more=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=120)),
)
def test_freshness_only_worsens_as_time_passes(schedule, last, gap, more):
    order = ["fresh", "late", "stale"]
    earlier, later = state(schedule, last, last + gap), state(schedule, last, last + gap + more)
    assert order.index(later) >= order.index(earlier) or (
        # the period is measured at "now": a short month after a long one may flip late back to fresh
        schedule == "@monthly"
    )


def test_market_hours_datasets_are_recognised():
    assert is_market_hours(get_dataset("sp500_market_snapshots"))
    assert is_market_hours(get_dataset("etf_market_snapshots"))
    assert not is_market_hours(get_dataset("cpi"))


@pytest.fixture
def partial_db(collect, db, sandbox, engine_clock):
    """cpi collected; company_overview stopped on quota after 3 of 6; balance_sheet never collected."""
    seed_universe(db, sorted(sandbox.admin.constituents())[:6])
    assert collect("cpi").status == "ok"
    sandbox.admin.set_provider_quota("alpha_vantage", windows=[{"name": "day", "limit": 3, "seconds": 86400}])
    stopped = collect("company_overview")
    assert stopped.status == "partial" and stopped.error_class == "QuotaExhausted" and stopped.resume_at
    return engine_clock.now(), stopped.resume_at


def test_the_freshness_of_a_partially_collected_database(partial_db, pg_dsn):
    now, resume_at = partial_db
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        rows = {r.dataset: r for r in dataset_freshness(conn, now)}
        later = {r.dataset: r for r in dataset_freshness(conn, now + timedelta(days=40))}
        much_later = {r.dataset: r for r in dataset_freshness(conn, now + timedelta(days=75))}
    assert rows["cpi"].state == "fresh" and rows["cpi"].items_done == 1
    assert rows["cpi"].next_run_at == datetime(2026, 12, 1, tzinfo=UTC)
    overview = rows["company_overview"]
    assert overview.state == "fresh" and (overview.items_done, overview.items_fresh) == (3, 3)
    assert overview.resumes_at == resume_at and overview.last_error == "QuotaExhausted"
    assert rows["balance_sheet"].state == "never" and rows["balance_sheet"].resumes_at is None
    assert later["cpi"].state == "late" and later["company_overview"].state == "stale"
    assert later["company_overview"].resumes_at is None  # its keys are back by then
    assert much_later["cpi"].state == "stale"


def test_status_prints_the_freshness_table(partial_db, pg_dsn, sandbox, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPIPE_")}
    env.update(
        PYTHONPATH=os.pathsep.join(sys.path), COLUMNS="220", MARKETPIPE_DATABASE_URL=pg_dsn,
        MARKETPIPE_DATA_DIR=str(tmp_path / "data"),
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", "from marketpipe.cli import app; app()", "status"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = {line.split("│")[1].strip(): line for line in done.stdout.splitlines() if line.count("│") > 5}
    assert "never" in lines["balance_sheet"]
    assert any(state in lines["cpi"] for state in ("fresh", "late", "stale"))  # judged at the wall clock


def test_status_shows_next_run_and_resumes_at_for_the_quota_stopped_dataset(partial_db, settings):
    from rich.console import Console

    from marketpipe.ops.freshness import print_status_freshness

    now, resume_at = partial_db
    console = Console(record=True, width=220)
    print_status_freshness(console, settings, now=now)
    lines = {
        line.split("│")[1].strip(): line for line in console.export_text().splitlines() if line.count("│") > 5
    }
    assert f"{resume_at:%Y-%m-%d %H:%M}" in lines["company_overview"]
    assert "fresh" in lines["company_overview"] and "2026-11-17 06:00" in lines["company_overview"]
    assert "never" in lines["balance_sheet"] and "fresh" in lines["cpi"]


def test_the_freshness_endpoint_serves_every_dataset(partial_db, pg_dsn, redis_url):
    from marketpipe.engine.registry import all_datasets
    from marketpipe.serve import create_app

    with TestClient(create_app(pg_dsn, redis_url)) as client:
        body = client.get("/api/v1/freshness").json()
        assert {d["dataset"] for d in body["datasets"]} == {s.name for s in all_datasets()}
        never = client.get("/api/v1/freshness", params={"state": "never"}).json()["datasets"]
        assert "balance_sheet" in {d["dataset"] for d in never} and "cpi" not in {d["dataset"] for d in never}
        macro = client.get("/api/v1/freshness", params={"group": "macro"}).json()["datasets"]
        assert {d["group"] for d in macro} == {"macro"}
        assert client.get("/api/v1/freshness", params={"state": "rotten"}).status_code == 422
        # A NUL or an over-long parameter is refused by the API's input guard (400) before the route.
        assert client.get("/api/v1/freshness", params={"group": "ma\x00cro"}).status_code == 400
        assert client.get("/api/v1/freshness", params={"group": "x" * 5000}).status_code in (400, 422)
