"""confluent-kafka clients configured the way marketpipe uses them.

Producers are idempotent with ``acks=all`` (no duplicates or reordering on retries), batch for a few
milliseconds and compress with lz4. Consumers never auto-commit: the sink stores offsets in
PostgreSQL together with the rows and commits them to Kafka only after Redis is updated.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import Consumer, Producer

PRODUCER_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 5,
    "compression.type": "lz4",
    "batch.num.messages": 10000,
    "queue.buffering.max.messages": 500000,
    "message.timeout.ms": 120000,
    # Small produce requests must not wait for Nagle's algorithm (latency of a steady trickle).
    "socket.nagle.disable": True,
}

CONSUMER_DEFAULTS: dict[str, Any] = {
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    # A partition the group never stored anywhere starts at its beginning: never skip data.
    "auto.offset.reset": "earliest",
    "fetch.min.bytes": 1,
    "fetch.wait.max.ms": 20,
    "queued.min.messages": 200000,
    "session.timeout.ms": 10000,
    "heartbeat.interval.ms": 1000,
    "socket.nagle.disable": True,
}


def producer_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    """The producer configuration for ``bootstrap`` (dots in keys: pass overrides as a dict splat)."""
    return {"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS, **overrides}


def make_producer(bootstrap: str, **overrides: Any) -> Producer:
    """An idempotent, acks=all producer."""
    return Producer(producer_config(bootstrap, **overrides))


def consumer_config(bootstrap: str, group_id: str, **overrides: Any) -> dict[str, Any]:
    """The consumer configuration: manual commits, earliest reset."""
    return {"bootstrap.servers": bootstrap, "group.id": group_id, **CONSUMER_DEFAULTS, **overrides}


def make_consumer(bootstrap: str, group_id: str, **overrides: Any) -> Consumer:
    """A consumer with manual commits."""
    return Consumer(consumer_config(bootstrap, group_id, **overrides))
