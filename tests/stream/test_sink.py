"""The sink end to end on real Kafka, PostgreSQL and Redis (in-process)."""

from __future__ import annotations

import orjson
import psycopg
import redis

from marketpipe.stream.kinds import SP500
from marketpipe.stream.settings import StreamSettings
from marketpipe.stream.sink import Sink
from plugins._streamkit import make_trades, newest_per_symbol, produce


def _sink(kafka_bootstrap: str, pg_dsn: str, redis_url: str, topic: str, group: str, **kw) -> Sink:
    settings = StreamSettings(
        _env_file=None, batch_size=kw.pop("batch_size", 500), history_len=kw.pop("history_len", 50)
    )  # type: ignore[call-arg]
    return Sink(SP500.with_topic(topic), bootstrap=kafka_bootstrap, dsn=pg_dsn, redis_url=redis_url,
                settings=settings, group_id=group, **kw)  # fmt: skip


def _rows(pg_dsn: str) -> list[tuple]:
    with psycopg.connect(pg_dsn) as conn:
        return conn.execute(
            "SELECT symbol, price::float8, volume::float8, timestamp_ms, seq FROM sp500_websocket_trades"
        ).fetchall()


def test_sink_writes_every_trade_once_and_updates_redis(
    kafka_bootstrap: str, kafka_topic, pg_dsn: str, redis_url: str, redis_client: redis.Redis
) -> None:
    topic = kafka_topic("sink", partitions=3)
    trades = make_trades(3000)
    assert len({(t.symbol, t.timestamp_ms) for t in trades}) < len(trades)  # same-ms bursts exist
    produce(kafka_bootstrap, topic, trades)

    pubsub = redis_client.pubsub()
    pubsub.subscribe("sp500_updates")
    sink = _sink(kafka_bootstrap, pg_dsn, redis_url, topic, "g-sink-1")
    metrics = sink.run(max_messages=len(trades), idle_exit_s=20)

    rows = _rows(pg_dsn)
    assert sorted(rows) == sorted((t.symbol, t.price, t.volume, t.timestamp_ms, t.seq) for t in trades)
    assert metrics.totals["rows_written"] == len(trades)
    assert metrics.totals.get("dlq", 0) == 0

    with psycopg.connect(pg_dsn) as conn:
        offsets = dict(
            conn.execute(
                "SELECT kafka_partition, next_offset FROM stream_offsets WHERE consumer_group = 'g-sink-1'"
            ).fetchall()
        )
    assert sum(offsets.values()) == len(trades)

    # Redis: seed-compatible hash, latest key, bounded history, one signal per batch.
    newest = newest_per_symbol(trades)
    hash_values = {
        k.decode(): orjson.loads(v) for k, v in redis_client.hgetall("sp500_realtime_data").items()
    }
    assert set(hash_values) == set(newest)
    for symbol, trade in newest.items():
        assert hash_values[symbol]["price"] == trade.price
        assert hash_values[symbol]["timestamp"] == trade.timestamp_ms
        latest = orjson.loads(redis_client.get(f"latest:stocks:sp500:{symbol}"))
        assert latest == hash_values[symbol]
        assert 0 < redis_client.ttl(f"latest:stocks:sp500:{symbol}") <= 5 * 86400
        history = redis_client.zrange(f"history:stocks:sp500:{symbol}", 0, -1, withscores=True)
        per_symbol = sorted((t for t in trades if t.symbol == symbol), key=lambda t: (t.timestamp_ms, t.seq))
        # bounded: the newest 50, plus at most history_len // 4 not yet trimmed
        assert min(50, len(per_symbol)) <= len(history) <= min(len(per_symbol), 50 + 50 // 4)
        assert int(history[-1][1]) == trade.timestamp_ms
        assert history[-1][0].decode().startswith(f"{trade.timestamp_ms}:{trade.seq}:")
    assert not redis_client.keys("realtime:*")  # no key per tick
    signals = 0
    while pubsub.get_message(timeout=0.2) is not None:
        signals += 1
    # subscribe confirmation + one signal per committed batch
    assert signals - 1 == metrics.totals["batches"]


def test_restart_resumes_from_postgres_offsets_without_duplicates(
    kafka_bootstrap: str, kafka_topic, pg_dsn: str, redis_url: str, redis_client: redis.Redis
) -> None:
    topic = kafka_topic("resume", partitions=3)
    trades = make_trades(2000, seed=11)
    produce(kafka_bootstrap, topic, trades[:1000])
    _sink(kafka_bootstrap, pg_dsn, redis_url, topic, "g-resume").run(max_messages=1000, idle_exit_s=20)
    produce(kafka_bootstrap, topic, trades[1000:])
    metrics = _sink(kafka_bootstrap, pg_dsn, redis_url, topic, "g-resume").run(
        max_messages=1000, idle_exit_s=20
    )
    assert metrics.totals["messages_in"] == 1000  # resumed exactly where the first run stopped
    rows = _rows(pg_dsn)
    assert len(rows) == len(set(rows)) == 2000


def test_replay_writes_nothing_twice(
    kafka_bootstrap: str, kafka_topic, pg_dsn: str, redis_url: str, redis_client: redis.Redis
) -> None:
    """Even when the stored offsets are lost, a full replay adds no row (key conflicts are skipped)."""
    topic = kafka_topic("replay", partitions=2)
    trades = make_trades(1500, seed=5)
    produce(kafka_bootstrap, topic, trades)
    _sink(kafka_bootstrap, pg_dsn, redis_url, topic, "g-replay").run(max_messages=1500, idle_exit_s=20)
    newest = newest_per_symbol(trades)
    sizes = {s: redis_client.zcard(f"history:stocks:sp500:{s}") for s in newest}
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("DELETE FROM stream_offsets")
    metrics = _sink(kafka_bootstrap, pg_dsn, redis_url, topic, "g-replay").run(
        max_messages=1500, idle_exit_s=20
    )
    assert metrics.totals.get("rows_written", 0) == 0
    assert metrics.totals["rows_conflicted"] == 1500
    assert len(_rows(pg_dsn)) == 1500
    # The history sets did not grow either (members are unique per row), and trimming keeps the newest.
    for symbol in newest:
        assert redis_client.zcard(f"history:stocks:sp500:{symbol}") <= sizes[symbol]


def test_rehydrate_restores_latest_after_redis_loss(
    kafka_bootstrap: str, kafka_topic, pg_dsn: str, redis_url: str, redis_client: redis.Redis
) -> None:
    topic = kafka_topic("rehydrate")
    trades = make_trades(500, seed=3)
    produce(kafka_bootstrap, topic, trades)
    _sink(kafka_bootstrap, pg_dsn, redis_url, topic, "g-rehydrate").run(max_messages=500, idle_exit_s=20)
    redis_client.flushdb()
    sink = _sink(kafka_bootstrap, pg_dsn, redis_url, topic, "g-rehydrate")
    assert sink.rehydrate() == len(newest_per_symbol(trades))
    sink.close()
    for symbol, trade in newest_per_symbol(trades).items():
        latest = orjson.loads(redis_client.get(f"latest:stocks:sp500:{symbol}"))
        assert (latest["price"], latest["timestamp"]) == (trade.price, trade.timestamp_ms)
