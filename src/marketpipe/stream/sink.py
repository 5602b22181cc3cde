"""The sink: Kafka → PostgreSQL (rows + offsets, one transaction) → Redis → Kafka offset commit.

Per batch (``consume(num_messages=N)``):

1. decode every message (orjson + strict checks) into a COPY text row; undecodable ones are
   dead letters (stage ``decode``);
2. send the dead letters to the DLQ and wait for the broker's acknowledgement;
3. in ONE PostgreSQL transaction: COPY the rows straight into the table, record the dead letters,
   and upsert the next offsets per partition into ``stream_offsets``. If a row conflicts with the
   key (possible only if something else wrote it), the batch falls back to a staging table and
   ``INSERT … ON CONFLICT DO NOTHING``; if a row is rejected by PostgreSQL (a value out of range…),
   the batch is bisected to find it, that row becomes a dead letter (stage ``write``) and the rest
   is written;
4. update Redis in one script call (latest values, bounded history, one pub/sub signal);
5. commit the offsets to Kafka (informational: the sink resumes from PostgreSQL).

On (re)assignment every partition is positioned at the offset stored in PostgreSQL, so a crash at
any point replays exactly the messages whose rows did not commit — nothing is lost and nothing is
written twice. Because rows and offsets commit together, the session may use
``synchronous_commit=off``: a server crash loses both together, and Kafka still has the messages.

PostgreSQL down → the batch is retried after a reconnect with exponential backoff (the consumer
keeps its position). Redis down → PostgreSQL keeps going; the newest value per instrument and its
recent history are kept in memory (bounded) and written when Redis answers again, after the latest
values are rehydrated from PostgreSQL (also done at start-up, which covers a crash between the
PostgreSQL commit and the Redis update).
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import logging
import queue
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

import psycopg
import redis
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition
from psycopg import errors as pg_errors
from redis.backoff import NoBackoff
from redis.retry import Retry

from marketpipe.stream import candles
from marketpipe.stream.bus import make_consumer
from marketpipe.stream.codec import CodecError
from marketpipe.stream.dlq import DeadLetter, DeadLetterQueue
from marketpipe.stream.kinds import SinkKind, snapshot_from_row_json
from marketpipe.stream.metrics import SinkMetrics
from marketpipe.stream.redis_writer import InstrumentUpdate, RedisWriter
from marketpipe.stream.settings import StreamSettings
from marketpipe.stream.topics import DLQ

log = logging.getLogger("marketpipe.stream.sink")

_STALL_S = 120.0  # /healthz fails when the consume loop has not come round for this long
_GC_GEN0 = 100_000  # allocations between young-generation collections while the sink runs

# Errors that say "this row is bad" (→ DLQ), as opposed to "the database is unreachable" (→ retry).
_ROW_ERRORS = (pg_errors.DataError, pg_errors.IntegrityError)
_CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


def _bounded(job: Callable[[], None], timeout: float, what: str) -> bool:
    """Run ``job`` on a daemon thread; give up on it after ``timeout`` s. True when it finished."""
    thread = threading.Thread(target=job, name="sink-close", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        log.warning("%s did not finish within %.0f s; exiting without it", what, timeout)
        return False
    return True


def _window_reason(ms: int, now_ms: float) -> str:
    ahead = (ms - now_ms) / 1000
    where = f"{ahead:.0f} s ahead of" if ahead > 0 else f"{-ahead:.0f} s behind"
    return f"event time {where} the sink clock"


class SinkError(RuntimeError):
    """The sink cannot continue (configuration or schema problem, not a bad message)."""


class _Decoded(NamedTuple):
    msg: Any  # the kind's decoded message
    line: str  # its COPY text row
    member: str  # its Redis history member
    partition: int
    offset: int


# tuple.__new__(_Decoded, (...)) builds one in C (the generated NamedTuple.__new__ is Python code,
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
class _Batch:
    msgs: list[Message]
    decoded: list[_Decoded]
    dead: list[DeadLetter]
    next_offsets: dict[int, int]
    result: BatchResult
    # Built by the main thread so the PostgreSQL stage only talks to PostgreSQL (its time is the
    # sink's critical path): the COPY payload of every decoded row and, for trade kinds, the candle
    # merge parameters assuming every row is new (recomputed if some are not).
    payload: str = ""
    candle_params: dict[str, Any] | None = None


class _Writer:
    """One background thread running submitted jobs in order; at most one job waits."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.Queue[Callable[[], object] | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                if self._error is None:
                    job()
            except BaseException as exc:  # handed to the main thread by check()
                self._error = exc
            finally:
                self._jobs.task_done()

    def submit(self, job: Callable[[], object]) -> None:
        self.check()
        self._jobs.put(job)

    def idle(self) -> bool:
        return self._jobs.unfinished_tasks == 0

    def drain(self) -> None:
        self._jobs.join()

    def check(self) -> None:
        if self._error is not None:
            raise SinkError(
                f"the writer failed: {type(self._error).__name__}: {self._error}"
            ) from self._error

    def close(self) -> None:
        if self._thread.is_alive():
            with contextlib.suppress(queue.Full):
                self._jobs.put(None, timeout=30)
            self._thread.join(30)


