"""`marketpipe airflow deployed` as a user runs it: the command, Airflow's own CLI, Ctrl-C.

The scheduler test drives :class:`DeployedAirflow` from Python; this one types the commands the docs
give: start the deployment with ``--unpause``, watch the DAG run with plain ``airflow dags list-runs``
after sourcing the printed ``deployment.env``, then SIGTERM and check nothing is left running.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest

from plugins.sandbox import SandboxHandle

DAG_ID = "marketpipe_crypto_every_6h_m00"  # one task: coingecko_global
WAIT_S = 300  # bounds a hang only


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    out: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return out


def _wait_line(
    lines: queue.Queue[str], proc: subprocess.Popen[str], pattern: str, seen: list[str]
) -> re.Match[str]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            assert proc.poll() is None, f"the command exited {proc.returncode}:\n" + "\n".join(seen[-40:])
            continue
        seen.append(line)
        if found := re.search(pattern, line):
            return found
    raise AssertionError(f"no line matching {pattern!r} within {WAIT_S} s:\n" + "\n".join(seen[-40:]))


def _json(out: str) -> Any:
    """The JSON document of an ``airflow ... -o json`` output (Airflow logs warnings before it)."""
    for line in out.splitlines():
        if line.startswith(("[{", "[]", "{")):
            return json.loads(line)
    raise AssertionError(f"no JSON in: {out[-2000:]}")


def _airflow_cli(env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Airflow's own CLI after `. deployment.env`, in a shell without marketpipe's environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MARKETPIPE_"))}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    script = f". {env_file} && exec airflow " + " ".join(args)
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=180)


def test_the_deployed_command_unpauses_runs_and_stops_cleanly(
    pg_server: str, pg_dsn: str, sandbox: SandboxHandle, tmp_path: Path
) -> None:
    home = tmp_path / "airflow"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MARKETPIPE_"))}
    env.update(
        {
            "MARKETPIPE_DATABASE_URL": pg_dsn,
            "MARKETPIPE_DATA_DIR": str(tmp_path / "data"),
            "MARKETPIPE_SANDBOX": "true",
            "MARKETPIPE_SANDBOX_PORT": str(sandbox.port),
            "MARKETPIPE_AIRFLOW_RETRIES": "0",
            "MARKETPIPE_COINGECKO_KEYS": "cg-demo-key",  # the sandbox takes any non-empty key
            "COLUMNS": "400",
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "marketpipe", "airflow", "deployed", "--home", str(home), "--unpause", DAG_ID],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    seen: list[str] = []
    descendants: list[psutil.Process] = []
    lines = _lines(proc)
    try:
        api = _wait_line(lines, proc, r"UI and API on (http://127\.0\.0\.1:\d+)", seen).group(1)
        env_file = Path(
            _wait_line(lines, proc, r"`\. (\S+deployment\.env) && airflow dags list`", seen).group(1)
        )
        _wait_line(lines, proc, rf"^unpaused {DAG_ID}$", seen)
        descendants = psutil.Process(proc.pid).children(recursive=True)
        assert len(descendants) >= 3  # scheduler, DAG processor, API server (and their workers)

        # The env file is private and is all Airflow's CLI needs to reach this deployment.
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        listed = _airflow_cli(env_file, "dags", "list", "-o", "json")
        assert listed.returncode == 0, listed.stderr[-2000:]
        dags = {d["dag_id"]: d for d in _json(listed.stdout)}
        assert DAG_ID in dags and str(dags[DAG_ID]["is_paused"]).lower() == "false"

        deadline = time.monotonic() + WAIT_S
        runs: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            done = _airflow_cli(env_file, "dags", "list-runs", DAG_ID, "-o", "json")
            assert done.returncode == 0, done.stderr[-2000:]
            runs = _json(done.stdout) if done.stdout.strip() else []
            if runs and runs[0]["state"] in {"success", "failed"}:
                break
            assert proc.poll() is None, "\n".join(seen[-40:])
            time.sleep(3)
        assert runs and runs[0]["state"] == "success", (runs, "\n".join(seen[-40:]))
        assert runs[0]["run_id"].startswith("scheduled__")  # the scheduler made it, not a test command
        with psycopg.connect(pg_dsn) as conn:
            (rows,) = conn.execute("SELECT count(*) FROM coingecko_global").fetchone()  # type: ignore[misc]
        assert rows >= 1
        assert httpx_health(api)["scheduler"]["status"] == "healthy"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS "airflow_metadata" WITH (FORCE)')
    time.sleep(1)
    while not lines.empty():  # what the command printed while stopping
        seen.append(lines.get())
    rest = "\n".join(seen[-10:])
    assert proc.returncode == 0, rest
    assert seen[-1] == "stopped", rest  # every component ended on SIGTERM: none had to be killed
    left = [p.pid for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert left == [], f"processes left behind: {left}"


def httpx_health(api: str) -> dict[str, Any]:
    import httpx

    response = httpx.get(f"{api}/api/v2/monitor/health", timeout=10)
    response.raise_for_status()
    return dict(response.json())


@pytest.mark.parametrize("bad", ["no_such_dag"])
def test_the_deployed_command_refuses_an_unknown_dag_before_starting_anything(
    bad: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "marketpipe", "airflow", "deployed", "--home", str(tmp_path / "a"), "--unpause", bad],
        env={**os.environ, "MARKETPIPE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "400"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert "unknown DAG id(s): no_such_dag" in done.stderr
    assert not (tmp_path / "a" / "logs").exists()
