"""Topics of DESIGN.md §4 are created idempotently with configurable partitions."""

from __future__ import annotations

import uuid

from marketpipe.stream import topics
from marketpipe.stream.topics import TopicSpec, default_specs, ensure_topics, partition_counts


def test_default_specs_follow_design() -> None:
    specs = {s.name: s for s in default_specs()}
    assert {n: s.partitions for n, s in specs.items()} == {
        "sp500-websocket-trades": 3,
        "bithumb-ticker": 1,
        "finnhub-trades": 1,
        "etf-trades": 1,  # an addition to DESIGN.md §4 (ETF trades, like the seed's external consumer)
        "marketpipe.dlq": 1,
    }
    assert all(s.replication == 1 for s in specs.values())
    overridden = {s.name: s for s in default_specs({"bithumb-ticker": 4}, replication=2)}
    assert overridden["bithumb-ticker"].partitions == 4
    assert overridden[topics.SP500_TRADES].replication == 2


def test_ensure_topics_is_idempotent_and_grows(kafka_bootstrap: str) -> None:
    suffix = uuid.uuid4().hex[:6]
    names = [f"idem-a-{suffix}", f"idem-b-{suffix}"]
    first = ensure_topics(kafka_bootstrap, [TopicSpec(names[0], 3), TopicSpec(names[1], 1)])
    assert sorted(first) == sorted(names)
    assert ensure_topics(kafka_bootstrap, [TopicSpec(names[0], 3), TopicSpec(names[1], 1)]) == []
    assert partition_counts(kafka_bootstrap, names) == {names[0]: 3, names[1]: 1}
    # Asking for more partitions grows the topic; asking for fewer never shrinks it.
    assert ensure_topics(kafka_bootstrap, [TopicSpec(names[1], 2), TopicSpec(names[0], 1)]) == []
    assert partition_counts(kafka_bootstrap, names) == {names[0]: 3, names[1]: 2}


def test_standard_topics_created_on_the_broker(kafka_bootstrap: str) -> None:
    ensure_topics(kafka_bootstrap)
    counts = partition_counts(kafka_bootstrap, list(topics.DEFAULT_PARTITIONS))
    # The session broker is shared: another test may have grown a standard topic (never shrunk).
    assert all(counts[name] >= n for name, n in topics.DEFAULT_PARTITIONS.items()), counts
