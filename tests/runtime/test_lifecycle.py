"""`marketpipe up` / `status` / `down` start and stop real embedded services."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import redis


def run_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPIPE_")}
    env.update({"MARKETPIPE_DATA_DIR": str(data_dir), "COLUMNS": "200"})
    return subprocess.run(
        [sys.executable, "-m", "marketpipe", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_up_is_idempotent_status_reports_and_down_stops(service_tmp_dir: Path) -> None:
    data_dir = service_tmp_dir / "mp"
    first = run_cli(data_dir, "up")
    assert first.returncode == 0, first.stderr
    pg_state = json.loads((data_dir / "run" / "postgres.json").read_text())
    redis_state = json.loads((data_dir / "run" / "redis.json").read_text())
    try:
        with psycopg.connect(pg_state["url"]) as conn:
            tables = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
        assert tables is not None and tables[0] > 0
        assert redis.Redis.from_url(redis_state["url"]).ping()

        again = run_cli(data_dir, "up")
        assert again.returncode == 0, again.stderr
        assert "up to date" in again.stdout
        assert json.loads((data_dir / "run" / "postgres.json").read_text()) == pg_state
        assert json.loads((data_dir / "run" / "redis.json").read_text()) == redis_state

        status = run_cli(data_dir, "status")
        assert status.returncode == 0
        assert status.stdout.count("answering") >= 2
    finally:
        down = run_cli(data_dir, "down")
    assert down.returncode == 0, down.stderr
    assert "stopped postgres" in down.stdout and "stopped redis" in down.stdout
    assert not (data_dir / "run" / "postgres.json").exists()
    after = run_cli(data_dir, "status")
    assert "answering" not in after.stdout.replace("not answering", "")
    # Data survives a restart.
    restarted = run_cli(data_dir, "up")
    try:
        assert restarted.returncode == 0
        assert "up to date" in restarted.stdout
    finally:
        run_cli(data_dir, "down")
