"""Kafka fixtures: one real Apache Kafka 4.x (KRaft) broker per test session.

The broker jars come from ``.marketpipe/kafka/libs`` (``make kafka-jars``; resolved with Maven on
first use if missing). The broker runs on free loopback ports in a session temp dir. If it cannot
start, every test that needs it FAILS — locally and in CI — it is never skipped.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from marketpipe.runtime.kafka import ApacheKafkaBroker, KafkaRuntimeError, ensure_jars
from marketpipe.stream.topics import TopicSpec, ensure_topics

_REPO = Path(__file__).resolve().parents[2]
_topic_ids = itertools.count(1)


def _libs_dir() -> Path:
    override = os.environ.get("MARKETPIPE_KAFKA_LIBS")
    return Path(override) if override else _REPO / ".marketpipe" / "kafka" / "libs"


def _warm_up_idempotence(bootstrap: str) -> None:
    """One acknowledged idempotent produce: a fresh broker hands out producer ids only after its
    controller allocated a block (slow on a loaded machine); pay that once, not in every test."""
    from marketpipe.stream.bus import make_producer

    ensure_topics(bootstrap, [TopicSpec("t-warmup", 1)])
    producer = make_producer(bootstrap)
    producer.produce("t-warmup", key=b"warmup", value=b"{}")
    if producer.flush(180):
        raise KafkaRuntimeError("kafka: the first idempotent produce was not acknowledged within 180 s")


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApacheKafkaBroker]:
    """The session's real Apache Kafka broker (an :class:`ApacheKafkaBroker`, already started)."""
    try:
        libs = ensure_jars(_libs_dir())
        broker = ApacheKafkaBroker(work_dir=tmp_path_factory.mktemp("kafka"), libs_dir=libs)
        broker.start(timeout=120)
        _warm_up_idempotence(broker.bootstrap)
    except KafkaRuntimeError as exc:
        pytest.fail(f"Apache Kafka is required and could not start: {exc}")
    yield broker
    broker.stop(timeout=30)


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: ApacheKafkaBroker) -> str:
    """``bootstrap.servers`` of the session's real Apache Kafka broker."""
    return kafka_broker.bootstrap


@pytest.fixture
def kafka_topic(kafka_bootstrap: str) -> Callable[..., str]:
    """Factory: create a fresh, uniquely named topic and return its name.

    ``kafka_topic("trades", partitions=3)`` → ``"t-trades-<n>-<hex>"``; tests never share topics, so no
    test sees another's messages.
    """

    def create(prefix: str = "topic", partitions: int = 1) -> str:
        name = f"t-{prefix}-{next(_topic_ids)}-{uuid.uuid4().hex[:6]}"
        ensure_topics(kafka_bootstrap, [TopicSpec(name, partitions)])
        return name

    return create
