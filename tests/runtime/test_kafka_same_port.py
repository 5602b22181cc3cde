"""The embedded Apache Kafka broker comes back on the same port after a restart.

Issue #17 item 9: stopping the broker leaves the server side of every client connection in
TIME-WAIT on the broker's port; a plain ``bind()`` probe then called the port "taken" and the runtime
picked a new one, leaving every running client pointing at nothing. The broker's JVM binds with
SO_REUSEADDR (as every Java ServerSocket on Linux), so a TIME-WAIT port is reusable and must be reused.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest
from confluent_kafka import TopicPartition

from marketpipe.config import Settings
from marketpipe.runtime.kafka import KafkaRuntimeError, KafkaService, ensure_jars, ping_bootstrap
from marketpipe.stream.bus import make_consumer, make_producer
from marketpipe.stream.topics import TopicSpec, ensure_topics
from plugins.kafka import _libs_dir


def _time_wait_on(port: int) -> bool:
    """True when some TCP socket with local port ``port`` sits in TIME-WAIT (``ss`` from iproute2)."""
    out = subprocess.run(
        ["ss", "-Htan", "state", "time-wait", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return bool(out.strip())


@pytest.fixture
def apache_settings(service_tmp_dir: Path) -> Settings:
    try:
        libs = ensure_jars(_libs_dir())
    except KafkaRuntimeError as exc:
        pytest.fail(f"Apache Kafka is required and could not start: {exc}")
    settings = Settings(_env_file=None, data_dir=service_tmp_dir / "data", kafka_flavour="apache")  # type: ignore[call-arg]
    target = settings.data_dir / "kafka" / "libs"
    target.parent.mkdir(parents=True)
    target.symlink_to(libs)
    return settings


def _consume_all(consumer, want: int, timeout: float = 60.0) -> list[bytes]:
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        got += [m.value() for m in consumer.consume(100, 0.5) if m.error() is None]
    return got


def test_restart_after_time_wait_keeps_port_and_clients_reconnect(apache_settings: Settings) -> None:
    service = KafkaService(apache_settings)
    url = service.start()
    port = int(url.rsplit(":", 1)[1])
    producer = None
    consumer = None
    try:
        ensure_topics(url, [TopicSpec("same-port", 1)])
        # Long-lived clients, as a running producer/sink would be: they never re-resolve the bootstrap.
        producer = make_producer(url)
        producer.produce("same-port", key=b"k", value=b"before")
        assert producer.flush(30) == 0
        consumer = make_consumer(url, "g-same-port")
        consumer.assign([TopicPartition("same-port", 0, 0)])
        assert _consume_all(consumer, 1) == [b"before"]

        assert service.stop()
        # The broker closed the clients' connections: TIME-WAIT on its port (the reproduction's
        # precondition; without it this test would prove nothing).
        assert _time_wait_on(port), "expected TIME-WAIT sockets on the stopped broker's port"
        with socket.socket() as probe, pytest.raises(OSError):
            probe.bind(("127.0.0.1", port))  # a plain bind fails — what the old probe relied on

        again = service.start()
        assert again == url, f"restarted on {again}, clients still point at {url}"
        assert ping_bootstrap(url)
        # The same client objects reconnect on their own and keep working.
        producer.produce("same-port", key=b"k", value=b"after")
        assert producer.flush(60) == 0
        assert _consume_all(consumer, 1) == [b"after"]
    finally:
        if consumer is not None:
            consumer.close()
        service.stop()


def test_port_held_by_another_listener_is_a_clear_error(apache_settings: Settings) -> None:
    """A port that another process *listens* on is not silently swapped for a new one."""
    service = KafkaService(apache_settings)
    url = service.start()
    port = int(url.rsplit(":", 1)[1])
    service.stop()
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", port))
    squatter.listen()
    try:
        with pytest.raises(KafkaRuntimeError, match=str(port)):
            service.start()
    finally:
        squatter.close()
        service.stop()
    # Once the port is free again the broker comes back on it.
    try:
        assert service.start() == url
    finally:
        service.stop()
