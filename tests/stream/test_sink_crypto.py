"""The second kind: Bithumb tickers → bithumb_ticker, crypto_realtime_data, latest:crypto:{market}."""

from __future__ import annotations

from decimal import Decimal

import orjson
import psycopg
import redis

from marketpipe.stream import codec
from marketpipe.stream.bus import make_producer
from marketpipe.stream.kinds import CRYPTO
from marketpipe.stream.settings import StreamSettings
from marketpipe.stream.sink import Sink

BASE = 1_764_000_000_000


def ticker(market: str, ts: int, price: object) -> bytes:
    return codec.encode(
        "ticker",
        {
            "market": market, "trade_date": "20251124", "trade_time": "160000", "trade_date_kst": "20251125",
            "trade_time_kst": "010000", "trade_timestamp": ts + 9 * 3600 * 1000, "trade_timestamp_fixed": ts - 5,
            "opening_price": 100, "high_price": 120, "low_price": 90, "trade_price": price,
            "prev_closing_price": 101, "change": "RISE", "change_price": 3, "change_rate": 0.0297,
            "signed_change_price": 3, "signed_change_rate": 0.0297, "trade_volume": "0.00012345678901234567",
            "acc_trade_price": 1e9, "acc_trade_price_24h": 2.5e9, "acc_trade_volume": 10.5,
            "acc_trade_volume_24h": 21, "highest_52_week_price": 150, "highest_52_week_date": "2025-03-01",
            "lowest_52_week_price": 50, "lowest_52_week_date": "2025-08-01", "timestamp": ts,
            "source": "bithumb", "received_ms": ts + 3,
        },
    )  # fmt: skip


def test_ticker_sink_writes_table_hash_latest_and_signal(
    kafka_bootstrap: str, kafka_topic, pg_dsn: str, redis_url: str, redis_client: redis.Redis
) -> None:
    topic = kafka_topic("bithumb")
    producer = make_producer(kafka_bootstrap)
    sent = []
    for i in range(30):
        for market in ("KRW-BTC", "KRW-ETH", "KRW-XRP"):
            price = "143950000.123456789012" if market == "KRW-BTC" else 1000 + i
            producer.produce(topic, key=market.encode(), value=ticker(market, BASE + i * 1000, price))
            sent.append((market, BASE + i * 1000))
    producer.produce(topic, key=b"KRW-BAD", value=codec.encode("ticker", {"market": "KRW-BAD"}))
    assert producer.flush(30) == 0

    pubsub = redis_client.pubsub()
    pubsub.subscribe("crypto_updates")
    settings = StreamSettings(_env_file=None, batch_size=40)  # type: ignore[call-arg]
    sink = Sink(CRYPTO.with_topic(topic), bootstrap=kafka_bootstrap, dsn=pg_dsn, redis_url=redis_url,
                settings=settings, group_id="g-crypto", dlq_topic=kafka_topic("crypto-dlq"))  # fmt: skip
    metrics = sink.run(max_messages=len(sent) + 1, idle_exit_s=20)
    assert metrics.totals["rows_written"] == len(sent)
    assert metrics.totals["dlq"] == 1

    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute("SELECT market, timestamp_field FROM bithumb_ticker").fetchall()
        assert sorted(rows) == sorted(sent)
        price, volume, trade_ts, source = conn.execute(
            "SELECT trade_price, trade_volume, trade_timestamp, source FROM bithumb_ticker"
            " WHERE market = 'KRW-BTC' ORDER BY timestamp_field DESC LIMIT 1"
        ).fetchone()
    assert price == Decimal("143950000.123456789012")  # exact, never floated
    assert volume == Decimal("0.00012345678901234567")
    assert trade_ts == BASE + 29 * 1000 - 5  # the producer's corrected trade time
    assert source == "bithumb"

    newest = BASE + 29 * 1000
    for market in ("KRW-BTC", "KRW-ETH", "KRW-XRP"):
        value = orjson.loads(redis_client.hget("crypto_realtime_data", market))
        assert value["symbol"] == market and value["timestamp"] == newest
        assert set(value) >= {"symbol", "price", "change_price", "change_rate", "volume", "acc_trade_price_24h",
                              "timestamp", "source"}  # fmt: skip
        assert orjson.loads(redis_client.get(f"latest:crypto:{market}")) == value
        assert 0 < redis_client.ttl(f"latest:crypto:{market}") <= 86400
        assert redis_client.zcard(f"history:crypto:{market}") == 30
    assert (
        orjson.loads(redis_client.hget("crypto_realtime_data", "KRW-BTC"))["price"]
        == "143950000.123456789012"
    )
    signals = 0
    while pubsub.get_message(timeout=0.2) is not None:
        signals += 1
    assert signals - 1 == metrics.totals["batches"]
