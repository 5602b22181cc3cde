"""Top-gainers producer: follows `LISTEN top_gainers_updated` (real trigger, real PostgreSQL) and streams
the latest batch's trades from the sandbox WebSocket into a real Kafka topic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import psycopg
from pydantic import SecretStr

from marketpipe.stream import codec
from marketpipe.stream.producers.runner import ProducerThread
from marketpipe.stream.producers.top_gainers import TopGainersProducer, TopGainersProducerConfig
from plugins._producerkit import read_topic, wait_for


def insert_batch(dsn: str, batch_id: int, lists: dict[str, list[str]]) -> None:
    """One top_gainers batch in one INSERT statement and transaction (as the dataset writes it)."""
    rows = [
        (batch_id, symbol, category, rank)
        for category, symbols in lists.items()
        for rank, symbol in enumerate(symbols, start=1)
    ]
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO top_gainers (batch_id, last_updated, symbol, category, rank_position, price, volume) "
            "SELECT b, now(), s, c, r, 10.5, 1000 FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::int[]) "
            "AS t(b, s, c, r)",
            ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows]),
        )


def test_new_batch_resubscribes_only_the_difference_without_reconnecting(
    sandbox: Any, idempotent_kafka: str, kafka_topic: Callable[..., str], pg_dsn: str
) -> None:
    symbols = sorted(sandbox.admin.constituents())[:12]
    first = {"top_gainers": symbols[0:3], "top_losers": symbols[3:5], "most_actively_traded": symbols[5:7]}
    second = {"top_gainers": symbols[5:9], "top_losers": symbols[9:11], "most_actively_traded": symbols[0:1]}
    first_set = {s for group in first.values() for s in group}
    second_set = {s for group in second.values() for s in group}
    insert_batch(pg_dsn, 1, first)

    topic = kafka_topic("topgainers")
    producer = TopGainersProducer(
        TopGainersProducerConfig(
            bootstrap=idempotent_kafka,
            ws_url=sandbox.base_url("finnhub_ws"),
            token=SecretStr("k2-topgainers"),
            dsn=pg_dsn,
            topic=topic,
            backoff_base=0.2,
            backoff_cap=1.0,
        )
    )
    with ProducerThread(producer.run) as thread:
        wait_for(
            lambda: producer.batch_id == 1 and producer.subscribed == first_set,
            what="batch 1 subscribed",
        )
        wait_for(lambda: producer.stats.get("delivered") >= 50, what="batch 1 trades")
        insert_batch(pg_dsn, 2, second)  # the migration's trigger NOTIFYs top_gainers_updated at commit
        wait_for(
            lambda: producer.batch_id == 2 and producer.subscribed == second_set,
            what="batch 2 subscribed",
        )
        delivered_at_switch = producer.stats.get("delivered")
        wait_for(lambda: producer.stats.get("delivered") >= delivered_at_switch + 50, what="batch 2 trades")
        assert thread.alive
    stats = producer.stats.snapshot()
    assert stats["notifications"] >= 1 and stats["batches"] == 2
    assert producer.connections == 1  # diff applied live, no reconnect
    # Only the new symbols were subscribed the second time (7 first, then 7 - overlap of 2).
    assert stats["subscribes"] == len(first_set) + len(second_set - first_set)

    messages = read_topic(idempotent_kafka, topic, stats["produced"])
    assert len(messages) == stats["produced"]
    category_of = {
        1: {s: c for c, group in first.items() for s in group},
        2: {s: c for c, group in second.items() for s in group},
    }
    batches_seen = set()
    for msg in messages:
        body = orjson.loads(msg.value())
        codec.decode_trade(msg.value())
        assert msg.key().decode() == body["symbol"]
        assert body["source"] == "finnhub_topgainers"
        assert body["category"] == category_of[body["batch_id"]][body["symbol"]]
        batches_seen.add(body["batch_id"])
    assert batches_seen == {1, 2}
    # After the switch every trade belongs to the new batch's symbols.
    last = [orjson.loads(m.value()) for m in messages[-20:]]
    assert all(b["batch_id"] == 2 and b["symbol"] in second_set for b in last)


def test_listener_survives_a_lost_database_connection_and_catches_up(
    sandbox: Any, idempotent_kafka: str, kafka_topic: Callable[..., str], pg_dsn: str
) -> None:
    symbols = sorted(sandbox.admin.constituents())[:6]
    insert_batch(pg_dsn, 1, {"top_gainers": symbols[:3]})
    producer = TopGainersProducer(
        TopGainersProducerConfig(
            bootstrap=idempotent_kafka, ws_url=sandbox.base_url("finnhub_ws"), token=SecretStr("k2-tg-listen"),
            dsn=pg_dsn, topic=kafka_topic("tg-listen"), backoff_base=0.2, backoff_cap=1.0,
        )
    )  # fmt: skip
    with ProducerThread(producer.run) as thread:
        wait_for(lambda: producer.subscribed == set(symbols[:3]), what="batch 1 subscribed")
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            # Kill the LISTEN session, and insert batch 2 while the listener is (probably) down.
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'"
            ).fetchone()
        assert killed == (1,)
        insert_batch(pg_dsn, 2, {"top_gainers": symbols[3:]})
        wait_for(lambda: producer.batch_id == 2 and producer.subscribed == set(symbols[3:]), what="batch 2")
        assert thread.alive
    assert producer.stats.get("listener_errors") >= 1
