"""The real Apache Kafka broker: resolvable, running, and usable with idempotent produce/consume."""

from __future__ import annotations

from pathlib import Path

from confluent_kafka import TopicPartition

from marketpipe.runtime.kafka import KAFKA_VERSION, ApacheKafkaBroker, jars_ready, ping_bootstrap
from marketpipe.stream.bus import make_consumer, make_producer


def test_broker_is_apache_kafka_4(kafka_broker: ApacheKafkaBroker) -> None:
    assert KAFKA_VERSION.startswith("4.")
    assert jars_ready(kafka_broker.libs_dir)
    assert (kafka_broker.libs_dir / f"kafka_2.13-{KAFKA_VERSION}.jar").exists()
    assert ping_bootstrap(kafka_broker.bootstrap)
    # The broker logs through log4j2 (the SLF4J binding is on the classpath), so start-up is visible.
    assert "Kafka Server started" in kafka_broker.log_path.read_text(errors="replace")


def test_idempotent_produce_and_manual_commit_roundtrip(kafka_bootstrap: str, kafka_topic) -> None:
    topic = kafka_topic("roundtrip", partitions=2)
    producer = make_producer(kafka_bootstrap)
    for i in range(100):
        producer.produce(topic, key=f"k{i % 7}".encode(), value=str(i).encode())
    assert producer.flush(30) == 0

    consumer = make_consumer(kafka_bootstrap, "g-roundtrip")
    consumer.assign([TopicPartition(topic, p, 0) for p in range(2)])
    seen: list[int] = []
    while len(seen) < 100:
        for msg in consumer.consume(500, timeout=5):
            assert msg.error() is None
            seen.append(int(msg.value()))
    assert sorted(seen) == list(range(100))
    consumer.commit(offsets=[TopicPartition(topic, p, 10) for p in range(2)], asynchronous=False)
    committed = consumer.committed([TopicPartition(topic, p) for p in range(2)], timeout=10)
    assert [tp.offset for tp in committed] == [10, 10]
    consumer.close()


def test_unreachable_bootstrap_does_not_answer() -> None:
    assert not ping_bootstrap("127.0.0.1:1", timeout=1.0)


def test_broker_restart_keeps_topics(tmp_path: Path, kafka_broker: ApacheKafkaBroker) -> None:
    """A second broker on its own dir formats once, and a restart on the same dir keeps its topics."""
    from marketpipe.stream.topics import TopicSpec, ensure_topics, partition_counts

    broker = ApacheKafkaBroker(work_dir=tmp_path / "k", libs_dir=kafka_broker.libs_dir, heap="256m")
    try:
        broker.start()
        assert ensure_topics(broker.bootstrap, [TopicSpec("kept", 2)]) == ["kept"]
        broker.stop()
        assert broker.formatted()
        broker.start()
        assert partition_counts(broker.bootstrap, ["kept"]) == {"kept": 2}
    finally:
        broker.stop()