class _Stages:
    """The two ordered stages after decoding: PostgreSQL (rows + offsets), then Redis."""

    def __init__(self) -> None:
        self.pg = _Writer("sink-pg")
        self.redis = _Writer("sink-redis")

    def check(self) -> None:
        self.pg.check()
        self.redis.check()

    def drain(self) -> None:
        self.pg.drain()  # may still hand work to the Redis stage
        self.redis.drain()

    def idle(self) -> bool:
        return self.pg.idle() and self.redis.idle()

    def close(self) -> None:
        self.pg.close()
        self.redis.close()


class Backoff:
    """Exponential backoff for reconnecting (waits only while a dependency is down)."""

    def __init__(self, first: float = 0.05, cap: float = 2.0) -> None:
        self.first, self.cap, self.current = first, cap, first

    def wait(self, stop: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.current
        while time.monotonic() < deadline and not stop():
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        self.current = min(self.cap, self.current * 2)

    def reset(self) -> None:
        self.current = self.first


class Sink:
    """One sink process for one :class:`SinkKind` (call :meth:`run`)."""

    def __init__(
        self,
        kind: SinkKind,
        *,
        bootstrap: str,
        dsn: str,
        redis_url: str,
        settings: StreamSettings | None = None,
        group_id: str | None = None,
        dlq_topic: str = DLQ,
        consumer_overrides: dict[str, Any] | None = None,
        record_latency: bool = False,
        member_suffix: str = "",
    ) -> None:
        self.kind = kind
        self._copy_sql = f"COPY {kind.table} ({', '.join(kind.columns)}) FROM STDIN"
        self.settings = settings or StreamSettings()
        self.group = group_id or f"{self.settings.group_id}.{kind.name}"
        self.dsn = dsn
        self.metrics = SinkMetrics(kind.name)
        self._stop = False
        self._conn: psycopg.Connection | None = None
        self._pg_backoff = Backoff()
        # Fail fast (no client-side retries): the sink has its own backoff, and a Redis outage must
        # never stall the PostgreSQL stage behind it.
        self.redis = redis.Redis.from_url(
            redis_url, socket_timeout=5, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
        )
        self.writer = RedisWriter(self.redis, kind.redis, history_len=self.settings.history_len)
        self._redis_pending: dict[str, InstrumentUpdate] = {}
        self._redis_down_since: float | None = None
        self._redis_next_try = 0.0
        self._redis_backoff = Backoff(first=0.1, cap=2.0)
        self._needs_rehydrate = True
        self._pending_kafka_commit: list[TopicPartition] = []
        self._commit_lock = threading.Lock()
        self._stages: _Stages | None = None
        self.latencies_ms: list[int] | None = [] if record_latency else None
        #: perf_counter() when the first batch arrived (start-up excluded from throughput figures).
        self.first_batch_at: float | None = None
        self._fatal: KafkaError | None = None
        self._last_loop: float | None = None
        overrides: dict[str, Any] = {
            "client.id": f"marketpipe-sink-{kind.name}",
            "max.poll.interval.ms": 600000,
            "error_cb": self._on_kafka_error,
        }
        # Static membership: a restarted sink with the same id takes its partitions back at once.
        # Configured: e.g. the StatefulSet pod name. Default: <group>@<host>#<slot>, the slot being
        # the lowest one no live process on this host holds (a lock file, released by the kernel
        # even on kill -9): a restart gets the same id back, a second concurrent sink gets another
        # one. (A single default id per host made a second sink fence the first, which then sat
        # idle.) Sinks of one --workers run differ by ``member_suffix`` as well.
        self._slot_lock: IO[bytes] | None = None
        if self.settings.instance_id:
            overrides["group.instance.id"] = self.settings.instance_id + member_suffix
        else:
            overrides["group.instance.id"] = self._claim_member_id(
                f"{self.group}@{socket.gethostname()}", member_suffix
            )
        overrides.update(consumer_overrides or {})
        self.consumer: Consumer = make_consumer(bootstrap, self.group, **overrides)
        self.dlq = DeadLetterQueue(bootstrap, self.group, topic=dlq_topic)

    # -- lifecycle --------------------------------------------------------------------------------

    def _claim_member_id(self, base: str, suffix: str) -> str:
        """``base#<n>suffix`` for the lowest slot ``n`` not held by a live process on this host."""
        folder = Path(tempfile.gettempdir()) / "marketpipe-sink-members"
        folder.mkdir(mode=0o700, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "._-@#" else "_" for c in base + suffix)[:200]
        for slot in range(1024):
            handle = (folder / f"{safe}.{slot}.lock").open("ab")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            self._slot_lock = handle  # held (and the id ours) until this process ends or close()
            return f"{base}#{slot}{suffix}"
        raise SinkError(f"no free member slot for {base} on this host (1024 sinks?)")

    def _on_kafka_error(self, err: KafkaError) -> None:
        """librdkafka's error callback: a fatal error (e.g. fenced by another member with our static
        id) ends the consumer for good — the run loop stops the process instead of idling."""
        if err.fatal():
            self._fatal = err
            self._stop = True
        else:
            log.warning("sink %s: Kafka: %s", self.kind.name, err.str())

    def health(self) -> str | None:
        """``/healthz``: None while consuming normally, else why not (fenced, a failed stage, stuck, stopping)."""
        if self._fatal is not None:
            return f"fatal Kafka consumer error: {self._fatal.str()}"
        if self._stages is not None:
            try:
                self._stages.check()
            except SinkError as exc:
                return str(exc)
        if self._stop:
            return "stopping"
        if self._last_loop is None:
            return "starting"
        stalled = time.monotonic() - self._last_loop
        if stalled > _STALL_S:
            return f"the consume loop has not run for {stalled:.0f} s"
        return None

    def _check_fatal(self) -> None:
        if self._fatal is not None:
            hint = (
                " (another consumer joined with the same group.instance.id: give every sink its own"
                " MARKETPIPE_STREAM_INSTANCE_ID, or leave it unset)"
                if self._fatal.code() == KafkaError.FENCED_INSTANCE_ID
                or "fenced" in self._fatal.str().lower()
                else ""
            )
            raise SinkError(f"fatal Kafka consumer error: {self._fatal.str()}{hint}")

    def stop(self, *_: object) -> None:
        """Ask the loop to finish the current batch and exit."""
        self._stop = True

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def run(self, *, max_messages: int | None = None, idle_exit_s: float | None = None) -> SinkMetrics:
        """Consume until stopped (or ``max_messages`` consumed, or idle for ``idle_exit_s``).

        Three stages run in parallel, each strictly in batch order: the main thread consumes and
        decodes batch N+2, a PostgreSQL thread commits batch N+1 (rows + offsets), a Redis thread
        applies batch N and then hands its offsets to the main thread for the Kafka commit.
        """
        self.metrics.serve(self.settings.metrics_port, self.health)
        try:
            # Covers a crash between a PostgreSQL commit and its Redis update.
            self.rehydrate()
        except redis.RedisError as exc:
            self._redis_failed(exc)
        self._stages = _Stages()
        self.consumer.subscribe([self.kind.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        last_data = time.monotonic()
        consumed = 0
        switch_interval, gc_threshold = sys.getswitchinterval(), gc.get_threshold()
        sys.setswitchinterval(self.settings.switch_interval_ms / 1000)
        # Each message allocates a handful of tuples, lists and strings that never form cycles
        # (reference counting frees them). With Python's default threshold (700 allocations) the
        # cyclic collector ran every few dozen messages and took a quarter of the sink's time;
        # collecting every 100k allocations keeps it negligible (bench: ~104k → ~133k msgs/s).
        gc.set_threshold(_GC_GEN0, *gc_threshold[1:])
        try:
            while not self._stop:
                self._last_loop = time.monotonic()
                msgs = self.consumer.consume(self.settings.batch_size, self.settings.batch_timeout_s)
                self._stages.check()
                self._flush_kafka_commits()
                if msgs:
                    if self.first_batch_at is None:
                        self.first_batch_at = time.perf_counter()
                    batch = self._prepare(msgs)
                    self._stages.pg.submit(lambda b=batch: self._commit_batch(b))  # type: ignore[misc]
                    consumed += batch.result.consumed
                    last_data = time.monotonic()
                    if max_messages is not None and consumed >= max_messages:
                        break
                else:
                    if self._redis_down_since is not None and self._stages.idle():
                        self._stages.redis.submit(self._retry_redis)
                    if idle_exit_s is not None and time.monotonic() - last_data > idle_exit_s:
                        break
                self.metrics.maybe_log(self.settings.log_every_s, self.lag)
            self._check_fatal()
            self._stages.drain()
            self._stages.check()
            self._flush_kafka_commits()
        finally:
            self._stop = True  # a stage still waiting for PostgreSQL gives up instead of hanging the exit
            self._stages.close()
            self.close()
            sys.setswitchinterval(switch_interval)
            gc.set_threshold(*gc_threshold)
        return self.metrics

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Finish the in-flight batch so the next owner (maybe us) resumes after it.
        if self._stages is not None:
            self._stages.drain()
        self._flush_kafka_commits()

    def close(self) -> None:
        """Release Kafka, PostgreSQL and Redis within ``settings.shutdown_timeout_s`` in all.

        Closing a consumer leaves the group and commits, which waits for the broker: with the broker
        gone that took minutes. PostgreSQL already holds the truth, so a close that does not finish
        in time is abandoned (logged) and the process exits anyway.
        """
        deadline = time.monotonic() + self.settings.shutdown_timeout_s

        def left() -> float:
            return max(0.1, deadline - time.monotonic())

        def close_consumer() -> None:
            with contextlib.suppress(KafkaException, RuntimeError):
                self.consumer.close()

        _bounded(close_consumer, left(), f"sink {self.kind.name}: closing the Kafka consumer")
        self.dlq.producer.flush(min(10.0, left()))
        if self._conn is not None and not self._conn.closed:
            self._conn.close()
        self.redis.close()
        if self._slot_lock is not None:
            self._slot_lock.close()  # the member id is free for the next sink on this host
            self._slot_lock = None

    # -- PostgreSQL --------------------------------------------------------------------------------

    def _pg(self) -> psycopg.Connection:
        """An open connection, reconnecting with backoff while the server is down."""
        while True:
            if self._conn is not None and not self._conn.closed and not self._conn.broken:
                return self._conn
            try:
                conn = psycopg.connect(self.dsn, connect_timeout=5)
                # Rows and offsets commit together, so losing the last commits in a server crash
                # loses both and the batch is replayed from Kafka: safe, and much faster.
                conn.execute("SET synchronous_commit = off")
                conn.commit()
                self._conn = conn
                self._pg_backoff.reset()
                return conn
            except _CONNECTION_ERRORS as exc:
                self.metrics.pg_retries.labels(self.kind.name).inc()
                self.metrics.add("pg_retries")
                log.warning(
                    "sink %s: PostgreSQL unavailable (%s); retrying", self.kind.name, type(exc).__name__
                )
                if self._stop:
                    raise SinkError("stopped while PostgreSQL was unavailable") from exc
                self._pg_backoff.wait(lambda: self._stop)

    def _drop_conn(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None

    def stored_offsets(self) -> dict[int, int]:
        """Next offsets per partition stored in PostgreSQL for this group and topic."""
        while True:
            conn = self._pg()
            try:
                rows = conn.execute(
                    "SELECT kafka_partition, next_offset FROM stream_offsets WHERE consumer_group = %s AND topic = %s",
                    (self.group, self.kind.topic),
                ).fetchall()
                conn.commit()
                return {int(p): int(o) for p, o in rows}
            except _CONNECTION_ERRORS:
                self._drop_conn()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self._stages is not None:
            self._stages.drain()  # stored offsets must include every batch already handed over
        stored = self.stored_offsets()
        for tp in partitions:
            tp.offset = stored.get(tp.partition, OFFSET_BEGINNING)
        log.info(
            "sink %s: assigned %s",
            self.kind.name,
            ", ".join(f"{tp.topic}[{tp.partition}]@{tp.offset}" for tp in partitions),
        )
        consumer.assign(partitions)

    # -- the batch -----------------------------------------------------------------------------------

    def process_batch(self, msgs: list[Message]) -> BatchResult:
        """Decode, write (PG + offsets), update Redis, commit to Kafka — synchronously."""
        batch = self._prepare(msgs)
        self._commit_batch(batch)
        self._flush_kafka_commits()
        return batch.result

    def _prepare(self, msgs: list[Message]) -> _Batch:
        """Main thread: decode every message into a COPY row or a dead letter."""
        kind = self.kind
        result = BatchResult()
        decoded: list[_Decoded] = []
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
                    self._fatal = err
                    self._check_fatal()
                log.warning("sink %s: consumer error %s", kind.name, err)
                continue
            partition, offset = m.partition() or 0, m.offset() or 0
            next_offsets[partition] = offset + 1  # messages of one partition arrive in order
            result.consumed += 1
            try:
                d = decode(m.value())
                ms = event_ms(d)
                if not earliest_ok <= ms <= latest_ok:
                    dead.append(self._letter(m, _window_reason(ms, now_ms), "EventTimeOutOfWindow", "decode"))
                    continue
                append(new(_Decoded, (d, *encode(d), partition, offset)))
            except CodecError as exc:
                dead.append(self._letter(m, exc.reason, "CodecError", "decode"))
            except (KeyError, TypeError, ValueError) as exc:
                dead.append(
                    self._letter(m, f"cannot map message: {type(exc).__name__}", type(exc).__name__, "decode")
                )
        batch = _Batch(msgs, decoded, dead, next_offsets, result)
        if decoded:
            batch.payload = "\n".join([d.line for d in decoded]) + "\n"
            if kind.candles:
                batch.candle_params = candles.merge_params(
                    kind.name, candles.aggregate([d.msg for d in decoded])
                )
        return batch

    def _commit_batch(self, batch: _Batch) -> None:
        """Writer thread: DLQ, PostgreSQL (rows + offsets), Redis, then hand offsets to Kafka commit."""
        kind, result = self.kind, batch.result
        if not result.consumed:
            return
        self.metrics.messages_in.labels(kind.name).inc(result.consumed)
        self.metrics.batch_size.labels(kind.name).observe(result.consumed)
        self.metrics.add("messages_in", result.consumed)
        started = time.perf_counter()
        self.dlq.send(batch.dead)
        written, conflicted, rejected = self._write(batch)
        self.metrics.pg_seconds.labels(kind.name).observe(time.perf_counter() - started)
        result.written, result.conflicted, result.dead = written, conflicted, batch.dead
        self.metrics.rows_written.labels(kind.name).inc(written)
        self.metrics.add("rows_written", written)
        if conflicted:
            self.metrics.rows_conflicted.labels(kind.name).inc(conflicted)
            self.metrics.add("rows_conflicted", conflicted)
        for letter in batch.dead:
            self.metrics.dlq.labels(kind.name, letter.stage).inc()
        self.metrics.add("dlq", len(batch.dead))
        self.metrics.batches.labels(kind.name).inc()
        self.metrics.add("batches")

        decoded = batch.decoded
        good = [d for d in decoded if (d.partition, d.offset) not in rejected] if rejected else decoded
        offsets = [TopicPartition(kind.topic, p, o) for p, o in batch.next_offsets.items()]
        if self._stages is not None:
            # Redis for batch N overlaps PostgreSQL for batch N+1 (still strictly in batch order).
            self._stages.redis.submit(lambda: self._redis_part(result, good, offsets))
        else:
            self._redis_part(result, good, offsets)

    def _redis_part(self, result: BatchResult, good: list[_Decoded], offsets: list[TopicPartition]) -> None:
        """Redis stage: update Redis, then hand the offsets over for the Kafka commit."""
        result.redis_ok = self._update_redis(good)
        if result.redis_ok:
            with self._commit_lock:
                self._pending_kafka_commit = offsets

    def _letter(self, m: Message, reason: str, error_class: str, stage: str) -> DeadLetter:
        return DeadLetter(
            topic=m.topic() or self.kind.topic,
            partition=m.partition() or 0,
            offset=m.offset() or 0,
            key=m.key(),
            value=m.value(),
            reason=reason[:500],
            error_class=error_class,
            stage=stage,
        )

    def _write(self, batch: _Batch) -> tuple[int, int, set[tuple[int, int]]]:
        """One transaction: rows, dead-letter records, offsets. Retries across reconnects.

        The first attempt COPYs the batch straight into the table (no savepoint: fewest round
        trips). If PostgreSQL refuses anything, that transaction rolls back and the batch is written
        again carefully: savepoints, the conflict fallback and bisection find exactly which rows to
        skip or send to the DLQ.
        """
        decoded, dead, next_offsets, msgs = batch.decoded, batch.dead, batch.next_offsets, batch.msgs
        careful = False
        while True:
            conn = self._pg()
            try:
                with conn.transaction():
                    if careful:
                        written, conflicted, bad, skipped = self._write_rows(conn, decoded)
                    else:
                        self._copy_direct(conn, batch.payload)
                        written, conflicted, bad, skipped = len(decoded), 0, [], set()
                    rejected: set[tuple[int, int]] = set()
                    if bad:
                        msgs_by_pos = {(m.partition() or 0, m.offset() or 0): m for m in msgs}
                        letters = []
                        for item, exc in bad:
                            rejected.add((item.partition, item.offset))
                            letters.append(
                                self._letter(
                                    msgs_by_pos[(item.partition, item.offset)],
                                    f"rejected by PostgreSQL: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
                                    type(exc).__name__,
                                    "write",
                                )
                            )
                        # Acknowledged by Kafka before the offsets commit: never skipped silently.
                        self.dlq.send(letters)
                        dead.extend(letters)
                    # The remaining statements travel together: one round trip.
                    with conn.pipeline():
                        if dead:
                            self._record_dead(conn, dead)
                        if self.kind.candles and written:
                            if rejected or skipped or written != len(decoded):
                                inserted = [
                                    d.msg
                                    for d in decoded
                                    if (d.partition, d.offset) not in rejected
                                    and not (skipped and self.kind.row_key(d.msg) in skipped)
                                ]
                                candles.merge(conn, self.kind.name, candles.aggregate(inserted))
                            elif batch.candle_params:
                                candles.merge_prepared(conn, batch.candle_params)
                        self._store_offsets(conn, next_offsets)
                return written, conflicted, rejected
            except _ROW_ERRORS as exc:
                if careful:
                    raise  # not a row problem the careful path can isolate: the sink stops
                log.info(
                    "sink %s: PostgreSQL refused the batch (%s); writing it row-safely",
                    self.kind.name,
                    type(exc).__name__,
                )
                careful = True
            except _CONNECTION_ERRORS as exc:
                log.warning(
                    "sink %s: PostgreSQL lost during a batch (%s); retrying",
                    self.kind.name,
                    type(exc).__name__,
                )
                # Letters found during a failed attempt are found again on the retry.
                dead[:] = [d for d in dead if d.stage == "decode"]
                self._drop_conn()
                self.metrics.add("pg_retries")
                self._pg_backoff.wait(lambda: self._stop)

    def _write_rows(
        self, conn: psycopg.Connection, items: list[_Decoded]
    ) -> tuple[int, int, list[tuple[_Decoded, Exception]], set[tuple[Any, ...]]]:
        """Write ``items``; returns (written, conflicted, [(bad item, error)], keys skipped as present)."""
        if not items:
            return 0, 0, [], set()
        try:
            with conn.transaction():
                written, conflicted, skipped = self._copy(conn, items)
            return written, conflicted, [], skipped
        except _ROW_ERRORS as exc:
            if len(items) == 1:
                return 0, 0, [(items[0], exc)], set()
        # Bisect to isolate the rows PostgreSQL refuses: O(bad · log n) savepoints.
        mid = len(items) // 2
        w1, c1, b1, s1 = self._write_rows(conn, items[:mid])
        w2, c2, b2, s2 = self._write_rows(conn, items[mid:])
        return w1 + w2, c1 + c2, b1 + b2, s1 | s2

    def _copy_direct(self, conn: psycopg.Connection, payload: str) -> None:
        """COPY the rows of ``payload`` into the table (raises if PostgreSQL refuses any row)."""
        if not payload:
            return
        with conn.cursor() as cur, cur.copy(self._copy_sql) as copy:
            copy.write(payload)

    def _copy(self, conn: psycopg.Connection, items: list[_Decoded]) -> tuple[int, int, set[tuple[Any, ...]]]:
        kind = self.kind
        columns = ", ".join(kind.columns)
        payload = "\n".join([i.line for i in items]) + "\n"
        try:
            with conn.transaction():
                self._copy_direct(conn, payload)
            return len(items), 0, set()
        except pg_errors.UniqueViolation:
            pass
        # Some key exists already: stage and insert what is new (never a duplicate, never an error).
        stage = f"_mp_stage_{kind.table}"
        with conn.cursor() as cur:
            cur.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {stage} AS SELECT {columns} FROM {kind.table} WITH NO DATA"
            )
            cur.execute(f"TRUNCATE {stage}")
            with cur.copy(f"COPY {stage} ({columns}) FROM STDIN") as copy:
                copy.write(payload)
            key = ", ".join(kind.conflict_key)
            cur.execute(
                f"INSERT INTO {kind.table} ({columns}) SELECT {columns} FROM {stage} "
                f"ON CONFLICT ({key}) DO NOTHING RETURNING {key}"
            )
            inserted = {tuple(row) for row in cur.fetchall()}
        skipped = {k for k in (kind.row_key(i.msg) for i in items) if k not in inserted}
        return len(inserted), len(items) - len(inserted), skipped

    def _record_dead(self, conn: psycopg.Connection, dead: list[DeadLetter]) -> None:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO stream_dead_letters (consumer_group, topic, kafka_partition, kafka_offset, message_key,"
                " reason, error_class, payload_bytes) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                [
                    (
                        self.group, d.topic, d.partition, d.offset,
                        d.key.decode("utf-8", "replace").replace("\x00", "") if d.key else None,
                        d.reason.replace("\x00", ""), d.error_class, len(d.value or b""),
                    )
                    for d in dead
                ],
            )  # fmt: skip

    def _store_offsets(self, conn: psycopg.Connection, next_offsets: dict[int, int]) -> None:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO stream_offsets (consumer_group, topic, kafka_partition, next_offset) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (consumer_group, topic, kafka_partition)"
                " DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()",
                [(self.group, self.kind.topic, p, o) for p, o in next_offsets.items()],
            )

    # -- Redis ---------------------------------------------------------------------------------------

    def _updates(self, items: list[_Decoded]) -> dict[str, InstrumentUpdate]:
        """Per instrument: the newest message (→ snapshot) and the history (score, member) pairs."""
        kind = self.kind
        instrument, event_ms = kind.instrument, kind.event_ms
        newest: dict[str, tuple[int, Any]] = {}
        history: dict[str, list[int | str]] = {}
        for d, _line, member, _p, _o in items:
            key = instrument(d)
            ms = event_ms(d)
            h = history.get(key)
            if h is None:
                history[key] = [ms, member]
                newest[key] = (ms, d)
                continue
            if ms >= newest[key][0]:  # ties: the later message (higher offset) wins
                newest[key] = (ms, d)
            h.append(ms)
            h.append(member)
        snapshot = kind.snapshot
        return {key: InstrumentUpdate(ms, snapshot(d), history[key]) for key, (ms, d) in newest.items()}

    def _update_redis(self, items: list[_Decoded]) -> bool:
        updates = self._updates(items)
        if self._redis_down_since is not None:
            self.writer.merge_into(self._redis_pending, updates.items())
            self.metrics.redis_pending.labels(self.kind.name).set(len(self._redis_pending))
            return self._retry_redis()
        started = time.perf_counter()
        try:
            if self._needs_rehydrate:
                self.rehydrate()
            self.writer.apply(updates)
        except redis.RedisError as exc:
            self._redis_failed(exc)
            self.writer.merge_into(self._redis_pending, updates.items())
            return False
        done = time.perf_counter()
        self.metrics.redis_seconds.labels(self.kind.name).observe(done - started)
        now_ms = int(time.time() * 1000)
        if updates:
            newest = max(u.event_ms for u in updates.values())
            self.metrics.e2e_seconds.labels(self.kind.name).observe(max(0, now_ms - newest) / 1000)
        if self.latencies_ms is not None:
            event_ms = self.kind.event_ms
            self.latencies_ms.extend(now_ms - event_ms(i.msg) for i in items)
        return True

    def _redis_failed(self, exc: Exception) -> None:
        if self._redis_down_since is None:
            log.warning(
                "sink %s: Redis unavailable (%s); PostgreSQL continues", self.kind.name, type(exc).__name__
            )
            self._redis_down_since = time.monotonic()
        self.metrics.redis_errors.labels(self.kind.name).inc()
        self.metrics.add("redis_errors")
        self._redis_next_try = time.monotonic() + self._redis_backoff.current
        self._redis_backoff.current = min(self._redis_backoff.cap, self._redis_backoff.current * 2)

    def _retry_redis(self) -> bool:
        """While Redis is down: try again when the backoff allows; True once caught up."""
        if self._redis_down_since is None:
            return True
        if time.monotonic() < self._redis_next_try:
            return False
        try:
            self.rehydrate()
            self.writer.apply(self._redis_pending)
        except redis.RedisError as exc:
            self._redis_failed(exc)
            return False
        log.info(
            "sink %s: Redis back after %.1f s; %d instruments caught up",
            self.kind.name,
            time.monotonic() - self._redis_down_since,
            len(self._redis_pending),
        )
        self._redis_pending.clear()
        self.metrics.redis_pending.labels(self.kind.name).set(0)
        self._redis_down_since = None
        self._redis_backoff.reset()
        return True

    def rehydrate(self) -> int:
        """Write the newest row per instrument from PostgreSQL to Redis (latest values only).

        Runs on the Redis stage, so it uses its own short connection (the PostgreSQL stage owns the
        sink's connection and may be inside a transaction right now).
        """
        try:
            with psycopg.connect(self.dsn, connect_timeout=5, autocommit=True) as conn:
                rows = conn.execute(self.kind.latest_sql.encode()).fetchall()
        except _CONNECTION_ERRORS:
            return 0  # PostgreSQL is down: _needs_rehydrate stays set, retried with the next batch
        updates: dict[str, InstrumentUpdate] = {}
        for instrument, row_json in rows:
            ms, snap = snapshot_from_row_json(self.kind, row_json)
            updates[instrument] = InstrumentUpdate(event_ms=ms, snapshot=snap)
        if updates:
            self.writer.apply(updates, publish=False)
        self._needs_rehydrate = False
        return len(updates)

    # -- Kafka ---------------------------------------------------------------------------------------

    def _flush_kafka_commits(self) -> None:
        """Main thread: commit the offsets of batches fully written to PostgreSQL and Redis."""
        with self._commit_lock:
            offsets, self._pending_kafka_commit = self._pending_kafka_commit, []
        if not offsets:
            return
        try:
            self.consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as exc:
            # Informational only (PostgreSQL holds the truth); the next batch commits further.
            log.debug("sink %s: Kafka commit failed: %s", self.kind.name, exc)

    def lag(self) -> dict[int, int]:
        """Messages behind the log end per assigned partition (from cached watermarks)."""
        out: dict[int, int] = {}
        try:
            assigned = self.consumer.assignment()
            if not assigned:
                return out
            for tp in self.consumer.position(assigned):
                _low, high = self.consumer.get_watermark_offsets(tp, cached=True)
                if high >= 0 and tp.offset >= 0:
                    out[tp.partition] = max(0, high - tp.offset)
                    self.metrics.lag.labels(self.kind.name, str(tp.partition)).set(out[tp.partition])
        except (KafkaException, RuntimeError):
            pass
        return out
