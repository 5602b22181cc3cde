"""Sink metrics on /metrics and in the log; the `marketpipe stream` CLI (topics, sink)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import psycopg
import redis

from marketpipe.runtime.kafka import free_port
from marketpipe.stream.kinds import SP500
from marketpipe.stream.settings import StreamSettings
from marketpipe.stream.sink import Sink
from marketpipe.stream.topics import partition_counts
from plugins._streamkit import make_trades, produce


def _cli_env(bootstrap: str, dsn: str, redis_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``marketpipe stream`` subprocess pointed at the test's services."""
    return {**os.environ, "MARKETPIPE_DATABASE_URL": dsn, "MARKETPIPE_REDIS_URL": redis_url,
            "MARKETPIPE_DATA_DIR": str(data_dir), "MARKETPIPE_KAFKA_BOOTSTRAP": bootstrap, **extra}  # fmt: skip


def test_metrics_exposed_for_prometheus_and_logged(
    kafka_bootstrap: str, kafka_topic, pg_dsn: str, redis_url: str, redis_client: redis.Redis, caplog
) -> None:
    topic = kafka_topic("metrics", partitions=2)
    trades = make_trades(800, seed=2)
    produce(kafka_bootstrap, topic, trades)
    port = free_port()
    settings = StreamSettings(_env_file=None, batch_size=300, metrics_port=port, log_every_s=0.01)  # type: ignore[call-arg]
    sink = Sink(SP500.with_topic(topic), bootstrap=kafka_bootstrap, dsn=pg_dsn, redis_url=redis_url,
                settings=settings, group_id="g-metrics")  # fmt: skip
    with caplog.at_level(logging.INFO, logger="marketpipe.stream.sink"):
        sink.run(max_messages=len(trades), idle_exit_s=20)
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert 'marketpipe_sink_messages_in_total{kind="trades"} 800.0' in body
    assert 'marketpipe_sink_rows_written_total{kind="trades"} 800.0' in body
    assert 'marketpipe_sink_batch_size_count{kind="trades"}' in body
    assert 'marketpipe_sink_pg_write_seconds_bucket{kind="trades"' in body
    assert 'marketpipe_sink_redis_write_seconds_count{kind="trades"}' in body
    assert 'marketpipe_sink_end_to_end_seconds_count{kind="trades"}' in body
    assert "marketpipe_sink_lag" in body
    assert "marketpipe_sink_dlq_total" in body or sink.metrics.totals.get("dlq", 0) == 0
    assert any("sink trades: in=" in r.getMessage() for r in caplog.records)


def test_cli_topics_and_sink(
    kafka_bootstrap: str, kafka_topic, pg_dsn: str, redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    env = _cli_env(
        kafka_bootstrap, pg_dsn, redis_url, tmp_path, MARKETPIPE_STREAM_PARTITIONS='{"finnhub-trades": 2}'
    )
    cli = [sys.executable, "-m", "marketpipe.stream.cli"]
    done = subprocess.run([*cli, "topics"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "sp500-websocket-trades: 3 partitions" in done.stdout
    assert partition_counts(kafka_bootstrap, ["finnhub-trades", "marketpipe.dlq"]) == {
        "finnhub-trades": 2,
        "marketpipe.dlq": 1,
    }

    topic = kafka_topic("cli", partitions=3)
    trades = make_trades(500, seed=4)
    produce(kafka_bootstrap, topic, trades)
    done = subprocess.run(
        [*cli, "sink", "trades", "--topic", topic, "--group", "g-cli", "--max-messages", "500", "--idle-exit", "30"],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "500 messages, 500 rows, 0 to the DLQ" in done.stdout
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM sp500_websocket_trades").fetchone() == (500,)
    bad = subprocess.run([*cli, "sink", "nosuchkind"], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0


def test_cli_sink_workers_share_partitions_and_stop_together(
    kafka_bootstrap: str, kafka_topic, pg_dsn: str, redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """``--workers 2``: two processes, one consumer group, one partition each; every trade exactly once."""
    env = _cli_env(kafka_bootstrap, pg_dsn, redis_url, tmp_path, MARKETPIPE_STREAM_BATCH_SIZE="500")
    topic = kafka_topic("workers", partitions=2)
    cmd = [sys.executable, "-m", "marketpipe.stream.cli", "sink", "trades", "--topic", topic,
           "--group", "g-workers", "--workers", "2"]  # fmt: skip
    bad = subprocess.run([*cmd, "--max-messages", "10"], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "--workers 1" in bad.stderr

    log = tmp_path / "workers.log"
    with log.open("w") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            # Both members hold a partition before any data exists (else the first one takes it all).
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                last = {}
                for line in log.read_text().splitlines():
                    for w in ("w0", "w1"):
                        if f"[{w}]: sink trades: assigned" in line:
                            last[w] = line.split("assigned", 1)[1].strip()
                if len(last) == 2 and all(last.values()):
                    break
                time.sleep(0.2)
            assert len(last) == 2 and all(last.values()), log.read_text()[-3000:]
            trades = make_trades(6000, seed=11)
            produce(kafka_bootstrap, topic, trades)
            deadline = time.monotonic() + 90
            with psycopg.connect(pg_dsn, autocommit=True) as conn:
                while time.monotonic() < deadline:
                    row = conn.execute(
                        "SELECT coalesce(sum(next_offset), 0)::int FROM stream_offsets WHERE consumer_group = 'g-workers'"
                    ).fetchone()
                    if row and row[0] == len(trades):
                        break
                    time.sleep(0.2)
        finally:
            # SIGTERM to the parent stops every worker cleanly.
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, log.read_text()[-3000:]
    per_worker = {}
    for line in out.splitlines():
        if line.startswith("sink trades worker "):
            index, rest = line.removeprefix("sink trades worker ").split(": ", 1)
            per_worker[int(index)] = int(rest.split(" messages")[0])
    # Both processes did real work, and together exactly the topic.
    assert sorted(per_worker) == [0, 1] and all(n > 0 for n in per_worker.values()), out
    assert sum(per_worker.values()) == len(trades)
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM sp500_websocket_trades").fetchone() == (len(trades),)
        stored = dict(
            conn.execute(
                "SELECT kafka_partition, next_offset FROM stream_offsets WHERE consumer_group = 'g-workers'"
            ).fetchall()
        )
    assert sum(stored.values()) == len(trades) and sorted(stored) == [0, 1]
    newest: dict[str, int] = {}
    for t in trades:
        newest[t.symbol] = max(newest.get(t.symbol, 0), t.timestamp_ms)
    for symbol, ts in newest.items():
        assert orjson.loads(redis_client.get(f"latest:stocks:sp500:{symbol}") or b"{}")["timestamp"] == ts
