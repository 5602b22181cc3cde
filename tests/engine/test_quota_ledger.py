"""The quota ledger in real PostgreSQL: reservation before sending, windows, spent marks, and two OS
processes that never exceed a quota together."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import psycopg

from marketpipe.engine.quota import QuotaLedger
from marketpipe.http.types import per_day, per_minute, per_month

NOON = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)


def test_reservations_stop_at_the_limit_and_say_when_the_window_reopens(pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        ledger = QuotaLedger(conn)
        windows = (per_day(3), per_minute(2))
        assert ledger.reserve("alpha_vantage", "k1", windows, NOON) is None
        assert ledger.reserve("alpha_vantage", "k1", windows, NOON) is None
        denied = ledger.reserve("alpha_vantage", "k1", windows, NOON)
        assert denied is not None and denied.window == "minute"
        assert denied.until == NOON + timedelta(minutes=1)
        # A refused reservation consumed nothing: the day window still has one call left.
        assert ledger.used("alpha_vantage", "k1", windows[0], NOON) == 2
        assert ledger.reserve("alpha_vantage", "k1", windows, NOON + timedelta(minutes=1)) is None
        day_full = ledger.reserve("alpha_vantage", "k1", windows, NOON + timedelta(minutes=2))
        assert day_full is not None and day_full.window == "day"
        assert day_full.until == datetime(2026, 11, 17, tzinfo=UTC)
        # Another key has its own budget.
        assert ledger.reserve("alpha_vantage", "k2", windows, NOON) is None


def test_month_windows_and_spent_marks(pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        ledger = QuotaLedger(conn)
        assert per_month(1).bounds(NOON) == (
            datetime(2026, 11, 1, tzinfo=UTC),
            datetime(2026, 12, 1, tzinfo=UTC),
        )
        ledger.mark_spent("x", "t1", NOON + timedelta(hours=2), "monthly usage cap")
        denied = ledger.reserve("x", "t1", (per_month(100),), NOON)
        assert denied is not None and denied.spent_mark and denied.until == NOON + timedelta(hours=2)
        # A shorter mark never shortens a longer one.
        ledger.mark_spent("x", "t1", NOON + timedelta(minutes=5), "window")
        assert ledger.spent_until("x", "t1", NOON) == NOON + timedelta(hours=2)
        assert ledger.reserve("x", "t1", (per_month(100),), NOON + timedelta(hours=3)) is None


_RESERVER = """
import json, sys
from datetime import UTC, datetime
import psycopg
from marketpipe.engine.quota import QuotaLedger
from marketpipe.http.types import per_day
dsn, limit = sys.argv[1], int(sys.argv[2])
now = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
granted = 0
with psycopg.connect(dsn, autocommit=True) as conn:
    ledger = QuotaLedger(conn)
    for _ in range(limit * 2):
        if ledger.reserve("alpha_vantage", "shared", (per_day(limit),), now) is None:
            granted += 1
print(json.dumps({"granted": granted}))
"""


def test_two_processes_never_exceed_a_quota_together(pg_dsn):
    limit = 40
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RESERVER, pg_dsn, str(limit)], stdout=subprocess.PIPE, env=env
        )
        for _ in range(2)
    ]
    granted = [json.loads(p.communicate(timeout=60)[0])["granted"] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum(granted) == limit
    with psycopg.connect(pg_dsn) as conn:
        used = conn.execute("SELECT used FROM quota_ledger WHERE key_hash = 'shared'").fetchone()[0]
    assert used == limit
