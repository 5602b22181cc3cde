"""The quota ledger in PostgreSQL: budget is reserved before a call is sent.

One row per (provider, key hash, window, window start). A reservation increments every window that
applies to the call in one transaction, each with ``INSERT … ON CONFLICT DO UPDATE SET used = used + 1
WHERE used < limit RETURNING used``; a window without room returns no row and the whole reservation
rolls back. Row locks make this atomic across processes, Airflow tasks and restarts.

A quota reply from the provider marks the key spent until its window resets
(``quota_key_state``), so every process moves on to the next key.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from marketpipe.http.types import QuotaWindow

log = logging.getLogger("marketpipe.engine")


@dataclass(frozen=True)
class Denied:
    """No budget: ``window`` is full until ``until``."""

    window: str
    until: datetime
    spent_mark: bool = False  # True when the key is marked spent by a provider reply


class QuotaLedger:
    """Reservations and spent marks, on a dedicated autocommit connection (they must not roll back
    with a data transaction: a call sent is a call spent)."""

    def __init__(self, conn: psycopg.Connection, *, enabled: bool = True) -> None:
        if not conn.autocommit:
            raise ValueError("the quota ledger needs an autocommit connection")
        self.conn = conn
        self.enabled = enabled

    def spent_until(self, provider: str, key_hash: str, now: datetime) -> datetime | None:
        """When a spent mark on this key ends (None when the key is not marked)."""
        row = self.conn.execute(
            "SELECT spent_until FROM quota_key_state WHERE provider = %s AND key_hash = %s AND spent_until > %s",
            (provider, key_hash, now),
        ).fetchone()
        return row[0] if row else None

    def reserve(
        self, provider: str, key_hash: str, windows: Sequence[QuotaWindow], now: datetime
    ) -> Denied | None:
        """Reserve one call in every window (None = reserved), or say which window is full."""
        spent = self.spent_until(provider, key_hash, now)
        if spent is not None:
            return Denied("spent", spent, spent_mark=True)
        if not self.enabled or not windows:
            return None
        try:
            with self.conn.transaction():
                for window in windows:
                    start, end = window.bounds(now)
                    row = self.conn.execute(
                        """INSERT INTO quota_ledger AS q
                                  (provider, key_hash, window_name, window_start, window_end, used, quota_limit)
                           VALUES (%s, %s, %s, %s, %s, 1, %s)
                           ON CONFLICT (provider, key_hash, window_name, window_start)
                           DO UPDATE SET used = q.used + 1, quota_limit = EXCLUDED.quota_limit
                                   WHERE q.used < EXCLUDED.quota_limit
                           RETURNING used""",
                        (provider, key_hash, window.name, start, end, window.limit),
                    ).fetchone()
                    if row is None or window.limit <= 0:
                        raise _WindowFull(window.name, end)
        except _WindowFull as full:
            return Denied(full.window, full.until)
        return None

    def mark_spent(self, provider: str, key_hash: str, until: datetime, reason: str) -> None:
        """Record a provider's quota refusal: the key rests until ``until`` (never shortened)."""
        self.conn.execute(
            """INSERT INTO quota_key_state AS s (provider, key_hash, spent_until, reason)
               VALUES (%s, %s, %s, %s)
               ON CONFLICT (provider, key_hash) DO UPDATE
                  SET spent_until = GREATEST(s.spent_until, EXCLUDED.spent_until),
                      reason = EXCLUDED.reason, updated_at = now()""",
            (provider, key_hash, until, reason[:300]),
        )
        log.info("quota: %s key %s spent until %s (%s)", provider, key_hash, until.isoformat(), reason[:120])

    def used(self, provider: str, key_hash: str, window: QuotaWindow, now: datetime) -> int:
        """Calls counted in the window containing ``now``."""
        start, _ = window.bounds(now)
        row = self.conn.execute(
            """SELECT used FROM quota_ledger
                WHERE provider = %s AND key_hash = %s AND window_name = %s AND window_start = %s""",
            (provider, key_hash, window.name, start),
        ).fetchone()
        return int(row[0]) if row else 0

    def prune(self, older_than: timedelta, now: datetime) -> int:
        """Drop windows that ended long ago (the table stays small)."""
        cur = self.conn.execute("DELETE FROM quota_ledger WHERE window_end < %s", (now - older_than,))
        return cur.rowcount


class _WindowFull(Exception):
    def __init__(self, window: str, until: datetime) -> None:
        super().__init__(window)
        self.window = window
        self.until = until
