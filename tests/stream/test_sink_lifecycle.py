"""The sink as a process: membership on one host, fencing, and a bounded SIGTERM without a broker."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from confluent_kafka import Consumer, KafkaException
from confluent_kafka.admin import AdminClient

from marketpipe.runtime.kafka import ApacheKafkaBroker
from marketpipe.stream.topics import TopicSpec, ensure_topics
from plugins._streamkit import make_trades, produce


def _sink(
    bootstrap: str, topic: str, group: str, dsn: str, redis_url: str, tmp_path: Path, **env: str
) -> subprocess.Popen[str]:
    environ = {
        **os.environ,
        "MARKETPIPE_DATABASE_URL": dsn,
        "MARKETPIPE_REDIS_URL": redis_url,
        "MARKETPIPE_DATA_DIR": str(tmp_path / "data"),
        "MARKETPIPE_STREAM_LOG_EVERY_S": "1",
        **env,
    }
    if "MARKETPIPE_STREAM_INSTANCE_ID" not in env:
        environ.pop("MARKETPIPE_STREAM_INSTANCE_ID", None)
    return subprocess.Popen(
        [sys.executable, "-m", "marketpipe", "stream", "sink", "trades", "--bootstrap", bootstrap, "--topic", topic,
         "--group", group, "--dlq-topic", f"{topic}-dlq", "--no-create-topics"],
        env=environ, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _members(bootstrap: str, group: str) -> int:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    (future,) = admin.describe_consumer_groups([group]).values()
    try:
        return len(future.result(timeout=10).members)
    except KafkaException:  # the coordinator is still being elected / loaded: ask again
        return -1


def _rows(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return int(conn.execute("SELECT count(*) FROM sp500_websocket_trades").fetchone()[0])  # type: ignore[index]


def _stop(*procs: subprocess.Popen[str]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


def test_two_sinks_on_one_host_are_two_members_by_default(
    kafka_bootstrap: str, kafka_topic: Callable[..., str], pg_dsn: str, redis_url: str, tmp_path: Path
) -> None:
    """Issue #17.10: two sinks on one host shared the default static member id; one was fenced."""
    topic = kafka_topic("two-sinks", partitions=2)
    kafka_topic(f"{topic}-dlq")
    a = _sink(kafka_bootstrap, topic, "g-two", pg_dsn, redis_url, tmp_path)
    b = _sink(kafka_bootstrap, topic, "g-two", pg_dsn, redis_url, tmp_path)
    try:
        trades = make_trades(2000, seed=3)
        produce(kafka_bootstrap, topic, trades)
        deadline = time.monotonic() + 90
        while (
            _rows(pg_dsn) < len(trades) or _members(kafka_bootstrap, "g-two") != 2
        ) and time.monotonic() < deadline:
            assert a.poll() is None and b.poll() is None, "a sink exited"
            time.sleep(0.5)
        assert _rows(pg_dsn) == len(trades)
        assert _members(kafka_bootstrap, "g-two") == 2
        assert a.poll() is None and b.poll() is None
    finally:
        _stop(a, b)


def test_a_fenced_sink_exits_non_zero_with_a_clear_message(
    kafka_bootstrap: str, kafka_topic: Callable[..., str], pg_dsn: str, redis_url: str, tmp_path: Path
) -> None:
    topic = kafka_topic("fenced")
    kafka_topic(f"{topic}-dlq")
    same = {"MARKETPIPE_STREAM_INSTANCE_ID": "sink-0"}
    first = _sink(kafka_bootstrap, topic, "g-fenced", pg_dsn, redis_url, tmp_path, **same)
    second = None
    try:
        deadline = time.monotonic() + 60
        while _members(kafka_bootstrap, "g-fenced") != 1:
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.5)
        second = _sink(kafka_bootstrap, topic, "g-fenced", pg_dsn, redis_url, tmp_path, **same)
        # One of them is fenced by the other and must stop, non-zero, saying why.
        deadline = time.monotonic() + 90
        while first.poll() is None and second.poll() is None:
            assert time.monotonic() < deadline, "both sinks kept running with one member id"
            time.sleep(0.5)
        fenced = first if first.poll() is not None else second
        _, err = fenced.communicate(timeout=30)
        assert fenced.returncode == 1, err[-2000:]
        assert "fatal Kafka consumer error" in err and "MARKETPIPE_STREAM_INSTANCE_ID" in err
        assert "Traceback" not in err
    finally:
        _stop(first, *([second] if second else []))


