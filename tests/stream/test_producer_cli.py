"""`marketpipe stream produce finnhub` as a process: universe from sp500_companies, shard from the
StatefulSet hostname, graceful SIGTERM (flush), rate log lines without the token."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

from marketpipe.stream.producers.sharding import shard_of
from plugins._producerkit import read_topic


def test_finnhub_command_runs_a_statefulset_shard_and_flushes_on_sigterm(
    sandbox: Any, idempotent_kafka: str, kafka_topic: Callable[..., str], pg_dsn: str, tmp_path: Path
) -> None:
    current = sorted(sandbox.admin.constituents())[:20]
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            "INSERT INTO sp500_companies (symbol, company_name) SELECT s, s || ' Inc' FROM unnest(%s::text[]) s",
            (current,),
        )
        # A former member must not be subscribed.
        conn.execute(
            "INSERT INTO sp500_companies (symbol, company_name, is_current, removed_at) "
            "VALUES ('GONE', 'Gone Corp', false, now())"
        )
    topic = kafka_topic("cli")
    token = "k2-cli-secret-token"
    env = {
        **os.environ,
        "MARKETPIPE_SANDBOX": "true",
        "MARKETPIPE_SANDBOX_PORT": str(sandbox.port),
        "MARKETPIPE_DATABASE_URL": pg_dsn,
        "MARKETPIPE_DATA_DIR": str(tmp_path / "data"),
        "MARKETPIPE_FINNHUB_KEYS": f"other-key,{token}",  # shard 1 of 2 takes key 1
        "MARKETPIPE_SHARDS": "2",
        "HOSTNAME": "sp500-producer-1",
        "COLUMNS": "400",  # one log record per line from the rich console handler
    }
    env.pop("MARKETPIPE_SHARD_ORDINAL", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "marketpipe",
            "stream",
            "produce",
            "finnhub",
            "--bootstrap",
            idempotent_kafka,
            "--topic",
            topic,
            "--log-interval",
            "0.5",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None and _trades_sent(sandbox) < 300:
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert token not in out + err and "token=***" in out + err
    logs = out + err
    stats_lines = [line for line in logs.splitlines() if "event=producer.stats" in line]
    assert stats_lines and "shard=1/2" in stats_lines[-1] and re.search(r"rate_produced=\d", stats_lines[-1])
    (final,) = [line for line in out.splitlines() if line.startswith("finished ")]
    summary = dict(pair.split("=", 1) for pair in final.split()[1:])
    assert int(summary["produced"]) > 0 and summary["produced"] == summary["delivered"]

    mine = sorted(s for s in current if shard_of(s, 2) == 1)
    messages = read_topic(idempotent_kafka, topic, int(summary["produced"]))
    assert len(messages) == int(summary["produced"])
    bodies = [orjson.loads(m.value()) for m in messages]
    assert {b["symbol"] for b in bodies} <= set(mine)
    assert all(b["shard"] == 1 and b["shards"] == 2 and b["pod_name"] == "sp500-producer-1" for b in bodies)


def _trades_sent(sandbox: Any) -> int:
    """Trades the sandbox WebSocket has sent so far (its sandbox-only stats endpoint)."""
    totals = httpx.get(f"{sandbox.url}/finnhub/ws/_settings").json()["totals"]
    return int(totals["trades"])
