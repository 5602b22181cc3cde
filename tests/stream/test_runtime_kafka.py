"""``marketpipe up --kafka``: the KafkaService with both local flavours, and bootstrap resolution."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import TopicPartition

from marketpipe.config import Settings
from marketpipe.runtime.kafka import KafkaRuntimeError, KafkaService, bootstrap, ping_bootstrap
from marketpipe.stream.bus import make_consumer, make_producer
from marketpipe.stream.topics import TopicSpec, ensure_topics


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", **kw)  # type: ignore[arg-type]


def _roundtrip(servers: str) -> None:
    ensure_topics(servers, [TopicSpec("svc-check", 1)])
    producer = make_producer(servers)
    producer.produce("svc-check", key=b"k", value=b"hello")
    assert producer.flush(30) == 0
    consumer = make_consumer(servers, "svc-check")
    consumer.assign([TopicPartition("svc-check", 0, 0)])
    got = []
    for _ in range(40):
        got += [m.value() for m in consumer.consume(10, 0.5) if m.error() is None]
        if got:
            break
    consumer.close()
    assert got == [b"hello"]


def test_apache_service_starts_reuses_and_stops(tmp_path: Path, kafka_broker) -> None:
    settings = _settings(tmp_path, kafka_flavour="apache")
    # Reuse the session's resolved jars instead of resolving a second copy.
    libs = settings.data_dir / "kafka" / "libs"
    libs.parent.mkdir(parents=True)
    libs.symlink_to(kafka_broker.libs_dir)
    service = KafkaService(settings)
    with pytest.raises(KafkaRuntimeError):
        bootstrap(settings)  # nothing running yet
    url = service.start()
    try:
        assert ping_bootstrap(url)
        assert service.start() == url  # idempotent: the running broker is reused
        assert bootstrap(settings) == url
        _roundtrip(url)
        assert service.status().answering
    finally:
        assert service.stop()
    assert not ping_bootstrap(url, timeout=1)
    assert service.url() is None


def test_tansu_service_for_machines_without_java(tmp_path: Path) -> None:
    service = KafkaService(_settings(tmp_path, kafka_flavour="tansu"))
    url = service.start()
    try:
        _roundtrip(url)
    finally:
        service.stop()


def test_configured_bootstrap_wins(tmp_path: Path, kafka_bootstrap: str) -> None:
    settings = _settings(tmp_path, kafka_bootstrap=kafka_bootstrap)
    assert bootstrap(settings) == kafka_bootstrap
    assert KafkaService(settings).start() == kafka_bootstrap


def test_without_java_the_service_falls_back_to_tansu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """`make demo` on a machine without Java still gets a Kafka-protocol broker."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    service = KafkaService(_settings(tmp_path, kafka_flavour="apache"))
    url = service.start()
    try:
        assert "Tansu" in caplog.text
        assert ping_bootstrap(url)
    finally:
        service.stop()


def test_cluster_ids_never_start_with_a_dash() -> None:
    # kafka-storage's parser would read "-xyz…" as an option; about 1 draw in 64 used to.
    from marketpipe.runtime.kafka import random_cluster_id

    ids = [random_cluster_id() for _ in range(5000)]
    assert not any(cluster_id.startswith("-") for cluster_id in ids)
    assert all(len(cluster_id) == 22 for cluster_id in ids)
