"""`marketpipe stream produce finnhub` as a process: universe from sp500_companies, shard from the
StatefulSet hostname, graceful SIGTERM (flush), rate log lines without the token."""

from __future__ import annotations

import os
import re
import signal
import socket
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
    env = _env(
        sandbox, tmp_path, MARKETPIPE_DATABASE_URL=pg_dsn, MARKETPIPE_SHARDS="2", HOSTNAME="sp500-producer-1"
    )
    env["MARKETPIPE_FINNHUB_KEYS"] = f"other-key,{token}"  # shard 1 of 2 owns pool entry 1
    metrics_port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "marketpipe", "stream", "produce", "finnhub", "--bootstrap", idempotent_kafka,
         "--topic", topic, "--log-interval", "0.5", "--metrics-port", str(metrics_port)],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and _delivered(metrics_port) < 300:
            time.sleep(0.2)
        # A dropped connection: the process records the gap in stream_gaps of its database.
        httpx.post(f"{sandbox.url}/finnhub/ws/_disconnect").raise_for_status()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and not _gaps(pg_dsn, topic):
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
    summary = _finished(out)
    assert int(summary["produced"]) > 0 and summary["produced"] == summary["delivered"]

    mine = sorted(s for s in current if shard_of(s, 2) == 1)
    messages = read_topic(idempotent_kafka, topic, int(summary["produced"]))
    assert len(messages) == int(summary["produced"])
    bodies = [orjson.loads(m.value()) for m in messages]
    assert {b["symbol"] for b in bodies} <= set(mine)
    assert all(b["shard"] == 1 and b["shards"] == 2 and b["pod_name"] == "sp500-producer-1" for b in bodies)
    [(shard, symbols)] = _gaps(pg_dsn, topic)
    assert shard.startswith("1/2") and set(symbols) == set(mine)  # "1/2#0": shard 1 of 2, connection 0


def _gaps(dsn: str, topic: str) -> list[tuple[str, list[str]]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT shard, symbols FROM stream_gaps WHERE stream = %s", (topic,)).fetchall()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _delivered(metrics_port: int) -> float:
    """``marketpipe_producer_delivered_total`` scraped from the producer's Prometheus endpoint."""
    try:
        text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2).text
    except httpx.TransportError:
        return 0.0  # not serving yet
    for line in text.splitlines():
        if line.startswith("marketpipe_producer_delivered_total{"):
            assert 'producer="finnhub"' in line and 'shard="1/2"' in line
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _env(sandbox: Any, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "MARKETPIPE_SANDBOX": "true",
        "MARKETPIPE_SANDBOX_PORT": str(sandbox.port),
        "MARKETPIPE_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "400",  # one log record per line from the rich console handler
        **extra,
    }
    for inherited in ("MARKETPIPE_FINNHUB_KEYS", "MARKETPIPE_SHARD_ORDINAL", "MARKETPIPE_SHARDS"):
        if inherited not in extra:
            env.pop(inherited, None)
    return env


def _finished(out: str) -> dict[str, str]:
    (final,) = [line for line in out.splitlines() if line.startswith("finished ")]
    return dict(pair.split("=", 1) for pair in final.split()[1:])


def test_bithumb_command_polls_until_max_seconds(
    sandbox: Any, idempotent_kafka: str, kafka_topic: Callable[..., str], tmp_path: Path
) -> None:
    topic = kafka_topic("cli-bithumb")
    done = subprocess.run(
        [sys.executable, "-m", "marketpipe", "stream", "produce", "bithumb", "--bootstrap", idempotent_kafka,
         "--topic", topic, "--markets", "KRW-BTC,KRW-ETH", "--interval", "0.5", "--max-seconds", "3"],
        env=_env(sandbox, tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    summary = _finished(done.stdout)
    assert int(summary["polls"]) >= 2 and summary["produced"] == summary["delivered"]
    markets = {orjson.loads(m.value())["market"] for m in read_topic(idempotent_kafka, topic, 2)}
    assert markets == {"KRW-BTC", "KRW-ETH"}


def test_topgainers_command_streams_the_latest_batch(
    sandbox: Any, idempotent_kafka: str, kafka_topic: Callable[..., str], pg_dsn: str, tmp_path: Path
) -> None:
    gainers = sorted(sandbox.admin.constituents())[:3]
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            "INSERT INTO top_gainers (batch_id, symbol, category, rank_position) "
            "SELECT 7, s, 'top_gainers', r FROM unnest(%s::text[]) WITH ORDINALITY AS t(s, r)",
            (gainers,),
        )
    topic = kafka_topic("cli-topgainers")
    done = subprocess.run(
        [sys.executable, "-m", "marketpipe", "stream", "produce", "topgainers", "--bootstrap", idempotent_kafka,
         "--topic", topic, "--max-seconds", "4"],
        env=_env(sandbox, tmp_path, MARKETPIPE_DATABASE_URL=pg_dsn), cwd=tmp_path, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    summary = _finished(done.stdout)
    assert int(summary["delivered"]) > 0 and summary["batches"] == "1"
    bodies = [orjson.loads(m.value()) for m in read_topic(idempotent_kafka, topic, int(summary["delivered"]))]
    assert {b["symbol"] for b in bodies} <= set(gainers)
    assert {(b["category"], b["batch_id"]) for b in bodies} == {("top_gainers", 7)}


def test_a_producer_that_cannot_deliver_exits_non_zero_with_the_count(sandbox: Any, tmp_path: Path) -> None:
    """Issue #17.9: a producer that lost its broker purged what it had and exited 0."""
    dead_broker = f"127.0.0.1:{_free_port()}"  # nothing listens: every message stays undelivered
    done = subprocess.run(
        [sys.executable, "-m", "marketpipe", "stream", "produce", "bithumb", "--bootstrap", dead_broker,
         "--markets", "KRW-BTC,KRW-ETH", "--interval", "0.3", "--max-seconds", "3"],
        env=_env(sandbox, tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    summary = _finished(done.stdout)
    produced = int(summary["produced"])
    assert produced >= 1 and int(summary["undelivered"]) == produced and "delivered" not in summary
    assert f"error: {produced} messages were not delivered to Kafka" in done.stderr
    assert f"event=producer.undelivered producer=bithumb undelivered={produced}" in done.stdout + done.stderr
