"""Finnhub producer against the real sandbox WebSocket and a real Kafka broker.

Each test runs the producer in-process on a background thread (:class:`ProducerThread`), switches
sandbox faults on through the admin API, and reads the topic back with a plain confluent-kafka consumer.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from pydantic import SecretStr

from marketpipe.stream import codec
from marketpipe.stream.producers.finnhub import FinnhubProducer, FinnhubProducerConfig
from marketpipe.stream.producers.runner import ProducerThread
from marketpipe.stream.producers.sharding import Shard, shard_of
from plugins._producerkit import read_topic, wait_for

SANDBOX_START_MS = 1_794_841_200_000  # 2026-11-16 15:00 UTC, the sandbox fixture's clock


def make_producer(
    sandbox: Any,
    bootstrap: str,
    topic: str,
    universe: list[str],
    *,
    shard: Shard = Shard(0, 1),
    tokens: tuple[str, ...] = ("k2-token",),
    ws_query: str = "",
    **overrides: Any,
) -> FinnhubProducer:
    config = FinnhubProducerConfig(
        bootstrap=bootstrap,
        ws_url=sandbox.base_url("finnhub_ws") + ws_query,
        tokens=[SecretStr(t) for t in tokens],
        universe=universe,
        shard=shard,
        topic=topic,
        pod_name=f"test-{shard.index}",
        backoff_base=0.2,
        backoff_cap=1.0,
        **overrides,
    )
    return FinnhubProducer(config)


@pytest.fixture
def universe(sandbox: Any) -> list[str]:
    return sorted(sandbox.admin.constituents())[:24]


def test_trades_reach_kafka_keyed_by_symbol_with_normalised_fields(
    sandbox: Any, idempotent_kafka: str, kafka_topic: Callable[..., str], universe: list[str]
) -> None:
    topic = kafka_topic("trades", partitions=3)
    producer = make_producer(sandbox, idempotent_kafka, topic, universe, ws_query="?rate=2000")
    with ProducerThread(producer.run):
        wait_for(lambda: producer.subscribed == set(universe), what="all symbols subscribed (paced)")
        start = producer.stats.get("delivered")
        wait_for(lambda: producer.stats.get("delivered") >= start + 1000, what="1000 more delivered trades")
    stats = producer.stats.snapshot()
    # Every produced message was acknowledged by the broker before stop() returned (flush on stop).
    assert stats["delivered"] == stats["produced"] and stats.get("delivery_failed", 0) == 0

    messages = read_topic(idempotent_kafka, topic, stats["produced"], partitions=3)
    assert len(messages) == stats["produced"]
    partition_of: dict[str, set[int]] = defaultdict(set)
    keys_in_ms: set[tuple[str, int, int]] = set()
    for msg in messages:
        body = orjson.loads(msg.value())
        decoded = codec.decode_trade(msg.value())  # the sink's decoder accepts every message
        assert msg.key().decode() == body["symbol"] == decoded["symbol"]
        assert body["v"] == 1 and body["kind"] == "trade" and body["source"] == "finnhub_ws"
        assert body["symbol"] in universe
        assert body["price"] > 0 and body["volume"] >= 1
        assert SANDBOX_START_MS <= body["timestamp_ms"] < SANDBOX_START_MS + 3_600_000
        assert isinstance(body["conditions"], list) and all(isinstance(c, str) for c in body["conditions"])
        assert (body["shard"], body["shards"], body["pod_name"]) == (0, 1, "test-0")
        keys_in_ms.add((body["symbol"], body["timestamp_ms"], body["seq"]))
        partition_of[body["symbol"]].add(msg.partition())
    # One symbol, one partition (ordering per symbol); (symbol, ms, seq) is a unique row key.
    assert all(len(p) == 1 for p in partition_of.values())
    assert len(keys_in_ms) == len(messages)
    assert any(seq > 0 for _, _, seq in keys_in_ms)  # bursts share a millisecond
    assert set(partition_of) == set(universe)


def test_three_shards_cover_every_symbol_exactly_once(
    sandbox: Any, idempotent_kafka: str, kafka_topic: Callable[..., str], universe: list[str]
) -> None:
    topic = kafka_topic("sharded", partitions=3)
    # One key per shard: like Finnhub, the sandbox drops both connections when two share a key.
    producers = [
        make_producer(
            sandbox,
            idempotent_kafka,
            topic,
            universe,
            shard=Shard(i, 3),
            tokens=(f"k2-shard-{i}",),
            ws_query="?rate=1000",
        )
        for i in range(3)
    ]
    assert sorted(s for p in producers for s in p.symbols) == universe  # disjoint and complete
    threads = [ProducerThread(p.run, name=f"shard-{i}").start() for i, p in enumerate(producers)]
    try:
        wait_for(lambda: all(p.stats.get("delivered") >= 300 for p in producers), what="all shards flowing")
    finally:
        for thread in threads:
            thread.stop()
    total = sum(p.stats.get("produced") for p in producers)
    messages = read_topic(idempotent_kafka, topic, total, partitions=3)
    assert len(messages) == total
    shards_of_symbol: dict[str, set[int]] = defaultdict(set)
    for msg in messages:
        body = orjson.loads(msg.value())
        assert body["shards"] == 3 and body["shard"] == shard_of(body["symbol"], 3)
        shards_of_symbol[body["symbol"]].add(body["shard"])
    assert set(shards_of_symbol) == set(universe)
    assert all(len(s) == 1 for s in shards_of_symbol.values())


def test_reconnects_and_resubscribes_after_the_sandbox_drops_the_connection(
    sandbox: Any,
    idempotent_kafka: str,
    kafka_topic: Callable[..., str],
    universe: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    topic = kafka_topic("reconnect")
    token = "k2-secret-token-value"
    producer = make_producer(sandbox, idempotent_kafka, topic, universe[:5], tokens=(token,))
    with caplog.at_level(logging.DEBUG), ProducerThread(producer.run) as thread:
        wait_for(lambda: producer.stats.get("delivered") >= 50, what="first trades")
        sandbox.admin.add_fault("finnhub_ws", "ws_disconnect", "trades", count=1, after_messages=2)
        wait_for(lambda: producer.connections >= 2, what="reconnect")
        delivered_after_reconnect = producer.stats.get("delivered")
        # The admin switch that drops every open stream at once, a second time.
        httpx.post(f"{sandbox.url}/finnhub/ws/_disconnect").raise_for_status()
        wait_for(lambda: producer.connections >= 3, what="2nd reconnect")
        wait_for(
            lambda: producer.stats.get("delivered") >= delivered_after_reconnect + 100, what="flow resumed"
        )
        assert thread.alive
        assert producer.subscribed == set(universe[:5])  # resubscribed after each reconnect
    assert producer.stats.get("reconnects") >= 2
    assert "event=finnhub.connection_lost" in caplog.text
    assert token not in caplog.text  # not in our logs, nor in the websockets library's debug log
    assert "token=***" in caplog.text


def test_garbage_frames_are_counted_and_skipped(
    sandbox: Any, idempotent_kafka: str, kafka_topic: Callable[..., str], universe: list[str]
) -> None:
    topic = kafka_topic("garbage")
    producer = make_producer(sandbox, idempotent_kafka, topic, universe[:5])
    with ProducerThread(producer.run) as thread:
        wait_for(lambda: producer.stats.get("delivered") >= 20, what="first trades")
        for payload in ("not_json", "binary", "wrong_shape", "empty"):
            sandbox.admin.add_fault("finnhub_ws", "ws_garbage", "trades", count=1, payload=payload)
        wait_for(lambda: producer.stats.get("garbage") >= 4, what="4 garbage frames counted")
        delivered = producer.stats.get("delivered")
        wait_for(lambda: producer.stats.get("delivered") >= delivered + 50, what="flow after garbage")
        assert thread.alive
    assert producer.stats.get("garbage") == 4
    assert producer.stats.get("reconnects") == 0  # garbage is skipped, not a reason to reconnect
    messages = read_topic(idempotent_kafka, topic, producer.stats.get("produced"))
    assert len(messages) == producer.stats.get("produced")
    for msg in messages:
        codec.decode_trade(msg.value())


def test_replayed_frames_are_not_produced_twice(
    sandbox: Any, idempotent_kafka: str, kafka_topic: Callable[..., str], universe: list[str]
) -> None:
    topic = kafka_topic("dupes")
    producer = make_producer(sandbox, idempotent_kafka, topic, universe[:5])
    with ProducerThread(producer.run):
        wait_for(lambda: producer.stats.get("delivered") >= 20, what="first trades")
        sandbox.admin.add_fault("finnhub_ws", "ws_duplicate", "trades", count=3, mode="frame")
        wait_for(lambda: producer.stats.get("duplicates") > 0, what="duplicates detected")
    stats = producer.stats.snapshot()
    assert stats["produced"] == stats["received"] - stats["duplicates"]
    messages = read_topic(idempotent_kafka, topic, stats["produced"])
    rows = [orjson.loads(m.value()) for m in messages]
    keys = {(r["symbol"], r["timestamp_ms"], r["seq"]) for r in rows}
    assert len(keys) == len(rows) == stats["produced"]


def test_symbol_cap_reply_is_logged_and_the_rest_keeps_flowing(
    sandbox: Any,
    idempotent_kafka: str,
    kafka_topic: Callable[..., str],
    universe: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    topic = kafka_topic("cap")
    # The sandbox caps this connection at 5 symbols; the producer believes the cap is 50.
    producer = make_producer(sandbox, idempotent_kafka, topic, universe[:8], ws_query="?symbol_limit=5")
    with caplog.at_level(logging.INFO), ProducerThread(producer.run) as thread:
        wait_for(lambda: producer.stats.get("subscription_rejected") >= 3, what="3 cap replies")
        wait_for(lambda: producer.stats.get("delivered") >= 100, what="trades of the accepted symbols")
        assert thread.alive
    assert producer.stats.get("subscription_rejected") == 3
    assert "event=finnhub.symbol_cap" in caplog.text
    symbols = {orjson.loads(m.value())["symbol"] for m in read_topic(idempotent_kafka, topic, 100)}
    assert symbols and symbols <= set(universe[:5])


def test_more_symbols_than_the_cap_are_reported_not_subscribed(
    sandbox: Any,
    idempotent_kafka: str,
    kafka_topic: Callable[..., str],
    universe: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    producer = make_producer(sandbox, idempotent_kafka, kafka_topic("over"), universe[:8], max_symbols=6)
    with caplog.at_level(logging.INFO), ProducerThread(producer.run):
        wait_for(lambda: producer.stats.get("delivered") >= 20, what="trades")
        assert len(producer.subscribed) == 6
    assert producer.stats.get("subscription_rejected") == 0
    assert producer.unserved == universe[6:8]
    assert "event=finnhub.unserved_symbols unserved=2" in caplog.text


def test_a_shard_larger_than_the_cap_spreads_over_its_keys(
    sandbox: Any, idempotent_kafka: str, kafka_topic: Callable[..., str], universe: list[str]
) -> None:
    topic = kafka_topic("twokeys")
    # The sandbox caps each connection at 6; 10 symbols over two keys = two connections of 5.
    producer = make_producer(
        sandbox,
        idempotent_kafka,
        topic,
        universe[:10],
        tokens=("k2-a", "k2-b"),
        max_symbols=6,
        ws_query="?symbol_limit=6",
    )
    assert [len(c) for c in producer.chunks] == [5, 5] and producer.unserved == []
    with ProducerThread(producer.run):
        wait_for(lambda: producer.subscribed == set(universe[:10]), what="all 10 subscribed")
        wait_for(lambda: producer.stats.get("delivered") >= 300, what="trades")
    assert producer.stats.get("subscription_rejected") == 0
    assert producer.connections == 2
    symbols = {orjson.loads(m.value())["symbol"] for m in read_topic(idempotent_kafka, topic, 300)}
    assert symbols == set(universe[:10])
