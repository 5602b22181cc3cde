"""The PostgreSQL side of the sink: rows + dead-letter records + offsets in ONE transaction.

This is the sink's consistency point (``write`` in Quix terms). Per batch, one transaction COPYs the
rows straight into the kind's table, merges the trade candles, records the dead letters in
``stream_dead_letters`` and upserts the next offset per partition into ``stream_offsets``; on
(re)assignment the consumer resumes from those offsets (:meth:`PostgresWriter.stored_offsets`), so
a crash at any point replays exactly the messages whose rows did not commit.

If a row conflicts with the key (possible only if something else wrote it), the batch falls back to
a staging table and ``INSERT … ON CONFLICT DO NOTHING``; if PostgreSQL rejects a row (a value out
of range…), the batch is bisected to find it, that row becomes a dead letter (stage ``write``,
acknowledged by the DLQ topic before the offsets commit) and the rest is written.

PostgreSQL down → reconnect with :class:`marketpipe.backoff.Backoff` (deterministic doubling,
0.05 s → 2 s), waiting in short slices so a stop request ends the wait; the batch is retried whole.
The session uses ``synchronous_commit=off``: rows and offsets are lost together in a server crash,
and Kafka still has the messages.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from marketpipe.backoff import Backoff
from marketpipe.stream import candles
from marketpipe.stream.dlq import DeadLetter, DeadLetterQueue
from marketpipe.stream.kinds import SinkKind
from marketpipe.stream.metrics import SinkMetrics
from marketpipe.stream.sink.batch import Batch, Decoded, letter
from marketpipe.stream.sink.errors import SinkError

log = logging.getLogger("marketpipe.stream.sink")

# Errors that say "this row is bad" (→ DLQ), as opposed to "the database is unreachable" (→ retry).
ROW_ERRORS = (pg_errors.DataError, pg_errors.IntegrityError)
CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


def pg_backoff() -> Backoff:
    """The reconnect policy: 0.05, 0.1, 0.2 … 2 s, no jitter (one sink per connection)."""
    return Backoff(base=0.05, cap=2.0, floor=1.0)


def wait(backoff: Backoff, stop: Callable[[], bool]) -> None:
    """Sleep the backoff's next delay, in slices of at most 50 ms, returning early once ``stop()``."""
    deadline = time.monotonic() + backoff.next_delay()
    while time.monotonic() < deadline and not stop():
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


class PostgresWriter:
    """Owns the sink's PostgreSQL connection and its one-transaction batch write."""

    def __init__(
        self,
        kind: SinkKind,
        *,
        dsn: str,
        group: str,
        dlq: DeadLetterQueue,
        metrics: SinkMetrics,
        stopping: Callable[[], bool],
    ) -> None:
        self.kind = kind
        self.dsn = dsn
        self.group = group
        self.dlq = dlq
        self.metrics = metrics
        self._stopping = stopping
        self._copy_sql = f"COPY {kind.table} ({', '.join(kind.columns)}) FROM STDIN"
        self._conn: psycopg.Connection | None = None
        self._backoff = pg_backoff()

    # -- the connection ------------------------------------------------------------------------------

    def connection(self) -> psycopg.Connection:
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
                self._backoff.reset()
                return conn
            except CONNECTION_ERRORS as exc:
                self.metrics.count("pg_retries")
                log.warning(
                    "sink %s: PostgreSQL unavailable (%s); retrying", self.kind.name, type(exc).__name__
                )
                if self._stopping():
                    raise SinkError("stopped while PostgreSQL was unavailable") from exc
                wait(self._backoff, self._stopping)

    def drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None

    def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()

    def stored_offsets(self) -> dict[int, int]:
        """Next offsets per partition stored in PostgreSQL for this group and topic."""
        while True:
            conn = self.connection()
            try:
                rows = conn.execute(
                    "SELECT kafka_partition, next_offset FROM stream_offsets WHERE consumer_group = %s AND topic = %s",
                    (self.group, self.kind.topic),
                ).fetchall()
                conn.commit()
                return {int(p): int(o) for p, o in rows}
            except CONNECTION_ERRORS:
                self.drop()

    # -- the batch -----------------------------------------------------------------------------------

    def write(self, batch: Batch) -> tuple[int, int, set[tuple[int, int]]]:
        """One transaction: rows, candles, dead-letter records, offsets. Retries across reconnects.

        Returns (rows written, rows already present, (partition, offset) of rows PostgreSQL
        rejected); the rejected rows' letters are appended to ``batch.dead``.

        The first attempt COPYs the batch straight into the table (no savepoint: fewest round
        trips). If PostgreSQL refuses anything, that transaction rolls back and the batch is written
        again carefully: savepoints, the conflict fallback and bisection find exactly which rows to
        skip or send to the DLQ.
        """
        decoded, dead, next_offsets, msgs = batch.decoded, batch.dead, batch.next_offsets, batch.msgs
        careful = False
        while True:
            conn = self.connection()
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
                                letter(
                                    self.kind,
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
            except ROW_ERRORS as exc:
                if careful:
                    raise  # not a row problem the careful path can isolate: the sink stops
                log.info(
                    "sink %s: PostgreSQL refused the batch (%s); writing it row-safely",
                    self.kind.name,
                    type(exc).__name__,
                )
                careful = True
            except CONNECTION_ERRORS as exc:
                log.warning(
                    "sink %s: PostgreSQL lost during a batch (%s); retrying",
                    self.kind.name,
                    type(exc).__name__,
                )
                # Letters found during a failed attempt are found again on the retry.
                dead[:] = [d for d in dead if d.stage == "decode"]
                self.drop()
                self.metrics.count("pg_retries")
                wait(self._backoff, self._stopping)

    def _write_rows(
        self, conn: psycopg.Connection, items: list[Decoded]
    ) -> tuple[int, int, list[tuple[Decoded, Exception]], set[tuple[Any, ...]]]:
        """Write ``items``; returns (written, conflicted, [(bad item, error)], keys skipped as present)."""
        if not items:
            return 0, 0, [], set()
        try:
            with conn.transaction():
                written, conflicted, skipped = self._copy(conn, items)
            return written, conflicted, [], skipped
        except ROW_ERRORS as exc:
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

    def _copy(self, conn: psycopg.Connection, items: list[Decoded]) -> tuple[int, int, set[tuple[Any, ...]]]:
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
