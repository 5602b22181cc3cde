"""The topics of DESIGN.md §4, created idempotently.

Partitions per topic and the replication factor are configurable (``StreamSettings``); creating a
topic that exists is a no-op, and an existing topic with fewer partitions than asked is grown
(Kafka cannot shrink a topic, and a grown keyed topic moves keys — so it is logged, never silent).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from marketpipe.stream.bus import admin_config

log = logging.getLogger(__name__)

SP500_TRADES = "sp500-websocket-trades"
BITHUMB_TICKER = "bithumb-ticker"
FINNHUB_TRADES = "finnhub-trades"
#: ETF trades (Finnhub WebSocket, universe = etf_basic_info): an addition to DESIGN.md §4.
ETF_TRADES = "etf-trades"
DLQ = "marketpipe.dlq"

#: DESIGN.md §4 partition counts (+ etf-trades).
DEFAULT_PARTITIONS: dict[str, int] = {
    SP500_TRADES: 3, BITHUMB_TICKER: 1, FINNHUB_TRADES: 1, ETF_TRADES: 1, DLQ: 1,
}  # fmt: skip


class TopicError(RuntimeError):
    """A topic could not be created or inspected."""


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its name, partitions, replication factor and topic-level config."""

    name: str
    partitions: int
    replication: int = 1
    config: Mapping[str, str] = field(default_factory=dict)


def default_specs(
    partitions: Mapping[str, int] | None = None,
    replication: int = 1,
    names: Iterable[str] | None = None,
) -> list[TopicSpec]:
    """Specs for the standard topics, with per-topic partition overrides."""
    overrides = dict(partitions or {})
    wanted = list(names) if names is not None else list(DEFAULT_PARTITIONS)
    specs = []
    for name in wanted:
        config = {"compression.type": "producer"}
        if name == DLQ:
            # Poison messages are kept for inspection for two weeks.
            config["retention.ms"] = str(14 * 24 * 3600 * 1000)
        specs.append(
            TopicSpec(name, overrides.get(name, DEFAULT_PARTITIONS.get(name, 1)), replication, config)
        )
    return specs


def ensure_topics(
    bootstrap: str, specs: Iterable[TopicSpec] | None = None, *, timeout: float = 30.0
) -> list[str]:
    """Create the missing topics (and grow under-partitioned ones); return the names created."""
    admin = AdminClient(admin_config(bootstrap))
    specs = list(specs) if specs is not None else default_specs()
    try:
        existing = admin.list_topics(timeout=timeout).topics
    except KafkaException as exc:
        raise TopicError(f"cannot list topics on {bootstrap}: {exc}") from exc

    to_create = [
        NewTopic(s.name, num_partitions=s.partitions, replication_factor=s.replication, config=dict(s.config))
        for s in specs
        if s.name not in existing
    ]
    created: list[str] = []
    if to_create:
        for name, future in admin.create_topics(to_create, operation_timeout=timeout).items():
            try:
                future.result(timeout)
                created.append(name)
            except KafkaException as exc:
                # A concurrent creator won the race: that is the idempotent outcome we want.
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise TopicError(f"cannot create topic {name}: {exc}") from exc

    to_grow = [
        NewPartitions(s.name, s.partitions)
        for s in specs
        if s.name in existing and len(existing[s.name].partitions) < s.partitions
    ]
    if to_grow:
        for name, future in admin.create_partitions(to_grow, operation_timeout=timeout).items():
            try:
                future.result(timeout)
                log.warning("topic %s grown to more partitions: keyed ordering restarts for moved keys", name)
            except KafkaException as exc:
                raise TopicError(f"cannot add partitions to {name}: {exc}") from exc
    _wait_for_leaders(admin, [s.name for s in specs], timeout)
    return created


def _wait_for_leaders(admin: AdminClient, names: list[str], timeout: float) -> None:
    """Block until every partition of ``names`` has a leader (a fresh topic needs a moment)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        topics = admin.list_topics(timeout=timeout).topics
        missing = [
            n
            for n in names
            if n not in topics
            or topics[n].error is not None
            or any(p.leader < 0 for p in topics[n].partitions.values())
        ]
        if not missing:
            return
        if time.monotonic() > deadline:
            raise TopicError(f"topics without a leader after {timeout:.0f} s: {', '.join(missing)}")
        time.sleep(0.1)


def partition_counts(bootstrap: str, names: Iterable[str], *, timeout: float = 10.0) -> dict[str, int]:
    """How many partitions each named topic has (0 = does not exist)."""
    admin = AdminClient(admin_config(bootstrap))
    topics = admin.list_topics(timeout=timeout).topics
    return {n: len(topics[n].partitions) if n in topics else 0 for n in names}
