"""Hostile messages at the sink's boundary: oversized text, far-future and too-old event times."""

from __future__ import annotations

import time
import tracemalloc

import orjson
import psycopg
import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from marketpipe.stream import codec, kinds
from marketpipe.stream.bus import make_producer
from marketpipe.stream.kinds import SP500
from marketpipe.stream.settings import StreamSettings
from marketpipe.stream.sink import Sink
from plugins._streamkit import make_trades, produce


def _sink(topic: str, bootstrap: str, dsn: str, redis_url: str, group: str, dlq: str, **opts: object) -> Sink:
    settings = StreamSettings(_env_file=None, batch_size=500, **opts)  # type: ignore[arg-type]
    return Sink(SP500.with_topic(topic), bootstrap=bootstrap, dsn=dsn, redis_url=redis_url,
                settings=settings, group_id=group, dlq_topic=dlq)  # fmt: skip


def _trade(symbol: str, ts: int, **extra: object) -> bytes:
    return codec.encode("trade", {"symbol": symbol, "price": 10.0, "timestamp_ms": ts, "seq": 0, **extra})


def test_unique_huge_text_fields_are_dead_lettered_and_memory_stays_bounded(
    kafka_bootstrap: str, kafka_topic, pg_dsn: str, redis_url: str, redis_client: redis.Redis
) -> None:
    """Issue #17.6: 400 trades with unique 250 KB pod_name values grew the sink by ~400 MiB for good."""
    topic, dlq = kafka_topic("big-text"), kafka_topic("dlq")
    now = int(time.time() * 1000)
    producer = make_producer(kafka_bootstrap)
    for i in range(400):
        producer.produce(
            topic, key=b"S001", value=_trade("S001", now - i, pod_name=f"{i:06d}" + "p" * 250_000)
        )
        producer.poll(0)
    for i in range(100):  # over the cap but small: a field-level rejection
        producer.produce(topic, key=b"S002", value=_trade("S002", now - i, pod_name=f"{i}" + "q" * 200))
    good = make_trades(200, start_ms=now - 60_000)
    produce(kafka_bootstrap, topic, good, producer)

    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        sink = _sink(topic, kafka_bootstrap, pg_dsn, redis_url, "g-big-text", dlq)
        metrics = sink.run(max_messages=700, idle_exit_s=20)
        held = sum(
            stat.size_diff
            for stat in tracemalloc.take_snapshot().compare_to(before, "filename")
            if stat.size_diff > 0
        )
    finally:
        tracemalloc.stop()
    assert (metrics.totals["rows_written"], metrics.totals["dlq"]) == (200, 500)
    assert held < 20 * 2**20, f"the sink holds {held / 2**20:.0f} MiB more after the run"
    assert all(len(key or "") <= 64 for key in kinds.ESCAPED)
    with psycopg.connect(pg_dsn) as conn:
        reasons = dict(
            conn.execute("SELECT error_class, min(reason) FROM stream_dead_letters GROUP BY 1").fetchall()
        )
    assert "message too large" in reasons["CodecError"] or "pod_name longer" in reasons["CodecError"]


def test_the_escape_caches_are_bounded_in_entries_and_bytes() -> None:
    for i in range(kinds._CACHE_MAX + 5000):
        kinds.esc(f"v{i}")
    for i in range(2000):
        kinds.esc(f"{i}" + "z" * 1000)
        kinds.ARRAYS[(f"{i}" + "c" * 300,)]
    assert len(kinds.ESCAPED) <= kinds._CACHE_MAX and len(kinds.ARRAYS) <= kinds._CACHE_MAX // 10
    assert max(len(k or "") for k in kinds.ESCAPED) <= kinds._CACHE_VALUE_MAX
    assert max((len(v) for v in kinds.ARRAYS.values()), default=0) <= 4 * kinds._CACHE_VALUE_MAX


_TEXT = st.one_of(
    st.none(), st.integers(), st.text(max_size=300), st.text(alphabet="\x00\ud800é", max_size=5)
)


