"""Failure behaviour on real services: kill -9 of the sink, PostgreSQL and Redis restarts.

Each test streams trades through a real Apache Kafka broker while something breaks, then checks
that PostgreSQL holds exactly the produced trades (0 lost, 0 duplicated) and that Redis shows the
newest trade per symbol.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import psycopg
import pytest
import redis

from marketpipe.db import migrate
from marketpipe.runtime.kafka import free_port
from marketpipe.runtime.redis import redis_server_binary
from marketpipe.stream.bus import make_producer
from marketpipe.stream.kinds import SP500
from marketpipe.stream.settings import StreamSettings
from marketpipe.stream.sink import Sink
from plugins._streamkit import Trade, make_trades, newest_per_symbol, produce

pytestmark = pytest.mark.slow


def _paced_producer(bootstrap: str, topic: str, trades: list[Trade], seconds: float) -> threading.Thread:
    """Produce ``trades`` spread over about ``seconds`` in a background thread."""

    def run() -> None:
        producer = make_producer(bootstrap)
        chunks = 50
        size = max(1, len(trades) // chunks)
        started = time.monotonic()
        for i in range(0, len(trades), size):
            produce(bootstrap, topic, trades[i : i + size], producer)
            ahead = started + seconds * (i + size) / len(trades) - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


class _ExternalPostgres:
    """A PostgresService driven from child processes.

    pgserver caches its server handle per data dir inside a process, so a stop and start in the
    test process itself would not really restart the server; children always start fresh.
    """

    def __init__(self, data_dir: Path) -> None:
        self.env = {**os.environ, "MARKETPIPE_DATA_DIR": str(data_dir)}
        self.env.pop("MARKETPIPE_DATABASE_URL", None)

    def _run(self, action: str) -> str:
        code = (
            "from marketpipe.config import Settings; from marketpipe.runtime import PostgresService; "
            f"s = PostgresService(Settings(_env_file=None)); print(s.{action}())"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], env=self.env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.strip().splitlines()[-1]

    def start(self) -> str:
        return self._run("start")

    def stop(self) -> None:
        self._run("stop")


def _assigned_lines(log: Path) -> int:
    return log.read_text(errors="replace").count(": assigned ")


def _pg_rows(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT symbol, price::float8, volume::float8, timestamp_ms, seq FROM sp500_websocket_trades"
        ).fetchall()


def _pg_count(dsn: str) -> int:
    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            return int(conn.execute("SELECT count(*) FROM sp500_websocket_trades").fetchone()[0])  # type: ignore[index]
    except psycopg.OperationalError:
        return -1


def _wait_for_count(dsn: str, expected: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    count = _pg_count(dsn)
    while count < expected and time.monotonic() < deadline:
        time.sleep(0.2)
        count = _pg_count(dsn)
    return count


def _assert_exact(dsn: str, trades: list[Trade], client: redis.Redis) -> None:
    rows = _pg_rows(dsn)
    expected = [(t.symbol, t.price, t.volume, t.timestamp_ms, t.seq) for t in trades]
    assert len(rows) == len(expected), f"{len(rows)} rows for {len(expected)} trades"
    assert sorted(rows) == sorted(expected)  # 0 lost, 0 duplicated
    for symbol, trade in newest_per_symbol(trades).items():
        latest = orjson.loads(client.get(f"latest:stocks:sp500:{symbol}"))
        assert (latest["price"], latest["timestamp"]) == (trade.price, trade.timestamp_ms), symbol
        field = orjson.loads(client.hget("sp500_realtime_data", symbol))
        assert field == latest


def test_kill_9_sink_repeatedly_loses_and_duplicates_nothing(
    kafka_bootstrap: str, kafka_topic, pg_dsn: str, redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    topic = kafka_topic("crash", partitions=3)
    dlq = kafka_topic("crash-dlq")
    trades = make_trades(120_000, symbols=[f"C{i:03d}" for i in range(300)], seed=99)
    env = {
        **os.environ,
        "MARKETPIPE_DATABASE_URL": pg_dsn,
        "MARKETPIPE_REDIS_URL": redis_url,
        "MARKETPIPE_DATA_DIR": str(tmp_path / "data"),
        "MARKETPIPE_STREAM_BATCH_SIZE": "2000",
    }
    cmd = [sys.executable, "-m", "marketpipe.stream.cli", "sink", "trades", "--bootstrap", kafka_bootstrap,
           "--topic", topic, "--group", "g-crash", "--dlq-topic", dlq]  # fmt: skip
    log = (tmp_path / "sink.log").open("ab")
    producer_thread = _paced_producer(kafka_bootstrap, topic, trades, seconds=12)
    rng = random.Random(1234)
    kills = 0
    counts = []
    while kills < 6:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        time.sleep(rng.uniform(1.2, 2.5))  # random point: start-up, mid-batch, between commits
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        kills += 1
        counts.append(_pg_count(pg_dsn))
    producer_thread.join(60)
    assert not producer_thread.is_alive()
    # Progress happened between kills (the kills did land mid-stream).
    assert counts[-1] > 0 and len(set(counts)) > 2, counts
    assigned_before = _assigned_lines(tmp_path / "sink.log")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        # The last sink must really run (earlier ones may already have written everything).
        deadline = time.monotonic() + 60
        while _assigned_lines(tmp_path / "sink.log") == assigned_before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _assigned_lines(tmp_path / "sink.log") > assigned_before
        assert _wait_for_count(pg_dsn, len(trades), timeout=120) == len(trades)
        deadline = time.monotonic() + 30
        # Redis is updated right after the last PostgreSQL commit; give it a moment.
        while time.monotonic() < deadline:
            try:
                _assert_exact(pg_dsn, trades, redis_client)
                break
            except (AssertionError, TypeError):
                time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    _assert_exact(pg_dsn, trades, redis_client)
    assert proc.returncode == 0


def test_postgres_restart_mid_stream_sink_waits_and_resumes(
    kafka_bootstrap: str, kafka_topic, redis_url: str, redis_client: redis.Redis, service_tmp_dir: Path
) -> None:
    """A dedicated PostgreSQL (not the session's) is stopped and started while trades flow."""
    service = _ExternalPostgres(service_tmp_dir)
    dsn = service.start()
    try:
        with psycopg.connect(dsn) as conn:
            migrate(conn)
        topic = kafka_topic("pgrestart", partitions=3)
        trades = make_trades(30_000, seed=8)
        settings = StreamSettings(_env_file=None, batch_size=1000)  # type: ignore[call-arg]
        sink = Sink(SP500.with_topic(topic), bootstrap=kafka_bootstrap, dsn=dsn, redis_url=redis_url,
                    settings=settings, group_id="g-pgrestart")  # fmt: skip
        runner = threading.Thread(target=sink.run, daemon=True)
        runner.start()
        producer_thread = _paced_producer(kafka_bootstrap, topic, trades, seconds=6)
        assert _wait_for_count(dsn, 3000, timeout=60) >= 3000
        service.stop()  # fast shutdown: the sink's connection dies mid-stream
        time.sleep(2)  # trades keep arriving in Kafka while the database is down
        assert _pg_count(dsn) == -1
        dsn_again = service.start()
        assert dsn_again == dsn
        producer_thread.join(60)
        assert _wait_for_count(dsn, len(trades), timeout=90) == len(trades)
        sink.stop()
        runner.join(30)
        assert sink.metrics.totals.get("pg_retries", 0) >= 1
        _assert_exact(dsn, trades, redis_client)
    finally:
        service.stop()


def test_redis_restart_postgres_unaffected_and_redis_catches_up(
    kafka_bootstrap: str, kafka_topic, pg_dsn: str, tmp_path: Path
) -> None:
    """A dedicated redis-server on a fixed port is killed and restarted (empty) while trades flow."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    cmd = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
           "--dir", str(tmp_path)]  # fmt: skip

    def start_redis() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                return proc
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    server = start_redis()
    try:
        topic = kafka_topic("redisrestart", partitions=3)
        trades = make_trades(30_000, seed=13)
        settings = StreamSettings(_env_file=None, batch_size=1000)  # type: ignore[call-arg]
        sink = Sink(SP500.with_topic(topic), bootstrap=kafka_bootstrap, dsn=pg_dsn, redis_url=url,
                    settings=settings, group_id="g-redisrestart")  # fmt: skip
        runner = threading.Thread(target=sink.run, daemon=True)
        runner.start()
        producer_thread = _paced_producer(kafka_bootstrap, topic, trades, seconds=6)
        assert _wait_for_count(pg_dsn, 3000, timeout=60) >= 3000
        server.kill()
        server.wait(10)
        during = _pg_count(pg_dsn)
        # PostgreSQL keeps filling while Redis is down.
        assert _wait_for_count(pg_dsn, during + 3000, timeout=30) >= during + 3000
        assert sink.metrics.totals.get("redis_errors", 0) >= 1
        server = start_redis()  # empty: --save ""
        producer_thread.join(60)
        assert _wait_for_count(pg_dsn, len(trades), timeout=90) == len(trades)
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                _assert_exact(pg_dsn, trades, client)
                break
            except (AssertionError, TypeError):
                time.sleep(0.2)
        sink.stop()
        runner.join(30)
        _assert_exact(pg_dsn, trades, client)
    finally:
        server.kill()
        server.wait(10)
