"""The Kafka side of every producer: an idempotent confluent-kafka Producer with acks=all.

Delivery reports are served by a small poll thread so the asyncio loop that reads the WebSocket never
blocks on Kafka. A full local queue is back-pressure: ``publish`` waits for deliveries to drain it
(bounded by the broker, not a fixed sleep). ``close`` flushes, so a graceful shutdown loses nothing
already accepted; what it cannot deliver in time is counted (``undelivered``, and every failed
delivery in ``delivery_failed``) and makes the producer command exit non-zero (:func:`lost`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from marketpipe.stream.bus import producer_config
from marketpipe.stream.producers.stats import ProducerStats, logfmt

log = logging.getLogger(__name__)


STALL_S = 120.0  # /healthz fails when messages wait this long without any delivery


class KafkaPublishError(RuntimeError):
    """The Kafka producer hit a fatal error (e.g. idempotence broken) and must stop."""


class KafkaPublisher:
    """Publish keyed messages to Kafka and count deliveries in ``stats``."""

    def __init__(
        self,
        bootstrap: str,
        stats: ProducerStats,
        *,
        client_id: str = "marketpipe-producer",
        config: Mapping[str, Any] | None = None,
        stall_s: float = STALL_S,
    ) -> None:
        self.stats = stats
        self.stall_s = stall_s
        self._fatal: KafkaError | None = None
        #: The last SASL authentication failure, until a message is delivered again.
        self._auth_error: KafkaError | None = None
        self._logged_failures = 0
        # Shared settings (idempotence, acks=all, lz4, linger) come from the bus module.
        overrides = {"client.id": client_id, "error_cb": self._on_error, **(config or {})}
        self._producer = Producer(producer_config(bootstrap, **overrides))
        self._last_delivery = time.monotonic()
        stats.health_checks.append(self.health)
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, name=f"{client_id}-poll", daemon=True)
        self._poller.start()

    # -- delivery and error callbacks (poll thread) -------------------------------------------
    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.2)

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.stats.add("delivered")
            self._last_delivery = time.monotonic()
            self._auth_error = None
            return
        self.stats.add("delivery_failed")
        self._logged_failures += 1
        # Log the first few failures and then every 1000th, so a broker outage does not flood the log.
        if self._logged_failures <= 5 or self._logged_failures % 1000 == 0:
            log.error(
                logfmt(
                    {
                        "event": "producer.delivery_failed",
                        "topic": msg.topic(),
                        "error": err.str(),
                        "failures": self._logged_failures,
                    }
                )
            )

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._fatal = err
            log.error(logfmt({"event": "producer.kafka_fatal", "error": err.str()}))
        else:
            if err.code() == KafkaError._AUTHENTICATION:
                self._auth_error = err  # librdkafka keeps retrying; /healthz says so at once
            log.warning(logfmt({"event": "producer.kafka_error", "error": err.str()}))

    def health(self) -> str | None:
        """None while the producer can deliver; else why not (for ``/healthz``)."""
        if self._fatal is not None:
            return f"kafka producer failed fatally: {self._fatal.str()}"
        if self._auth_error is not None:
            return f"kafka authentication failed: {self._auth_error.str()}"
        if self._stop.is_set():
            return "closed"
        waiting = time.monotonic() - self._last_delivery
        if self.pending() and waiting > self.stall_s:
            return f"{self.pending()} messages pending, nothing delivered for {waiting:.0f} s"
        return None

    # -- public API ----------------------------------------------------------------------------
    def publish(self, topic: str, key: str, value: bytes) -> None:
        """Queue one message; waits for the local queue to drain when it is full."""
        if self._fatal is not None:
            raise KafkaPublishError(f"kafka producer failed fatally: {self._fatal.str()}")
        while True:
            try:
                self._producer.produce(
                    topic, value=value, key=key.encode("utf-8"), on_delivery=self._on_delivery
                )
                break
            except BufferError:
                # Back-pressure: serve delivery reports until the queue has room.
                self._producer.poll(0.5)
            except KafkaException as exc:
                raise KafkaPublishError(f"produce to {topic} failed: {exc}") from None
        self.stats.add("produced")

    def pending(self) -> int:
        """Messages queued but not yet acknowledged."""
        return len(self._producer)

    def flush(self, timeout: float = 30.0) -> int:
        """Wait for outstanding deliveries; return how many are still pending."""
        return int(self._producer.flush(timeout))

    def close(self, timeout: float = 30.0) -> int:
        """Stop the poll thread and flush; return how many messages could not be delivered in time."""
        self._stop.set()
        self._poller.join(timeout=5)
        remaining = self.flush(timeout)
        if remaining:
            log.error(logfmt({"event": "producer.flush_incomplete", "undelivered": remaining}))
            self.stats.add("undelivered", remaining)
            # Fail what is left now (counted as delivery_failed) so close() cannot hang on a dead broker.
            self._producer.purge()
            self._producer.poll(0)
        # Release librdkafka's threads and sockets now rather than whenever the GC breaks the
        # producer <-> callback reference cycle.
        self._producer.close()
        return remaining


def lost(stats: ProducerStats) -> int:
    """Messages handed to Kafka that never reached it (failed deliveries, purged at exit included)."""
    return max(stats.get("delivery_failed"), stats.get("undelivered"))
