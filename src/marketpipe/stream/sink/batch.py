"""The batch side of the sink: Kafka messages → decoded rows + dead letters (``add`` in Quix terms).

:meth:`Decoder.prepare` runs on the main thread and decides everything about a message before any
write: it is decoded and validated by the kind (orjson + strict checks, text fields capped or
rejected), its event time must lie in the window ``[now - max_age_s, now + max_future_s]``, and it
becomes either a COPY text row (+ its Redis history member) or a dead letter of stage ``decode``.
The batch also carries what the PostgreSQL stage needs ready-made (its time is the sink's critical
path): the COPY payload and, for trade kinds, the candle merge parameters assuming every row is new.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from confluent_kafka import KafkaError, Message

from marketpipe.stream import candles
from marketpipe.stream.codec import CodecError
from marketpipe.stream.dlq import DeadLetter
from marketpipe.stream.kinds import SinkKind
from marketpipe.stream.settings import StreamSettings

log = logging.getLogger("marketpipe.stream.sink")

#: Longest dead-letter reason kept (the DLQ message and the ``stream_dead_letters`` row).
REASON_CAP = 500


class Decoded(NamedTuple):
    """One message that decoded: the kind's message, its COPY row, its Redis member, its position."""

    msg: Any  # the kind's decoded message
    line: str  # its COPY text row
    member: str  # its Redis history member
    partition: int
    offset: int


# tuple.__new__(Decoded, (...)) builds one in C (the generated NamedTuple.__new__ is Python code,
# about ten times slower: measurable at 100k messages a second).
_new_tuple = tuple.__new__


@dataclass
class BatchResult:
    """What one batch did (returned by :meth:`Sink.process_batch`, used by tests and benchmarks)."""

    consumed: int = 0
    written: int = 0
    conflicted: int = 0
    dead: list[DeadLetter] = field(default_factory=list)
    redis_ok: bool = True


@dataclass
class Batch:
    """One consumed batch after decoding, on its way through the PostgreSQL and Redis stages."""

    msgs: list[Message]
    decoded: list[Decoded]
    dead: list[DeadLetter]
    next_offsets: dict[int, int]  # per partition: the offset after the batch's last message
    result: BatchResult
    payload: str = ""  # the COPY payload of every decoded row
    candle_params: dict[str, Any] | None = None  # trade kinds: the merge, if every row is new


def letter(kind: SinkKind, m: Message, reason: str, error_class: str, stage: str) -> DeadLetter:
    """The dead letter for message ``m`` (reason capped at :data:`REASON_CAP` characters)."""
    return DeadLetter(
        topic=m.topic() or kind.topic,
        partition=m.partition() or 0,
        offset=m.offset() or 0,
        key=m.key(),
        value=m.value(),
        reason=reason[:REASON_CAP],
        error_class=error_class,
        stage=stage,
    )


def window_reason(ms: int, now_ms: float) -> str:
    ahead = (ms - now_ms) / 1000
    where = f"{ahead:.0f} s ahead of" if ahead > 0 else f"{-ahead:.0f} s behind"
    return f"event time {where} the sink clock"


class Decoder:
    """Turns consumed messages into a :class:`Batch` for one kind.

    ``on_fatal`` is called with a fatal consumer error found among the messages (the consumer is
    dead: it is expected to raise).
    """

    def __init__(
        self, kind: SinkKind, settings: StreamSettings, on_fatal: Callable[[KafkaError], None]
    ) -> None:
        self.kind = kind
        self.settings = settings
        self._on_fatal = on_fatal

    def prepare(self, msgs: list[Message]) -> Batch:
        """Decode every message into a COPY row or a dead letter."""
        kind = self.kind
        result = BatchResult()
        decoded: list[Decoded] = []
        dead: list[DeadLetter] = []
        next_offsets: dict[int, int] = {}
        decode, encode, new, append, event_ms = (
            kind.decode,
            kind.encode,
            _new_tuple,
            decoded.append,
            kind.event_ms,
        )
        now_ms = time.time() * 1000
        latest_ok = now_ms + self.settings.max_future_s * 1000
        earliest_ok = now_ms - self.settings.max_age_s * 1000 if self.settings.max_age_s else -1.0
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    continue
                # A fatal consumer error (fenced...) arrives as a message whose error code is _FATAL
                # (its fatal() flag is not set on the message): the consumer is dead, stop the process.
                if err.fatal() or err.code() == KafkaError._FATAL:
                    self._on_fatal(err)
                log.warning("sink %s: consumer error %s", kind.name, err)
                continue
            partition, offset = m.partition() or 0, m.offset() or 0
            next_offsets[partition] = offset + 1  # messages of one partition arrive in order
            result.consumed += 1
            try:
                d = decode(m.value())
                ms = event_ms(d)
                if not earliest_ok <= ms <= latest_ok:
                    dead.append(letter(kind, m, window_reason(ms, now_ms), "EventTimeOutOfWindow", "decode"))
                    continue
                append(new(Decoded, (d, *encode(d), partition, offset)))
            except CodecError as exc:
                dead.append(letter(kind, m, exc.reason, "CodecError", "decode"))
            except (KeyError, TypeError, ValueError) as exc:
                dead.append(
                    letter(kind, m, f"cannot map message: {type(exc).__name__}", type(exc).__name__, "decode")
                )
        batch = Batch(msgs, decoded, dead, next_offsets, result)
        if decoded:
            batch.payload = "\n".join([d.line for d in decoded]) + "\n"
            if kind.candles:
                batch.candle_params = candles.merge_params(
                    kind.name, candles.aggregate([d.msg for d in decoded])
                )
        return batch
