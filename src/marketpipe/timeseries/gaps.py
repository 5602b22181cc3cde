"""Connection gaps of the real-time producers (``stream_gaps``, migration 0155).

A producer that loses its WebSocket records, once it is resubscribed, one row: the stream (named as
in ``trade_candles.stream``), its shard and connection, the symbols it was carrying, ``gap_from`` —
the last frame it received (a ping counts: the connection was provably alive then) — and ``gap_to``
— the moment every symbol was subscribed again. A producer stopped while disconnected records the
gap with ``gap_to`` NULL (open). The query API returns them next to candles with
:func:`gaps_between`.

Backfill: Finnhub's free tier has no historical trades or intraday candles (``/stock/candle`` and
tick data are premium since 2024), so stock/ETF gaps are stored with ``backfill = 'unavailable'``:
the minutes stay missing, the daily bar of that day still comes from ``daily_prices``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

log = logging.getLogger(__name__)

#: Kafka topic → the stream name used by trade_candles and stream_gaps.
STREAM_OF_TOPIC = {
    "sp500-websocket-trades": "trades",
    "finnhub-trades": "topgainers",
    "etf-trades": "etf",
    "bithumb-ticker": "crypto",
}
MAX_SYMBOLS = 5000
MAX_TEXT = 300


@dataclass(frozen=True)
class ConnectionGap:
    stream: str
    shard: str
    symbols: tuple[str, ...]
    gap_from: datetime
    gap_to: datetime | None
    reason: str


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def _clean(text: str) -> str:
    """Text safe for a text column: no NUL, no lone surrogates, bounded."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")[:MAX_TEXT]


def record_gap(conn: psycopg.Connection, gap: ConnectionGap) -> int:
    """Insert one gap (in the caller's transaction); returns its id."""
    row = conn.execute(
        """INSERT INTO stream_gaps (stream, shard, symbols, gap_from, gap_to, reason)
           VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
        (
            _clean(gap.stream),
            _clean(gap.shard),
            [_clean(s) for s in gap.symbols[:MAX_SYMBOLS]],
            gap.gap_from,
            gap.gap_to if gap.gap_to is None or gap.gap_to >= gap.gap_from else gap.gap_from,
            _clean(gap.reason),
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def gaps_between(
    conn: psycopg.Connection, stream: str, symbol: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Recorded gaps of ``stream`` that carried ``symbol`` and overlap ``[start, end)``, oldest first.

    Each is ``{"from", "to", "shard", "reason"}`` with timezone-aware datetimes; ``to`` is None for
    a gap still open. For the candles routes of the query API.
    """
    rows = conn.execute(
        """SELECT gap_from, gap_to, shard, reason FROM stream_gaps
            WHERE stream = %s AND symbols @> ARRAY[%s]::text[]
              AND gap_from < %s AND (gap_to IS NULL OR gap_to > %s)
            ORDER BY gap_from, id""",
        (stream, symbol, end, start),
    ).fetchall()
    return [{"from": r[0], "to": r[1], "shard": r[2], "reason": r[3]} for r in rows]


GapCallback = Callable[[float, "float | None", list[str], str], None]


class GapRecorder:
    """Writes a producer's gaps to PostgreSQL from a background thread (never blocks the event loop,
    never crashes the producer: a failed write is logged without the DSN)."""

    def __init__(self, dsn: str, stream: str, shard: str) -> None:
        self._dsn = dsn
        self.stream = stream
        self.shard = shard
        self._threads: list[threading.Thread] = []
        self.recorded = 0
        self.failed = 0

    @classmethod
    def for_topic(cls, dsn: str, topic: str, shard: str) -> GapRecorder:
        return cls(dsn, STREAM_OF_TOPIC.get(topic, topic), shard)

    def callback(self, connection: int) -> GapCallback:
        """The ``on_gap`` callback of one connection of the producer."""

        def on_gap(gap_from_s: float, gap_to_s: float | None, symbols: list[str], reason: str) -> None:
            gap = ConnectionGap(
                stream=self.stream,
                shard=f"{self.shard}#{connection}",
                symbols=tuple(symbols),
                gap_from=_utc(gap_from_s),
                gap_to=_utc(gap_to_s) if gap_to_s is not None else None,
                reason=reason,
            )
            thread = threading.Thread(target=self._write, args=(gap,), name="gap-recorder", daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
            thread.start()

        return on_gap

    def _write(self, gap: ConnectionGap) -> None:
        try:
            with psycopg.connect(self._dsn, connect_timeout=5, autocommit=True) as conn:
                record_gap(conn, gap)
            self.recorded += 1
        except psycopg.Error as exc:
            self.failed += 1
            log.error("stream gap not recorded (%s %s): %s", gap.stream, gap.shard, type(exc).__name__)

    def close(self, timeout_s: float = 10.0) -> None:
        """Wait for pending writes."""
        for thread in self._threads:
            thread.join(timeout_s)
