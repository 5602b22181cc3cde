"""Sink metrics on /metrics and in the log; the `marketpipe stream` CLI (topics, sink)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg
import redis

from marketpipe.runtime.kafka import free_port
from marketpipe.stream.kinds import SP500
from marketpipe.stream.settings import StreamSettings
from marketpipe.stream.sink import Sink
from marketpipe.stream.topics import partition_counts
from plugins._streamkit import make_trades, produce


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
    env = {**os.environ, "MARKETPIPE_DATABASE_URL": pg_dsn, "MARKETPIPE_REDIS_URL": redis_url,
           "MARKETPIPE_DATA_DIR": str(tmp_path), "MARKETPIPE_KAFKA_BOOTSTRAP": kafka_bootstrap,
           "MARKETPIPE_STREAM_PARTITIONS": '{"finnhub-trades": 2}'}  # fmt: skip
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
