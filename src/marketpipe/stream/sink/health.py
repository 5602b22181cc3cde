"""The sink's ``/healthz`` answer: what the Kubernetes probes see.

Healthy (None) while the consume loop comes round; otherwise why not: a fatal Kafka consumer error
(fenced by another member with our static id…), a failed SASL authentication (librdkafka retries it
for ever; the pod must not look ready meanwhile), a failed stage, stopping, not started yet, or a
loop that has not run for :data:`STALL_S` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from confluent_kafka import KafkaError

from marketpipe.stream.sink.errors import SinkError
from marketpipe.stream.sink.fencing import is_fenced

STALL_S = 120.0  # /healthz fails when the consume loop has not come round for this long


class Health:
    """The liveness facts the loop reports (:meth:`beat`, :meth:`fatal`), read by :meth:`problem`."""

    def __init__(self, stages_ok: Callable[[], None], stopping: Callable[[], bool]) -> None:
        self._stages_ok = stages_ok  # raises SinkError when a stage failed
        self._stopping = stopping
        self.fatal_error: KafkaError | None = None
        #: The last SASL authentication failure, until the group assigns partitions or data arrives.
        self.auth_error: KafkaError | None = None
        self.last_loop: float | None = None

    def beat(self) -> None:
        """The consume loop came round."""
        self.last_loop = time.monotonic()

    def problem(self) -> str | None:
        """None while consuming normally, else why not."""
        if self.fatal_error is not None:
            return f"fatal Kafka consumer error: {self.fatal_error.str()}"
        if self.auth_error is not None:
            return f"Kafka authentication failed: {self.auth_error.str()}"
        try:
            self._stages_ok()
        except SinkError as exc:
            return str(exc)
        if self._stopping():
            return "stopping"
        if self.last_loop is None:
            return "starting"
        stalled = time.monotonic() - self.last_loop
        if stalled > STALL_S:
            return f"the consume loop has not run for {stalled:.0f} s"
        return None

    def raise_if_fatal(self) -> None:
        """Raise a :class:`SinkError` (with a hint when fenced) after a fatal consumer error."""
        err = self.fatal_error
        if err is None:
            return
        hint = (
            " (another consumer joined with the same group.instance.id: give every sink its own"
            " MARKETPIPE_STREAM_INSTANCE_ID, or leave it unset)"
            if is_fenced(err)
            else ""
        )
        raise SinkError(f"fatal Kafka consumer error: {err.str()}{hint}")
