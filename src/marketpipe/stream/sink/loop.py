"""The sink's orchestration: the consumer loop (poll → add → flush) and the Kafka side.

:class:`Sink` wires the parts together and owns what is Kafka's: the consumer (static membership,
(re)assignment from the offsets stored in PostgreSQL, the informational offset commit, lag), the
DLQ producer, the stop flag and the process-wide tuning while it runs. Per batch:

1. ``add``: the main thread decodes the consumed messages (:class:`~.batch.Decoder`);
2. ``flush`` on the PostgreSQL stage: send the decode dead letters to the DLQ (acknowledged), then
   rows + dead letters + offsets in one transaction (:class:`~.postgres.PostgresWriter`);
3. on the Redis stage: latest values, history, signal (:class:`~.redis_side.RedisSide`); once in
   Redis the batch's offsets are handed back to the main thread for the Kafka commit.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import sys
import threading
import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from marketpipe.stream.bus import consumer_config
from marketpipe.stream.dlq import DeadLetterQueue
from marketpipe.stream.kinds import SinkKind
from marketpipe.stream.metrics import SinkMetrics
from marketpipe.stream.settings import StreamSettings
from marketpipe.stream.sink.batch import Batch, BatchResult, Decoded, Decoder
from marketpipe.stream.sink.errors import ConsumerDead
from marketpipe.stream.sink.fencing import FenceJudge, RejoinBudget, client_id, is_fenced
from marketpipe.stream.sink.health import Health
from marketpipe.stream.sink.membership import MemberId
from marketpipe.stream.sink.postgres import PostgresWriter
from marketpipe.stream.sink.redis_side import RedisSide
from marketpipe.stream.sink.stages import Stages, bounded
from marketpipe.stream.topics import DLQ

log = logging.getLogger("marketpipe.stream.sink")

_GC_GEN0 = 100_000  # allocations between young-generation collections while the sink runs


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
        self.settings = settings or StreamSettings()
        self.group = group_id or f"{self.settings.group_id}.{kind.name}"
        self.dsn = dsn
        self.metrics = SinkMetrics(kind.name)
        self._stop = False
        #: A fatal consumer error not handled yet (the consumer is dead): see :meth:`_recover`.
        self._dead: KafkaError | None = None
        self._stages: Stages | None = None
        self.health_state = Health(self._check_stages, lambda: self._stop)
        self.decoder = Decoder(kind, self.settings, self._fatal_in_batch)
        self.cache = RedisSide(
            kind, redis_url=redis_url, dsn=dsn, history_len=self.settings.history_len,
            metrics=self.metrics, record_latency=record_latency,
        )  # fmt: skip
        self._pending_kafka_commit: list[TopicPartition] = []
        self._commit_lock = threading.Lock()
        #: perf_counter() when the first batch arrived (start-up excluded from throughput figures).
        self.first_batch_at: float | None = None
        self.member = MemberId(self.group, self.settings.instance_id, member_suffix)
        overrides: dict[str, Any] = {
            "client.id": client_id(kind.name),  # per process: tells a self-fence from a duplicate
            "max.poll.interval.ms": 600000,
            "error_cb": self._on_kafka_error,
            # Static membership: a restarted sink with the same id takes its partitions back at once.
            "group.instance.id": self.member.value,
        }
        overrides.update(consumer_overrides or {})
        self._consumer_conf = consumer_config(bootstrap, self.group, **overrides)  # also for a rejoin
        self.consumer = Consumer(self._consumer_conf)
        self.fence_judge = FenceJudge(self._consumer_conf, self.group, str(overrides["group.instance.id"]))
        self.rejoins = RejoinBudget()
        self.dlq = DeadLetterQueue(bootstrap, self.group, topic=dlq_topic)
        self.pg = PostgresWriter(
            kind, dsn=dsn, group=self.group, dlq=self.dlq, metrics=self.metrics, stopping=lambda: self._stop
        )

    @property
    def latencies_ms(self) -> list[int] | None:
        """With ``record_latency``: per message, ms from event time to visible in Redis."""
        return self.cache.latencies_ms

    def rehydrate(self) -> int:
        """Write the newest row per instrument from PostgreSQL to Redis (see :class:`RedisSide`)."""
        return self.cache.rehydrate()

    def stored_offsets(self) -> dict[int, int]:
        return self.pg.stored_offsets()

    # -- lifecycle --------------------------------------------------------------------------------

    def _on_kafka_error(self, err: KafkaError) -> None:
        """librdkafka's error callback: a fatal error (e.g. fenced) ends the consumer for good; the
        run loop then rejoins with a new one or stops the process (:meth:`_recover`), never idles."""
        if err.fatal():
            self._dead = self._dead or err
        else:
            if err.code() == KafkaError._AUTHENTICATION:
                self.health_state.auth_error = err
            log.warning("sink %s: Kafka: %s", self.kind.name, err.str())

    def _fatal_in_batch(self, err: KafkaError) -> None:
        self._dead = self._dead or err
        raise ConsumerDead(err.str())

    def _prepare(self, msgs: list[Message]) -> Batch | None:
        """Decode ``msgs``; None when they carry a fatal consumer error (recorded in ``_dead``)."""
        try:
            return self.decoder.prepare(msgs)
        except ConsumerDead:
            return None

    def _recover(self) -> bool:
        """After a fatal consumer error: True when the sink rejoined with a new consumer.

        Only a self-fence is recovered (see :mod:`.fencing`): the batches already handed to the
        stages finish (PostgreSQL holds their rows and offsets), the dead consumer is closed and a new
        one with the same ids subscribes; the assignment resumes from PostgreSQL's offsets. Any other
        fatal error, a real duplicate of our member id, or too many rejoins: False (the caller stops).
        """
        err, self._dead = self._dead, None
        assert err is not None
        if not is_fenced(err):
            self.health_state.fatal_error = err
            return False
        other = self.fence_judge.other_holder()
        if other is not None:
            log.error(
                "sink %s: member id %s is held by another process (%s)",
                self.kind.name,
                self.member.value,
                other,
            )
            self.health_state.fatal_error = err
            return False
        if not self.rejoins.take():
            log.error("sink %s: fenced %d times in %.0f s: giving up", self.kind.name, self.rejoins.limit,
                      self.rejoins.window_s)  # fmt: skip
            self.health_state.fatal_error = err
            return False
        log.warning("sink %s: fenced with nobody else holding member id %s (%s): rejoining",
                    self.kind.name, self.member.value, err.str())  # fmt: skip
        self.metrics.count("rejoins")
        if self._stages is not None:
            self._stages.drain()
        with self._commit_lock:
            self._pending_kafka_commit = []  # the dead consumer cannot commit; the next batch does
        old = self.consumer
        bounded(
            lambda: _close_quietly(old),
            self.settings.shutdown_timeout_s,
            f"sink {self.kind.name}: closing the fenced consumer",
        )
        self.consumer = Consumer(self._consumer_conf)
        self.consumer.subscribe([self.kind.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        return True

    def _check_stages(self) -> None:
        if self._stages is not None:
            self._stages.check()

    def health(self) -> str | None:
        """``/healthz``: None while consuming normally, else why not (fenced, a failed stage, stuck, stopping)."""
        return self.health_state.problem()

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
        self.cache.start()
        self._stages = stages = Stages()
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
                self.health_state.beat()
                msgs = self.consumer.consume(self.settings.batch_size, self.settings.batch_timeout_s)
                stages.check()
                batch = self._prepare(msgs) if msgs and self._dead is None else None
                if self._dead is not None:
                    # The consumer died in this call: what it returned is not written (PostgreSQL's
                    # offsets say where the next owner resumes).
                    if self._recover():
                        continue
                    break
                self._flush_kafka_commits()
                if batch is not None:
                    self.health_state.auth_error = None  # data arrived: authenticated again
                    if self.first_batch_at is None:
                        self.first_batch_at = time.perf_counter()
                    stages.pg.submit(lambda b=batch: self._flush(b))  # type: ignore[misc]
                    consumed += batch.result.consumed
                    last_data = time.monotonic()
                    if max_messages is not None and consumed >= max_messages:
                        break
                else:
                    if self.cache.down_since is not None and stages.idle():
                        stages.redis.submit(self.cache.retry)
                    if idle_exit_s is not None and time.monotonic() - last_data > idle_exit_s:
                        break
                self.metrics.maybe_log(self.settings.log_every_s, self.lag)
            self.health_state.raise_if_fatal()
            stages.drain()
            stages.check()
            self._flush_kafka_commits()
        finally:
            self._stop = True  # a stage still waiting for PostgreSQL gives up instead of hanging the exit
            stages.close()
            self.close()
            sys.setswitchinterval(switch_interval)
            gc.set_threshold(*gc_threshold)
        return self.metrics

    def close(self) -> None:
        """Release Kafka, PostgreSQL and Redis within ``settings.shutdown_timeout_s`` in all.

        Closing a consumer leaves the group and commits, which waits for the broker: with the broker
        gone that took minutes. PostgreSQL already holds the truth, so a close that does not finish
        in time is abandoned (logged) and the process exits anyway.
        """
        deadline = time.monotonic() + self.settings.shutdown_timeout_s

        def left() -> float:
            return max(0.1, deadline - time.monotonic())

        bounded(
            lambda: _close_quietly(self.consumer),
            left(),
            f"sink {self.kind.name}: closing the Kafka consumer",
        )
        try:
            self.dlq.producer.flush(min(10.0, left()))
        except KafkaException as exc:  # a dead DLQ producer must not hide why the sink stopped
            log.warning("sink %s: DLQ producer: %s", self.kind.name, exc.args[0].str())
        self.pg.close()
        self.cache.close()
        self.member.release()  # the member id is free for the next sink on this host

    # -- assignment ---------------------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.health_state.auth_error = None  # joining the group took a successful authentication
        if self._stages is not None:
            self._stages.drain()  # stored offsets must include every batch already handed over
        stored = self.pg.stored_offsets()
        for tp in partitions:
            tp.offset = stored.get(tp.partition, OFFSET_BEGINNING)
        log.info(
            "sink %s: assigned %s",
            self.kind.name,
            ", ".join(f"{tp.topic}[{tp.partition}]@{tp.offset}" for tp in partitions),
        )
        consumer.assign(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Finish the in-flight batch so the next owner (maybe us) resumes after it.
        if self._stages is not None:
            self._stages.drain()
        self._flush_kafka_commits()

    # -- the batch -----------------------------------------------------------------------------------

    def process_batch(self, msgs: list[Message]) -> BatchResult:
        """Decode, write (PG + offsets), update Redis, commit to Kafka — synchronously."""
        batch = self.decoder.prepare(msgs)
        self._flush(batch)
        self._flush_kafka_commits()
        return batch.result

    def _flush(self, batch: Batch) -> None:
        """PostgreSQL stage: DLQ, PostgreSQL (rows + offsets), then hand the batch to the Redis stage."""
        kind, result, metrics = self.kind, batch.result, self.metrics
        if not result.consumed:
            return
        metrics.count("messages_in", result.consumed)
        metrics.batch_size.observe(result.consumed)
        started = time.perf_counter()
        self.dlq.send(batch.dead)
        written, conflicted, rejected = self.pg.write(batch)
        metrics.pg_seconds.observe(time.perf_counter() - started)
        result.written, result.conflicted, result.dead = written, conflicted, batch.dead
        metrics.count("rows_written", written)
        if conflicted:
            metrics.count("rows_conflicted", conflicted)
        for letter in batch.dead:
            metrics.count("dlq", stage=letter.stage)
        metrics.count("batches")

        decoded = batch.decoded
        good = [d for d in decoded if (d.partition, d.offset) not in rejected] if rejected else decoded
        offsets = [TopicPartition(kind.topic, p, o) for p, o in batch.next_offsets.items()]
        if self._stages is not None:
            # Redis for batch N overlaps PostgreSQL for batch N+1 (still strictly in batch order).
            self._stages.redis.submit(lambda: self._to_redis(result, good, offsets))
        else:
            self._to_redis(result, good, offsets)

    def _to_redis(self, result: BatchResult, good: list[Decoded], offsets: list[TopicPartition]) -> None:
        """Redis stage: update Redis, then hand the offsets over for the Kafka commit."""
        result.redis_ok = self.cache.apply(good)
        if result.redis_ok:
            with self._commit_lock:
                self._pending_kafka_commit = offsets

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
                    self.metrics.set_lag(tp.partition, out[tp.partition])
        except (KafkaException, RuntimeError):
            pass
        return out


def _close_quietly(consumer: Consumer) -> None:
    with contextlib.suppress(KafkaException, RuntimeError):
        consumer.close()
