"""Fixture for the producer tests: the session's Kafka broker, ready for idempotent producers."""

from __future__ import annotations

import pytest

# Private aliases: conftest re-exports every public name of a plugin module.
from marketpipe.stream import bus as _bus
from marketpipe.stream import topics as _topics


@pytest.fixture(scope="session")
def idempotent_kafka(kafka_bootstrap: str) -> str:
    """``kafka_bootstrap`` after one idempotent produce has been acknowledged.

    A fresh broker hands out producer ids only once its controller has allocated a block of them;
    on a loaded machine that first InitProducerId can take well over a minute ("Coordinator load in
    progress"). Paying it once here keeps the per-test timeouts meaningful.
    """
    _topics.ensure_topics(kafka_bootstrap, [_topics.TopicSpec("t-producers-warmup", 1)])
    producer = _bus.make_producer(kafka_bootstrap)
    producer.produce("t-producers-warmup", key=b"warmup", value=b"{}")
    remaining = producer.flush(180)
    producer.close()
    if remaining:
        pytest.fail("Kafka did not acknowledge an idempotent produce within 180 s")
    return kafka_bootstrap
