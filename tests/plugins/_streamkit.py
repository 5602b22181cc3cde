"""Helpers for streaming tests (imported as ``plugins._streamkit``; not a fixture module)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx
import orjson
import psycopg
import redis
from confluent_kafka import Producer

from marketpipe.stream import codec
from marketpipe.stream.bus import make_producer

SYMBOLS = [f"S{i:03d}" for i in range(50)]
BASE_MS = 1_764_000_000_000


@dataclass(frozen=True)
class Trade:
    symbol: str
    price: float
    volume: float
    timestamp_ms: int
    seq: int


def make_trades(
    n: int, *, symbols: list[str] | None = None, start_ms: int = BASE_MS, seed: int = 7
) -> list[Trade]:
    """``n`` trades in time order per symbol, with bursts of several trades in one millisecond."""
    rng = random.Random(seed)
    symbols = symbols or SYMBOLS
    clock = {s: start_ms for s in symbols}
    seqs: dict[str, int] = {}
    out = []
    for _ in range(n):
        s = rng.choice(symbols)
        if rng.random() < 0.6:  # 40 % of trades share the previous trade's millisecond
            clock[s] += rng.randint(1, 40)
            seqs[s] = 0
        else:
            seqs[s] = seqs.get(s, -1) + 1
        out.append(Trade(s, round(rng.uniform(10, 500), 4), float(rng.randint(1, 500)), clock[s], seqs[s]))
    return out


def produce(bootstrap: str, topic: str, trades: list[Trade], producer: Producer | None = None) -> None:
    """Produce ``trades`` (key = symbol) and wait for every acknowledgement."""
    p = producer or make_producer(bootstrap)
    for i, t in enumerate(trades):
        value = codec.encode_trade(t.symbol, t.price, t.timestamp_ms, t.volume, seq=t.seq, shard=0, shards=1)
        while True:
            try:
                p.produce(topic, key=codec.key(t.symbol), value=value)
                break
            except BufferError:
                p.poll(0.05)
        if i % 10000 == 0:
            p.poll(0)
    assert p.flush(60) == 0


def newest_per_symbol(trades: list[Trade]) -> dict[str, Trade]:
    """The trade Redis must show as latest: highest (timestamp_ms, seq) per symbol."""
    newest: dict[str, Trade] = {}
    for t in trades:
        have = newest.get(t.symbol)
        if have is None or (t.timestamp_ms, t.seq) >= (have.timestamp_ms, have.seq):
            newest[t.symbol] = t
    return newest


def newest_in_table(conn: psycopg.Connection, table: str) -> dict[str, int]:
    """symbol → timestamp_ms of its newest row in a trade table (ties: the highest seq)."""
    rows = conn.execute(
        f"SELECT DISTINCT ON (symbol) symbol, timestamp_ms FROM {table} ORDER BY symbol, timestamp_ms DESC, seq DESC"
    ).fetchall()
    return dict(rows)


def assert_redis_latest(
    client: redis.Redis, newest: dict[str, int], latest_prefix: str, hash_key: str
) -> None:
    """Redis holds each symbol's newest trade: its ``latest:`` key and its field of the seed's hash."""
    for symbol, ts in newest.items():
        assert orjson.loads(client.get(f"{latest_prefix}{symbol}") or b"{}").get("timestamp") == ts, symbol
        assert orjson.loads(client.hget(hash_key, symbol) or b"{}").get("timestamp") == ts, symbol


def healthz(port: int) -> tuple[int, str]:
    """``GET /healthz`` of a producer's or sink's metrics port: (status, body); (0, "") while it does
    not answer."""
    try:
        reply = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    except httpx.TransportError:
        return 0, ""
    return reply.status_code, reply.text
