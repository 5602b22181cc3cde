"""The Redis side of the sink: latest values, bounded history, one signal per batch — and outages.

Runs on the Redis stage, after the batch's PostgreSQL commit. A batch becomes one
:class:`~marketpipe.stream.redis_writer.RedisWriter` round trip. Redis down → PostgreSQL keeps going;
the newest value per instrument and its recent history are kept in memory (bounded by the writer's
``merge_into``) and written when Redis answers again, after the latest values are rehydrated from
PostgreSQL (also done at start-up, which covers a crash between a PostgreSQL commit and its Redis
update). Retries follow :class:`marketpipe.backoff.Backoff` (0.1 s doubling to 2 s, no jitter)
without blocking: a batch arriving before the next try is only merged into the pending updates.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import psycopg
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from marketpipe.backoff import Backoff
from marketpipe.stream.kinds import SinkKind, snapshot_from_row_json
from marketpipe.stream.metrics import SinkMetrics
from marketpipe.stream.redis_writer import InstrumentUpdate, RedisWriter
from marketpipe.stream.sink.batch import Decoded
from marketpipe.stream.sink.postgres import CONNECTION_ERRORS

log = logging.getLogger("marketpipe.stream.sink")


def redis_backoff() -> Backoff:
    """The retry policy while Redis is down: 0.1, 0.2, 0.4 … 2 s, no jitter."""
    return Backoff(base=0.1, cap=2.0, floor=1.0)


class RedisSide:
    """Applies decoded rows to Redis for one kind; holds them back (bounded) while Redis is down."""

    def __init__(
        self,
        kind: SinkKind,
        *,
        redis_url: str,
        dsn: str,
        history_len: int,
        metrics: SinkMetrics,
        record_latency: bool = False,
    ) -> None:
        self.kind = kind
        self.dsn = dsn
        self.metrics = metrics
        # Fail fast (no client-side retries): the sink has its own backoff, and a Redis outage must
        # never stall the PostgreSQL stage behind it.
        self.client = redis.Redis.from_url(
            redis_url, socket_timeout=5, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
        )
        self.writer = RedisWriter(self.client, kind.redis, history_len=history_len)
        self.pending: dict[str, InstrumentUpdate] = {}
        self.down_since: float | None = None
        self._next_try = 0.0
        self._backoff = redis_backoff()
        self._needs_rehydrate = True
        #: Per message written, ms from its event time to visible in Redis (the bench's latency).
        self.latencies_ms: list[int] | None = [] if record_latency else None

    def start(self) -> None:
        """Rehydrate at start-up (covers a crash between a PostgreSQL commit and its Redis update)."""
        try:
            self.rehydrate()
        except redis.RedisError as exc:
            self._failed(exc)

    def updates(self, items: list[Decoded]) -> dict[str, InstrumentUpdate]:
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

    def apply(self, items: list[Decoded]) -> bool:
        """Write the batch's rows (or keep them pending while Redis is down); True when in Redis."""
        updates = self.updates(items)
        if self.down_since is not None:
            self.writer.merge_into(self.pending, updates.items())
            self.metrics.redis_pending.set(len(self.pending))
            return self.retry()
        started = time.perf_counter()
        try:
            if self._needs_rehydrate:
                self.rehydrate()
            self.writer.apply(updates)
        except redis.RedisError as exc:
            self._failed(exc)
            self.writer.merge_into(self.pending, updates.items())
            return False
        done = time.perf_counter()
        self.metrics.redis_seconds.observe(done - started)
        now_ms = int(time.time() * 1000)
        if updates:
            newest = max(u.event_ms for u in updates.values())
            self.metrics.e2e_seconds.observe(max(0, now_ms - newest) / 1000)
        if self.latencies_ms is not None:
            event_ms = self.kind.event_ms
            self.latencies_ms.extend(now_ms - event_ms(i.msg) for i in items)
        return True

    def _failed(self, exc: Exception) -> None:
        if self.down_since is None:
            log.warning(
                "sink %s: Redis unavailable (%s); PostgreSQL continues", self.kind.name, type(exc).__name__
            )
            self.down_since = time.monotonic()
        self.metrics.count("redis_errors")
        self._next_try = time.monotonic() + self._backoff.next_delay()

    def retry(self) -> bool:
        """While Redis is down: try again when the backoff allows; True once caught up."""
        if self.down_since is None:
            return True
        if time.monotonic() < self._next_try:
            return False
        try:
            self.rehydrate()
            self.writer.apply(self.pending)
        except redis.RedisError as exc:
            self._failed(exc)
            return False
        log.info(
            "sink %s: Redis back after %.1f s; %d instruments caught up",
            self.kind.name,
            time.monotonic() - self.down_since,
            len(self.pending),
        )
        self.pending.clear()
        self.metrics.redis_pending.set(0)
        self.down_since = None
        self._backoff.reset()
        return True

    def rehydrate(self) -> int:
        """Write the newest row per instrument from PostgreSQL to Redis (latest values only).

        Runs on the Redis stage, so it uses its own short connection (the PostgreSQL stage owns the
        sink's connection and may be inside a transaction right now).
        """
        try:
            with psycopg.connect(self.dsn, connect_timeout=5, autocommit=True) as conn:
                rows = conn.execute(self.kind.latest_sql.encode()).fetchall()
        except CONNECTION_ERRORS:
            return 0  # PostgreSQL is down: _needs_rehydrate stays set, retried with the next batch
        updates: dict[str, InstrumentUpdate] = {}
        for instrument, row_json in rows:
            ms, snap = snapshot_from_row_json(self.kind, row_json)
            updates[instrument] = InstrumentUpdate(event_ms=ms, snapshot=snap)
        if updates:
            self.writer.apply(updates, publish=False)
        self._needs_rehydrate = False
        return len(updates)

    def close(self) -> None:
        self.client.close()