@settings(max_examples=300, deadline=None)
@given(
    pod_name=_TEXT,
    source=_TEXT,
    category=_TEXT,
    conditions=st.one_of(st.none(), st.lists(_TEXT, max_size=20)),
)
def test_every_text_field_is_capped_or_rejected(
    pod_name: object, source: object, category: object, conditions: object
) -> None:
    fields = {"pod_name": pod_name, "source": source, "category": category, "conditions": conditions}
    payload = {k: v for k, v in fields.items() if v is not None}
    try:
        raw = orjson.dumps(
            {
                "v": 1,
                "kind": "trade",
                "symbol": "AAPL",
                "price": 1.0,
                "timestamp_ms": 1_764_000_000_000,
                **payload,
            }
        )
    except TypeError:
        return  # a lone surrogate cannot even be encoded as JSON
    outcomes = []
    for decoder in (codec.decode_trade_struct, codec.decode_trade):
        try:
            decoder(raw)
            outcomes.append(True)
        except codec.CodecError:
            outcomes.append(False)
    assert outcomes[0] == outcomes[1], (payload, outcomes)  # both paths agree
    if outcomes[0]:
        trade = codec.decode_trade_struct(raw)
        for name, cap in codec.TEXT_CAPS.items():
            assert len(getattr(trade, name) or "") <= cap
        assert len(trade.conditions or ()) <= codec.MAX_CONDITIONS
        assert all(len(c) <= codec.MAX_CONDITION_LEN for c in trade.conditions or ())


def test_a_ticker_with_a_huge_text_field_is_rejected() -> None:
    base = {"v": 1, "kind": "ticker", "market": "KRW-BTC", "timestamp": 1_764_000_000_000, "trade_price": "1"}
    codec.decode_ticker(orjson.dumps(base))
    with pytest.raises(codec.CodecError, match="longer than"):
        codec.decode_ticker(orjson.dumps({**base, "change": "R" * 1000}))
    with pytest.raises(codec.CodecError, match="too large"):
        codec.decode_ticker(orjson.dumps({**base, "x": [1] * 40_000}))


def test_far_future_and_too_old_event_times_are_dead_lettered(
    kafka_bootstrap: str, kafka_topic, pg_dsn: str, redis_url: str, redis_client: redis.Redis
) -> None:
    """Issue #17.7: one trade stamped 2099 kept Redis latest and the candles for ever."""
    topic, dlq = kafka_topic("far-future"), kafka_topic("dlq")
    now = int(time.time() * 1000)
    producer = make_producer(kafka_bootstrap)
    y2099 = 4_070_908_800_000
    cases = [
        ("AAPL", now - 1000, True),
        ("AAPL", y2099, False),  # far future
        ("AAPL", now + 3_600_000, True),  # an hour ahead: a skewed clock, inside the window
        ("AAPL", now + 2 * 86_400_000, False),  # two days ahead
        ("MSFT", now - 30 * 86_400_000, False),  # older than max_age_s (14 days, the topics' retention)
        ("MSFT", now - 2000, True),
    ]
    for symbol, ts, _ in cases:
        producer.produce(topic, key=symbol.encode(), value=_trade(symbol, ts))
    assert producer.flush(30) == 0
    sink = _sink(topic, kafka_bootstrap, pg_dsn, redis_url, "g-future", dlq, max_age_s=14 * 86_400)
    metrics = sink.run(max_messages=len(cases), idle_exit_s=20)

    assert (metrics.totals["rows_written"], metrics.totals["dlq"]) == (3, 3)
    with psycopg.connect(pg_dsn) as conn:
        stored = {r[0] for r in conn.execute("SELECT timestamp_ms FROM sp500_websocket_trades").fetchall()}
        (newest_candle,) = conn.execute("SELECT max(bucket_start) FROM trade_candles").fetchone()
        reasons = [r[0] for r in conn.execute("SELECT reason FROM stream_dead_letters ORDER BY kafka_offset")]
    assert stored == {ts for _, ts, ok in cases if ok}
    assert newest_candle.timestamp() * 1000 < now + 2 * 3_600_000
    assert "ahead of the sink clock" in reasons[0] and "behind the sink clock" in reasons[2]
    latest = orjson.loads(redis_client.hget("sp500_realtime_data", "AAPL"))
    assert latest["timestamp"] == now + 3_600_000
