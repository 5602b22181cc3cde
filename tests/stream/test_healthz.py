"""``GET /healthz`` on the sinks' and producers' metrics ports (what the Kubernetes probes ask)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import httpx
import redis

from marketpipe.stream.kinds import SP500
from marketpipe.stream.producers.publisher import KafkaPublisher
from marketpipe.stream.producers.stats import ProducerStats, serve_metrics
from marketpipe.stream.settings import StreamSettings
from marketpipe.stream.sink import Sink, SinkError
from plugins._streamkit import healthz


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(what: str, condition: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


def test_sink_healthz_is_200_while_consuming_and_503_once_fenced(
    kafka_bootstrap: str,
    kafka_topic: Callable[..., str],
    pg_dsn: str,
    redis_url: str,
    redis_client: redis.Redis,
) -> None:
    topic, dlq = kafka_topic("healthz"), kafka_topic("dlq")
    ports = [_port(), _port()]
    sinks = [
        Sink(SP500.with_topic(topic), bootstrap=kafka_bootstrap, dsn=pg_dsn, redis_url=redis_url, group_id="g-hz",
             dlq_topic=dlq, settings=StreamSettings(_env_file=None, metrics_port=port, instance_id="hz-0"))  # type: ignore[call-arg]
        for port in ports
    ]  # fmt: skip
    errors: list[BaseException] = []

    def run(sink: Sink) -> None:
        try:
            sink.run()
        except SinkError as exc:
            errors.append(exc)

    first = threading.Thread(target=run, args=(sinks[0],), daemon=True)
    first.start()
    _wait("sink 0 healthy", lambda: healthz(ports[0]) == (200, "ok\n"))
    assert "marketpipe_sink_messages_in_total" in httpx.get(f"http://127.0.0.1:{ports[0]}/metrics").text
    second = threading.Thread(target=run, args=(sinks[1],), daemon=True)
    second.start()
    try:
        _wait("one sink fenced", lambda: not first.is_alive() or not second.is_alive(), timeout=120)
        fenced = 0 if not first.is_alive() else 1
        code, text = healthz(ports[fenced])
        assert code == 503 and "fatal Kafka consumer error" in text
        assert errors and "fenced" in str(errors[0]).lower()
        _wait("the other sink healthy", lambda: healthz(ports[1 - fenced])[0] == 200)
    finally:
        for sink in sinks:
            sink.stop()
        first.join(30)
        second.join(30)
    assert healthz(ports[1 - fenced])[0] == 503  # stopped


def test_producer_healthz_fails_when_nothing_is_delivered(
    kafka_bootstrap: str, kafka_topic: Callable[..., str]
) -> None:
    dead, topic = f"127.0.0.1:{_port()}", kafka_topic("healthz-producer")
    for bootstrap, expected in ((kafka_bootstrap, 200), (dead, 503)):
        stats, port = ProducerStats("test"), _port()
        serve_metrics(stats, port, addr="127.0.0.1")
        publisher = KafkaPublisher(bootstrap, stats, stall_s=2.0)
        try:
            publisher.publish(topic, "K", b"{}")
            time.sleep(4)
            code, text = healthz(port)
            assert code == expected, text
            if expected == 503:
                assert "1 messages pending, nothing delivered" in text
        finally:
            publisher.close(timeout=1 if expected == 503 else 30)
        assert healthz(port)[0] == 503  # closed
