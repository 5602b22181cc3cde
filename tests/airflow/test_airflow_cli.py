"""``marketpipe airflow init`` prepares a real Airflow home: metadata DB, pools and the DB connection."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from marketpipe.orchestration.plan import plan_dags, pool_providers, pool_slots


def test_init_creates_pools_and_stores_the_database_connection(tmp_path: Path, pg_dsn: str) -> None:
    home = tmp_path / "airflow"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MARKETPIPE_", "AIRFLOW"))}
    env.update({"MARKETPIPE_DATABASE_URL": pg_dsn, "MARKETPIPE_DATA_DIR": str(tmp_path / "data")})
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from marketpipe.orchestration.airflow_cli import app; app()",
            "init",
            "--home",
            str(home),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    with sqlite3.connect(home / "airflow.db") as meta:
        pools = dict(meta.execute("SELECT pool, slots FROM slot_pool").fetchall())
        conn = meta.execute(
            "SELECT conn_type, host, schema FROM connection WHERE conn_id = 'marketpipe_postgres'"
        ).fetchone()
    for provider in pool_providers():
        assert pools[f"marketpipe_{provider}"] == pool_slots(provider)
    assert {t.pool for p in plan_dags() for t in p.tasks if t.pool} <= set(pools)
    expected = conninfo_to_dict(pg_dsn)
    assert conn == ("postgres", expected.get("host"), expected["dbname"])