def test_sigterm_with_the_broker_gone_exits_promptly(
    kafka_broker: ApacheKafkaBroker, pg_dsn: str, redis_url: str, tmp_path: Path
) -> None:
    """Issue #17.11: SIGTERM hung for minutes closing the consumer when the broker was gone."""
    broker = ApacheKafkaBroker(work_dir=tmp_path / "k", libs_dir=kafka_broker.libs_dir, heap="256m")
    broker.start(timeout=180)
    proc = None
    try:
        ensure_topics(broker.bootstrap, [TopicSpec("gone", 1), TopicSpec("gone-dlq", 1)])
        proc = _sink(broker.bootstrap, "gone", "g-gone", pg_dsn, redis_url, tmp_path,
                     MARKETPIPE_STREAM_SHUTDOWN_TIMEOUT_S="5")  # fmt: skip
        trades = make_trades(500, seed=9)
        produce(broker.bootstrap, "gone", trades)
        deadline = time.monotonic() + 90
        while _rows(pg_dsn) < len(trades):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.3)
        broker.kill()
        time.sleep(2)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - started
        assert proc.returncode == 0, err[-2000:]
        assert took < 30, f"SIGTERM took {took:.0f} s"
        assert "sink trades: 500 messages, 500 rows" in out
    finally:
        if proc is not None:
            _stop(proc)
        broker.stop()


def _holder(bootstrap: str, group: str, instance_id: str) -> str | None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    (future,) = admin.describe_consumer_groups([group]).values()
    try:
        members = future.result(timeout=10).members
    except KafkaException:
        return None
    return next((m.client_id for m in members if m.group_instance_id == instance_id), None)


def test_a_sink_fenced_under_its_own_client_id_rejoins_and_keeps_consuming(
    kafka_bootstrap: str, kafka_topic: Callable[..., str], pg_dsn: str, redis_url: str, tmp_path: Path
) -> None:
    """The cluster rehearsal's flake: after kill -9 of the group coordinator, sinks with distinct ids
    were fenced on an OffsetCommit ("Static consumer fenced by other consumer with same
    group.instance.id") although nobody else held their ids, and exited. A fencing in which the
    coordinator shows our own client id holding our member id is that self-fence: rejoin, don't exit.

    Reproduced here by a second consumer that joins with the sink's member id AND its client id (what
    the coordinator sees after the failover); the sink must fence it back and write every trade.
    """
    topic = kafka_topic("self-fence")
    kafka_topic(f"{topic}-dlq")
    sink = _sink(
        kafka_bootstrap, topic, "g-self", pg_dsn, redis_url, tmp_path, MARKETPIPE_STREAM_INSTANCE_ID="sf-0"
    )
    intruder = None
    try:
        deadline = time.monotonic() + 60
        while (ours := _holder(kafka_bootstrap, "g-self", "sf-0")) is None:
            assert time.monotonic() < deadline and sink.poll() is None
            time.sleep(0.5)
        trades = make_trades(1000, seed=5)
        first, second = trades[:500], trades[500:]
        produce(kafka_bootstrap, topic, first)
        intruder = Consumer({
            "bootstrap.servers": kafka_bootstrap, "group.id": "g-self", "group.instance.id": "sf-0",
            "client.id": ours, "session.timeout.ms": 10000, "enable.auto.commit": False,
        })  # fmt: skip
        intruder.subscribe([topic])
        intruder.consume(10, 5.0)  # joins: the sink's member id now maps to the intruder
        produce(kafka_bootstrap, topic, second)
        deadline = time.monotonic() + 90
        while _rows(pg_dsn) < len(trades):
            assert sink.poll() is None, "the self-fenced sink exited"
            assert time.monotonic() < deadline, f"{_rows(pg_dsn)} rows"
            intruder.poll(0.1)  # let the intruder learn it was fenced back
            time.sleep(0.4)
        assert _rows(pg_dsn) == len(trades)
        assert sink.poll() is None
    finally:
        if intruder is not None:
            with contextlib.suppress(KafkaException, RuntimeError):
                intruder.close()
        sink.terminate()
        _, err = sink.communicate(timeout=60)
    assert "rejoining" in err, err[-3000:]
