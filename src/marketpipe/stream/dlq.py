"""Dead-letter queue: poison messages go to ``marketpipe.dlq`` with the reason and the original bytes.

The DLQ message keeps the original key and value untouched; the reason travels in headers
(``mp-reason``, ``mp-error-class``, ``mp-stage`` = decode|write, ``mp-topic``, ``mp-partition``,
``mp-offset``, ``mp-group``, ``mp-ts``, ``mp-original-size`` and ``mp-sha256`` of the value).

A value larger than :data:`MAX_DLQ_VALUE` (256 KiB) cannot travel whole (the copy plus headers
would exceed the producer's and broker's ~1 MB message limit, and the sink would be stuck on it for
ever): its first 256 KiB go, with ``mp-truncated: 1``; size and digest still describe the original,
which stays in the source topic until retention. A key beyond 1 KiB is cut the same way
(``mp-key-truncated: 1``). The sink flushes DLQ messages before it commits the batch
to PostgreSQL, so a poison message is never skipped without a trace; a crash in between may send a
DLQ copy twice (at least once), while the ``stream_dead_letters`` table counts it once.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from confluent_kafka import KafkaException, Producer

from marketpipe.stream.bus import make_producer
from marketpipe.stream.topics import DLQ

MAX_DLQ_VALUE = 256 * 1024
MAX_DLQ_KEY = 1024


class DeadLetterError(RuntimeError):
    """The DLQ could not be written (the sink must not advance past the poison message then)."""


@dataclass(frozen=True)
class DeadLetter:
    """One rejected message and why."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str
    error_class: str
    stage: str  # "decode" or "write"


class DeadLetterQueue:
    """Sends dead letters to the DLQ topic (idempotent producer, acks=all)."""

    def __init__(
        self, bootstrap: str, group: str, topic: str = DLQ, producer: Producer | None = None
    ) -> None:
        self.topic = topic
        self.group = group
        self.producer = producer or make_producer(bootstrap, **{"linger.ms": 0})
        self._failed: list[str] = []

    def _on_delivery(self, err: object, _msg: object) -> None:
        if err is not None:
            self._failed.append(str(err))

    def send(self, letters: list[DeadLetter], *, timeout: float = 30.0) -> None:
        """Produce ``letters`` and wait until the broker acknowledged all of them."""
        if not letters:
            return
        now = str(int(time.time() * 1000)).encode()
        try:
            for letter in letters:
                headers: list[tuple[str, str | bytes | None]] = [
                    ("mp-reason", letter.reason.encode()),
                    ("mp-error-class", letter.error_class.encode()),
                    ("mp-stage", letter.stage.encode()),
                    ("mp-topic", letter.topic.encode()),
                    ("mp-partition", str(letter.partition).encode()),
                    ("mp-offset", str(letter.offset).encode()),
                    ("mp-group", self.group.encode()),
                    ("mp-ts", now),
                    ("mp-original-size", str(len(letter.value or b"")).encode()),
                    ("mp-sha256", hashlib.sha256(letter.value or b"").hexdigest().encode()),
                ]
                value, key = letter.value, letter.key
                if value is not None and len(value) > MAX_DLQ_VALUE:
                    value = value[:MAX_DLQ_VALUE]
                    headers.append(("mp-truncated", b"1"))
                if key is not None and len(key) > MAX_DLQ_KEY:
                    key = key[:MAX_DLQ_KEY]
                    headers.append(("mp-key-truncated", b"1"))
                self.producer.produce(
                    self.topic, key=key, value=value, headers=headers, on_delivery=self._on_delivery
                )
            remaining = self.producer.flush(timeout)
        except KafkaException as exc:  # a fatal producer error (e.g. not authorized to write the DLQ)
            self._failed = []
            raise DeadLetterError(f"DLQ producer failed: {exc.args[0].str()}") from None
        failed, self._failed = self._failed, []
        if remaining or failed:
            first = f": {failed[0]}" if failed else ""
            raise DeadLetterError(f"DLQ not acknowledged: {remaining} pending, {len(failed)} failed{first}")
