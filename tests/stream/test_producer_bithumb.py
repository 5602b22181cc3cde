"""Bithumb ticker producer against the real sandbox REST API and a real Kafka broker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson

from marketpipe.providers.bithumb.tickers import KST_SKEW_MS
from marketpipe.stream import codec
from marketpipe.stream.producers.bithumb import BithumbProducer, BithumbProducerConfig
from marketpipe.stream.producers.runner import ProducerThread
from plugins._producerkit import read_topic, wait_for


def make_producer(sandbox: Any, bootstrap: str, topic: str, **overrides: Any) -> BithumbProducer:
    config = BithumbProducerConfig(
        bootstrap=bootstrap,
        base_url=sandbox.base_url("bithumb"),
        topic=topic,
        backoff_base=0.1,
        backoff_cap=1.0,
        **overrides,
    )
    return BithumbProducer(config)


def test_all_krw_tickers_in_few_calls_and_unchanged_timestamps_are_dropped(
    sandbox: Any, idempotent_kafka: str, kafka_topic: Callable[..., str]
) -> None:
    topic = kafka_topic("bithumb")
    sandbox.admin.freeze()
    producer = make_producer(sandbox, idempotent_kafka, topic)

    async def three_polls() -> tuple[int, int, int]:
        async with producer.http_client() as client:
            first = await producer.poll_once(client)
            second = await producer.poll_once(client)  # same sandbox instant: nothing moved
            sandbox.admin.advance(minutes=2)
            third = await producer.poll_once(client)
        return first, second, third

    producer.open()
    try:
        first, second, third = asyncio.run(three_polls())
    finally:
        assert producer.close() == 0
    krw_markets = producer.markets
    assert len(krw_markets) > 300 and all(m.startswith("KRW-") for m in krw_markets)
    assert first == len(krw_markets)
    assert second == 0 and producer.stats.get("unchanged") >= len(krw_markets)
    assert 0 < third < len(krw_markets)  # some markets traded in two minutes, not all of them
    # The sandbox accepts at most 200 codes per call: the poller settles on the fewest calls that fit.
    assert producer.chunk_size is not None and producer.chunk_size <= 200
    calls_per_poll = -(-len(krw_markets) // producer.chunk_size)
    assert calls_per_poll == -(-len(krw_markets) // 200)

    messages = read_topic(idempotent_kafka, topic, first + third)
    assert len(messages) == first + third
    seen: dict[str, list[int]] = {}
    for msg in messages:
        decoded = codec.decode_ticker(msg.value())
        body = orjson.loads(msg.value())
        assert msg.key().decode() == body["market"] == decoded["market"]
        assert body["kind"] == "ticker" and body["source"] == "bithumb"
        assert body["trade_timestamp"] - body["trade_timestamp_fixed"] == KST_SKEW_MS  # sandbox has the quirk
        assert abs(body["trade_timestamp_fixed"] - body["timestamp"]) < 3_600_000
        seen.setdefault(body["market"], []).append(body["timestamp"])
    assert set(seen) == set(krw_markets)
    # A market appears twice only if its timestamp moved, and then strictly forward.
    assert all(len(ts) == 1 or (len(ts) == 2 and ts[1] > ts[0]) for ts in seen.values())


def test_rate_limit_backs_off_and_polling_resumes(
    sandbox: Any, idempotent_kafka: str, kafka_topic: Callable[..., str]
) -> None:
    topic = kafka_topic("bithumb429")
    producer = make_producer(
        sandbox, idempotent_kafka, topic, markets=["KRW-BTC", "KRW-ETH", "KRW-XRP"], interval_s=0.2
    )
    sandbox.admin.add_fault("bithumb", "rate_limit", "/v1/ticker", count=3)
    with ProducerThread(producer.run) as thread:
        wait_for(lambda: producer.stats.get("rate_limited") >= 3, what="three 429 replies")
        wait_for(lambda: producer.stats.get("delivered") >= 3, what="tickers after the 429 storm")
        assert thread.alive
    assert producer.stats.get("rate_limited") == 3
    assert producer.stats.get("polls") >= 1
    bodies = [orjson.loads(m.value()) for m in read_topic(idempotent_kafka, topic, 3)]
    assert {b["market"] for b in bodies} == {"KRW-BTC", "KRW-ETH", "KRW-XRP"}


def test_an_error_envelope_in_a_200_is_classified_by_the_provider_and_polling_resumes(
    sandbox: Any, idempotent_kafka: str, kafka_topic: Callable[..., str]
) -> None:
    # Bithumb's legacy "status 5600" envelope arrives with HTTP 200: the provider's classify() calls it
    # throttling (the producer no longer has a classifier of its own), so the poller backs off.
    topic = kafka_topic("bithumb5600")
    producer = make_producer(sandbox, idempotent_kafka, topic, markets=["KRW-BTC"], interval_s=0.2)
    sandbox.admin.add_fault(
        "bithumb", "reply", "/v1/ticker", count=2, status=200, body={"status": "5600", "message": "busy"}
    )
    with ProducerThread(producer.run) as thread:
        wait_for(lambda: producer.stats.get("delivered") >= 1, what="a ticker after the envelopes")
        assert thread.alive
    assert producer.stats.get("rate_limited") == 2
    assert producer.stats.get("provider_errors") == 0
