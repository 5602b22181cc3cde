"""Producer → Kafka → sink end to end: the Finnhub producer on the sandbox WebSocket, the real Apache
Kafka broker, the sink into PostgreSQL and Redis. Every produced trade lands exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg
import redis
from pydantic import SecretStr

from marketpipe.stream.kinds import SP500
from marketpipe.stream.producers.finnhub import FinnhubProducer, FinnhubProducerConfig
from marketpipe.stream.producers.runner import ProducerThread
from marketpipe.stream.producers.sharding import Shard
from marketpipe.stream.settings import StreamSettings
from marketpipe.stream.sink import Sink
from plugins._producerkit import wait_for
from plugins._streamkit import assert_redis_latest, newest_in_table


def test_producer_to_kafka_to_sink_end_to_end(
    sandbox: Any,
    idempotent_kafka: str,
    kafka_topic: Callable[..., str],
    pg_dsn: str,
    redis_url: str,
    redis_client: redis.Redis,
) -> None:
    topic = kafka_topic("e2e", partitions=3)
    universe = sorted(sandbox.admin.constituents())[:30]
    producer = FinnhubProducer(
        FinnhubProducerConfig(
            bootstrap=idempotent_kafka, ws_url=sandbox.base_url("finnhub_ws") + "?rate=2000",
            tokens=[SecretStr("e2e-token")], universe=universe, shard=Shard(0, 1), topic=topic,
            pod_name="e2e-0", backoff_base=0.2, backoff_cap=1.0,
        )
    )  # fmt: skip
    settings = StreamSettings(_env_file=None, batch_size=2000)  # type: ignore[call-arg]
    sink = Sink(SP500.with_topic(topic), bootstrap=idempotent_kafka, dsn=pg_dsn, redis_url=redis_url,
                settings=settings, group_id="g-e2e")  # fmt: skip
    runner = threading.Thread(target=sink.run, daemon=True)
    runner.start()
    try:
        with ProducerThread(producer.run):
            wait_for(lambda: producer.subscribed == set(universe), what="all symbols subscribed")
            start = producer.stats.get("delivered")
            wait_for(lambda: producer.stats.get("delivered") >= start + 3000, what="3000 more trades")
        produced = producer.stats.snapshot()["delivered"]
        wait_for(
            lambda: sink.metrics.totals.get("messages_in", 0) >= produced, timeout=90, what="sink caught up"
        )
    finally:
        sink.stop()
        runner.join(30)

    with psycopg.connect(pg_dsn) as conn:
        (rows, distinct) = conn.execute(
            "SELECT count(*), count(DISTINCT (symbol, timestamp_ms, seq)) FROM sp500_websocket_trades"
        ).fetchone()  # type: ignore[misc]
        newest = newest_in_table(conn, "sp500_websocket_trades")
        pods = conn.execute("SELECT DISTINCT pod_name, pod_index FROM sp500_websocket_trades").fetchall()
    assert rows == distinct == produced
    assert sink.metrics.totals.get("dlq", 0) == 0
    assert set(newest) == set(universe)
    assert pods == [("e2e-0", 0)]
    assert_redis_latest(redis_client, newest, "latest:stocks:sp500:", "sp500_realtime_data")
