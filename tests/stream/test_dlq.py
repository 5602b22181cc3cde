"""Poison messages go to the DLQ with reason and original bytes; the sink keeps going."""

from __future__ import annotations

import psycopg
import redis
from confluent_kafka import TopicPartition

from marketpipe.stream import codec
from marketpipe.stream.bus import make_consumer, make_producer
from marketpipe.stream.kinds import SP500
from marketpipe.stream.settings import StreamSettings
from marketpipe.stream.sink import Sink
from plugins._streamkit import make_trades, produce

POISON = [
    (b"S001", b"not json at all"),
    (b"S002", b'{"v":9,"kind":"trade","symbol":"S002"}'),
    (b"S003", codec.encode("trade", {"symbol": "S003", "price": -5, "timestamp_ms": 1_764_000_000_000})),
    (None, None),
    # Decodes fine, but PostgreSQL refuses it (the test adds a CHECK constraint): a write-stage letter.
    (b"S004", b'{"v":1,"kind":"trade","symbol":"S004","price":1e12,"timestamp_ms":1764000000000,"seq":0}'),
]


def _read_all(bootstrap: str, topic: str, n: int) -> list:
    consumer = make_consumer(bootstrap, "dlq-reader")
    consumer.assign([TopicPartition(topic, 0, 0)])
    out: list = []
    for _ in range(50):
        out.extend(m for m in consumer.consume(100, timeout=0.5) if m.error() is None)
        if len(out) >= n:
            break
    consumer.close()
    return out


def test_poison_messages_go_to_dlq_and_sink_keeps_going(
    kafka_bootstrap: str, kafka_topic, pg_dsn: str, redis_url: str, redis_client: redis.Redis
) -> None:
    topic = kafka_topic("poison", partitions=1)
    dlq_topic = kafka_topic("dlq", partitions=1)
    good = make_trades(300, seed=21)
    producer = make_producer(kafka_bootstrap)
    produce(kafka_bootstrap, topic, good[:150], producer)
    for key, value in POISON:
        producer.produce(topic, key=key, value=value)
    produce(kafka_bootstrap, topic, good[150:], producer)

    with psycopg.connect(pg_dsn) as conn:
        conn.execute("ALTER TABLE sp500_websocket_trades ADD CONSTRAINT test_price_cap CHECK (price < 1e9)")
    settings = StreamSettings(_env_file=None, batch_size=1000)  # type: ignore[call-arg]
    sink = Sink(SP500.with_topic(topic), bootstrap=kafka_bootstrap, dsn=pg_dsn, redis_url=redis_url,
                settings=settings, group_id="g-dlq", dlq_topic=dlq_topic)  # fmt: skip
    metrics = sink.run(max_messages=len(good) + len(POISON), idle_exit_s=20)

    assert metrics.totals["rows_written"] == len(good)
    assert metrics.totals["dlq"] == len(POISON)
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM sp500_websocket_trades").fetchone() == (len(good),)
        letters = conn.execute(
            "SELECT kafka_offset, reason, error_class FROM stream_dead_letters ORDER BY kafka_offset"
        ).fetchall()
        (next_offset,) = conn.execute("SELECT next_offset FROM stream_offsets").fetchone()
    assert next_offset == len(good) + len(POISON)
    assert [row[0] for row in letters] == list(range(150, 150 + len(POISON)))
    reasons = [row[1] for row in letters]
    assert "not JSON" in reasons[0]
    assert "schema version" in reasons[1]
    assert "positive" in reasons[2]
    assert "tombstone" in reasons[3]
    assert reasons[4].startswith("rejected by PostgreSQL: CheckViolation")
    assert [row[2] for row in letters] == ["CodecError"] * 4 + ["CheckViolation"]

    dead = _read_all(kafka_bootstrap, dlq_topic, len(POISON))
    assert [(m.key(), m.value()) for m in dead] == POISON  # original bytes, untouched
    headers = dict(dead[0].headers())
    assert headers["mp-reason"].startswith(b"not JSON")
    assert headers["mp-stage"] == b"decode"
    assert headers["mp-topic"] == topic.encode()
    assert headers["mp-offset"] == b"150"
    assert dict(dead[4].headers())["mp-stage"] == b"write"


def test_a_message_too_large_for_the_dlq_goes_truncated_and_the_sink_moves_on(
    kafka_bootstrap: str, kafka_topic, pg_dsn: str, redis_url: str, redis_client: redis.Redis
) -> None:
    """Issue #17.5: a ~1 MB undecodable message could not be dead-lettered; the sink exited on every start."""
    import hashlib
    import os

    topic = kafka_topic("huge-poison", partitions=1)
    dlq_topic = kafka_topic("dlq", partitions=1)
    good = make_trades(100, seed=5)
    huge = os.urandom(1_000_000)
    producer = make_producer(kafka_bootstrap, **{"message.max.bytes": 1_040_000})
    produce(kafka_bootstrap, topic, good[:50], producer)
    producer.produce(topic, key=b"S001" * 400, value=huge)
    produce(kafka_bootstrap, topic, good[50:], producer)

    settings = StreamSettings(_env_file=None, batch_size=1000)  # type: ignore[call-arg]
    sink = Sink(SP500.with_topic(topic), bootstrap=kafka_bootstrap, dsn=pg_dsn, redis_url=redis_url,
                settings=settings, group_id="g-huge", dlq_topic=dlq_topic)  # fmt: skip
    metrics = sink.run(max_messages=len(good) + 1, idle_exit_s=20)

    assert (metrics.totals["rows_written"], metrics.totals["dlq"]) == (len(good), 1)
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT next_offset FROM stream_offsets").fetchone() == (len(good) + 1,)
        assert conn.execute("SELECT payload_bytes FROM stream_dead_letters").fetchone() == (1_000_000,)
    (letter,) = _read_all(kafka_bootstrap, dlq_topic, 1)
    headers = dict(letter.headers())
    assert headers["mp-truncated"] == b"1" and headers["mp-original-size"] == b"1000000"
    assert headers["mp-sha256"] == hashlib.sha256(huge).hexdigest().encode()
    assert letter.value() == huge[: len(letter.value())] and len(letter.value()) == 256 * 1024
    assert headers["mp-key-truncated"] == b"1" and len(letter.key()) == 1024
