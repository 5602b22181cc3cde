"""``marketpipe collect`` / ``marketpipe runs`` as real processes against the sandbox."""

from __future__ import annotations

import os
import subprocess
import sys

from plugins.engine import FRED_KEY_1, count


def _cli(args: list[str], env: dict[str, str], cwd) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "marketpipe.engine.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _env(pg_dsn: str, port: int, tmp_path, **keys: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPIPE_")}
    env.update(
        PYTHONPATH=os.pathsep.join(sys.path),
        COLUMNS="200",
        MARKETPIPE_DATABASE_URL=pg_dsn,
        MARKETPIPE_SANDBOX="true",
        MARKETPIPE_SANDBOX_PORT=str(port),
        MARKETPIPE_DATA_DIR=str(tmp_path / "data"),
    )
    env.update(keys)
    return env


def test_collect_a_group_prints_a_summary_and_records_runs(pg_dsn, db, sandbox, tmp_path):
    env = _env(pg_dsn, sandbox.port, tmp_path, MARKETPIPE_FRED_KEYS=FRED_KEY_1)
    done = _cli(["collect", "--group", "macro"], env, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("cpi", "inflation", "federal_funds_rate", "treasury_yield"):
        assert name in done.stdout
    assert "collection summary" in done.stdout
    assert count(db, "SELECT count(*) FROM collect_runs WHERE status = 'ok'") == 4
    assert count(db, "SELECT count(*) FROM cpi") > 0

    runs = _cli(["runs", "-n", "10"], env, tmp_path)
    assert runs.returncode == 0 and "treasury_yield" in runs.stdout


def test_collect_exits_non_zero_on_failure_and_on_unknown_names(pg_dsn, sandbox, tmp_path):
    env = _env(pg_dsn, sandbox.port, tmp_path)  # no keys at all
    failed = _cli(["collect", "cpi"], env, tmp_path)
    assert failed.returncode == 1
    assert "ConfigurationError" in failed.stdout
    unknown = _cli(["collect", "no_such_dataset"], env, tmp_path)
    assert unknown.returncode == 2 and "unknown dataset" in unknown.stdout
    listing = _cli(["collect", "--list"], env, tmp_path)
    assert listing.returncode == 0 and "company_overview" in listing.stdout
