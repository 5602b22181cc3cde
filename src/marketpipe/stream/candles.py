"""1m / 5m / 1h OHLCV candles from trades, merged into ``trade_candles`` inside the sink's transaction.

Per batch the trades actually inserted are aggregated in memory (1-minute buckets first, rolled up to
5 minutes and 1 hour), copied into a temporary table and merged with one
``INSERT … ON CONFLICT DO UPDATE``: high/low by GREATEST/LEAST, volume and count added, open/close
taken from the trade with the smallest/largest order key (``timestamp_ms * 32768 + seq``), so late
or out-of-order trades land in the right candle with the right open and close. Because this runs in
the same transaction as the rows and the offsets, a replayed batch never adds its volume twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import psycopg

INTERVALS_S = (60, 300, 3600)
_SEQ_SPAN = 32768


class Candle(NamedTuple):
    """One OHLCV candle as :func:`aggregate` hands it out (``open_key``/``close_key``: order keys)."""

    open: Any
    high: Any
    low: Any
    close: Any
    volume: Any
    trades: int
    open_key: int
    close_key: int


#: (symbol, interval_s, bucket_start_ms): the key of one candle.
CandleKey = tuple[str, int, int]

# Inside aggregate() a candle is a mutable list in Candle's field order (updated in place per trade:
# the hot path); it becomes a Candle only on the way out.
_Acc = list[Any]
_new_candle = tuple.__new__  # tuple.__new__(Candle, acc) builds one in C, without Candle.__new__'s Python


def aggregate(trades: Iterable[Any]) -> dict[CandleKey, Candle]:
    """Candles of ``trades`` (objects with symbol, price, volume, timestamp_ms, seq) per interval."""
    minute: dict[tuple[str, int], _Acc] = {}
    for t in trades:
        ts = t.timestamp_ms
        order = ts * _SEQ_SPAN + t.seq
        key = (t.symbol, ts - ts % 60_000)
        c = minute.get(key)
        price = t.price
        if c is None:
            minute[key] = [price, price, price, price, t.volume, 1, order, order]
            continue
        if price > c[1]:
            c[1] = price
        if price < c[2]:
            c[2] = price
        c[4] += t.volume
        c[5] += 1
        if order < c[6]:
            c[0], c[6] = price, order
        if order > c[7]:
            c[3], c[7] = price, order
    out: dict[CandleKey, _Acc] = {(s, 60, b): c for (s, b), c in minute.items()}
    for interval in INTERVALS_S[1:]:
        span = interval * 1000
        for (symbol, bucket), c in minute.items():
            key3 = (symbol, interval, bucket - bucket % span)
            have = out.get(key3)
            if have is None:
                out[key3] = list(c)
                continue
            have[1] = max(have[1], c[1])
            have[2] = min(have[2], c[2])
            have[4] += c[4]
            have[5] += c[5]
            if c[6] < have[6]:
                have[0], have[6] = c[0], c[6]
            if c[7] > have[7]:
                have[3], have[7] = c[3], c[7]
    return {key: _new_candle(Candle, acc) for key, acc in out.items()}


def merge(conn: psycopg.Connection, stream: str, candles: dict[CandleKey, Candle]) -> int:
    """Merge ``candles`` into ``trade_candles`` (inside the caller's transaction); returns rows touched.

    One statement with array parameters (no temporary table: creating or truncating one per batch
    costs catalog work and shows up as latency spikes).
    """
    params = merge_params(stream, candles)
    return merge_prepared(conn, params) if params else 0


def merge_params(stream: str, candles: dict[CandleKey, Candle]) -> dict[str, Any] | None:
    """The parameters of the merge statement (built apart so the sink can do it off its write path)."""
    if not candles:
        return None
    # Key order: concurrent merges touching the same candles lock them in one order.
    keys = sorted(candles)
    values = [candles[k] for k in keys]
    return {
        "stream": stream,
        "symbol": [k[0] for k in keys],
        "interval_s": [k[1] for k in keys],
        "bucket_ms": [k[2] for k in keys],
        "open": [repr(float(c.open)) for c in values],
        "high": [repr(float(c.high)) for c in values],
        "low": [repr(float(c.low)) for c in values],
        "close": [repr(float(c.close)) for c in values],
        "volume": [repr(float(c.volume)) for c in values],
        "trades": [c.trades for c in values],
        "open_key": [c.open_key for c in values],
        "close_key": [c.close_key for c in values],
    }


def merge_prepared(conn: psycopg.Connection, params: dict[str, Any]) -> int:
    """Run the merge with :func:`merge_params`' parameters (rows touched; 0 inside a pipeline)."""
    with conn.cursor() as cur:
        cur.execute(
            """
            INSERT INTO trade_candles AS c (stream, symbol, interval_s, bucket_start, open, high, low, close,
                                            volume, trades, open_key, close_key)
            SELECT %(stream)s, u.symbol, u.interval_s, to_timestamp(u.bucket_ms / 1000.0), u.open, u.high, u.low,
                   u.close, u.volume, u.trades, u.open_key, u.close_key
              FROM unnest(%(symbol)s::text[], %(interval_s)s::int[], %(bucket_ms)s::bigint[], %(open)s::numeric[],
                          %(high)s::numeric[], %(low)s::numeric[], %(close)s::numeric[], %(volume)s::numeric[],
                          %(trades)s::int[], %(open_key)s::bigint[], %(close_key)s::bigint[])
                AS u(symbol, interval_s, bucket_ms, open, high, low, close, volume, trades, open_key, close_key)
            ON CONFLICT (stream, symbol, interval_s, bucket_start) DO UPDATE SET
                open = CASE WHEN EXCLUDED.open_key < c.open_key THEN EXCLUDED.open ELSE c.open END,
                open_key = LEAST(c.open_key, EXCLUDED.open_key),
                close = CASE WHEN EXCLUDED.close_key > c.close_key THEN EXCLUDED.close ELSE c.close END,
                close_key = GREATEST(c.close_key, EXCLUDED.close_key),
                high = GREATEST(c.high, EXCLUDED.high),
                low = LEAST(c.low, EXCLUDED.low),
                volume = c.volume + EXCLUDED.volume,
                trades = c.trades + EXCLUDED.trades,
                updated_at = now()
            """,
            params,
        )
        return max(cur.rowcount, 0)
