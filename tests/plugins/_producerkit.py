"""Helpers for the producer tests (imported as ``plugins._producerkit``; not a fixture module)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, Message, TopicPartition


def read_topic(
    bootstrap: str, topic: str, expected: int, *, partitions: int = 1, timeout: float = 60.0
) -> list[Message]:
    """Messages of ``topic`` from the start with a plain consumer: ``expected`` of them, or all that
    arrived before ``timeout``."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4().hex}", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    messages: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(10_000, timeout=0.5):
                assert msg.error() is None, msg.error()
                messages.append(msg)
    finally:
        consumer.close()
    return messages


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> None:
    """Poll ``condition`` until it is true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)
