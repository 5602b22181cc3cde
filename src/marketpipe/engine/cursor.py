"""Per-item cursors: one row per (dataset, item) in ``collect_cursors``.

An item is *due* when it never completed, its last attempt failed, or it completed longer ago than the
dataset's ``refresh_after``. Due items are ordered failed first, then never done, then stalest, then by
name — so a stopped run resumes exactly at the first unfinished item and a failed item is never
skipped. Success is recorded in the same transaction as the item's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


@dataclass(frozen=True)
class ItemState:
    item: str
    last_done_at: datetime | None
    last_error_at: datetime | None
    last_error_class: str | None
    attempts: int
    state: dict[str, Any]

    @property
    def failed(self) -> bool:
        """The last attempt failed (an error newer than the last completion)."""
        return self.last_error_at is not None and (
            self.last_done_at is None or self.last_error_at > self.last_done_at
        )


class ItemCursor:
    """Reads and writes the cursor rows of one dataset (on the caller's connection/transaction)."""

    def __init__(self, conn: psycopg.Connection, dataset: str) -> None:
        self.conn = conn
        self.dataset = dataset

    def states(self, items: Sequence[str] | None = None) -> dict[str, ItemState]:
        query = """SELECT item, last_done_at, last_error_at, last_error_class, attempts, state
                     FROM collect_cursors WHERE dataset = %s"""
        params: list[Any] = [self.dataset]
        if items is not None:
            query += " AND item = ANY(%s)"
            params.append(list(items))
        return {row[0]: ItemState(*row) for row in self.conn.execute(query, params).fetchall()}

    def state(self, item: str) -> ItemState | None:
        return self.states([item]).get(item)

    def is_due(self, state: ItemState | None, refresh_after: timedelta | None, now: datetime) -> bool:
        if state is None or state.last_done_at is None or state.failed:
            return True
        return refresh_after is None or state.last_done_at <= now - refresh_after

    def due(self, items: Sequence[str], refresh_after: timedelta | None, now: datetime) -> list[str]:
        """``items`` that are due, failed first, then never done, then stalest, then in given order."""
        states = self.states(items)
        position = {item: i for i, item in enumerate(items)}
        due = [item for item in items if self.is_due(states.get(item), refresh_after, now)]

        def order(item: str) -> tuple[int, float, int]:
            state = states.get(item)
            if state is not None and state.failed:
                return (0, 0.0, position[item])
            if state is None or state.last_done_at is None:
                return (1, 0.0, position[item])
            return (2, state.last_done_at.timestamp(), position[item])

        return sorted(due, key=order)

    def record_done(self, item: str, run_id: int, now: datetime, state: dict[str, Any] | None = None) -> None:
        """The item completed (its rows are in the same transaction)."""
        self.conn.execute(
            """INSERT INTO collect_cursors AS c
                      (dataset, item, last_done_at, last_attempt_at, attempts, done_count, last_run_id, state)
               VALUES (%s, %s, %s, %s, 0, 1, %s, %s)
               ON CONFLICT (dataset, item) DO UPDATE
                  SET last_done_at = EXCLUDED.last_done_at, last_attempt_at = EXCLUDED.last_attempt_at,
                      attempts = 0, done_count = c.done_count + 1, last_run_id = EXCLUDED.last_run_id,
                      state = CASE WHEN %s THEN EXCLUDED.state ELSE c.state END""",
            (self.dataset, item, now, now, run_id, Jsonb(state or {}), state is not None),
        )

    def record_failure(self, item: str, run_id: int, now: datetime, error_class: str, message: str) -> None:
        """The item failed: it stays due (first in line next time)."""
        self.conn.execute(
            """INSERT INTO collect_cursors AS c
                      (dataset, item, last_attempt_at, last_error_at, last_error_class, last_error, attempts,
                       last_run_id)
               VALUES (%s, %s, %s, %s, %s, %s, 1, %s)
               ON CONFLICT (dataset, item) DO UPDATE
                  SET last_attempt_at = EXCLUDED.last_attempt_at, last_error_at = EXCLUDED.last_error_at,
                      last_error_class = EXCLUDED.last_error_class, last_error = EXCLUDED.last_error,
                      attempts = c.attempts + 1, last_run_id = EXCLUDED.last_run_id""",
            (self.dataset, item, now, now, error_class, message[:500], run_id),
        )
