"""1m/5m/1h OHLCV candles kept by the sink: equal to a recomputation from the trades, replay-safe."""

from __future__ import annotations

from types import SimpleNamespace

import psycopg
import redis

from marketpipe.stream.candles import Candle, aggregate
from marketpipe.stream.kinds import SP500
from marketpipe.stream.settings import StreamSettings
from marketpipe.stream.sink import Sink
from plugins._streamkit import make_trades, produce

RECOMPUTE = """
    SELECT symbol, %(i)s AS interval_s,
           to_timestamp(((timestamp_ms / (%(i)s * 1000)) * %(i)s * 1000) / 1000.0) AS bucket_start,
           (array_agg(price ORDER BY timestamp_ms, seq))[1] AS open, max(price), min(price),
           (array_agg(price ORDER BY timestamp_ms DESC, seq DESC))[1] AS close, sum(volume), count(*)
      FROM sp500_websocket_trades GROUP BY 1, 2, 3
"""


def _candles(conn: psycopg.Connection) -> set[tuple]:
    return set(
        conn.execute(
            "SELECT symbol, interval_s, bucket_start, open, high, low, close, volume, trades"
            " FROM trade_candles WHERE stream = 'trades'"
        ).fetchall()
    )


def _recomputed(conn: psycopg.Connection) -> set[tuple]:
    out: set[tuple] = set()
    for interval in (60, 300, 3600):
        out |= set(conn.execute(RECOMPUTE, {"i": interval}).fetchall())
    return out


def test_aggregate_orders_open_close_by_trade_time_not_arrival() -> None:
    t = lambda p, ts, seq=0, v=1.0: SimpleNamespace(symbol="A", price=p, volume=v, timestamp_ms=ts, seq=seq)  # noqa: E731
    # arrival order differs from trade order; a late trade from the previous minute arrives last
    got = aggregate([t(10, 60_500), t(12, 60_100, 1), t(9, 60_100, 0), t(15, 119_999), t(7, 59_000)])
    assert got[("A", 60, 60_000)] == Candle(9, 15, 9, 15, 4.0, 4, 60_100 * 32768, 119_999 * 32768)
    assert got[("A", 60, 0)][:6] == (7, 7, 7, 7, 1.0, 1)
    five = got[("A", 300, 0)]
    assert (five.open, five.high, five.low, five.close, five.volume, five.trades) == (7, 15, 7, 15, 5.0, 5)
    assert got[("A", 3600, 0)][:6] == (7, 15, 7, 15, 5.0, 5)
    assert all(type(c) is Candle for c in got.values())


def test_sink_candles_match_trades_and_survive_replay(
    kafka_bootstrap: str, kafka_topic, pg_dsn: str, redis_url: str, redis_client: redis.Redis
) -> None:
    topic = kafka_topic("candles", partitions=3)
    # ~3 minutes of trades per symbol, so buckets span several batches
    trades = make_trades(4000, symbols=[f"K{i}" for i in range(10)], start_ms=1_764_000_000_000, seed=17)
    produce(kafka_bootstrap, topic, trades)
    settings = StreamSettings(_env_file=None, batch_size=300)  # type: ignore[call-arg]

    def run() -> None:
        Sink(SP500.with_topic(topic), bootstrap=kafka_bootstrap, dsn=pg_dsn, redis_url=redis_url,
             settings=settings, group_id="g-candles").run(max_messages=len(trades), idle_exit_s=20)  # fmt: skip

    run()
    with psycopg.connect(pg_dsn) as conn:
        first = _candles(conn)
        assert first == _recomputed(conn)
        assert {c[1] for c in first} == {60, 300, 3600}
        conn.execute("DELETE FROM stream_offsets")  # force a full replay
    run()
    with psycopg.connect(pg_dsn) as conn:
        assert _candles(conn) == first  # nothing counted twice
