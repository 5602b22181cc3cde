"""The run ledger: one ``collect_runs`` row per dataset run (calls, rows, status, error class).

Rows are accounted in clearly named columns: ``rows_inserted``, ``rows_updated``, ``rows_rejected``
(with ``rejected_reasons`` as ``{reason: count}``), and schema drift as ``drift_missing`` /
``drift_new`` (field names) plus ``warnings`` (e.g. a reply that drift emptied).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


@dataclass(frozen=True)
class RunRecord:
    run_id: int
    dataset: str
    provider: str | None
    started_at: datetime
    ended_at: datetime | None
    status: str
    calls: int
    rows_inserted: int
    rows_updated: int
    items_done: int
    items_failed: int
    items_pending: int
    error_class: str | None
    message: str
    resume_at: datetime | None
    rows_rejected: int = 0
    rejected_reasons: dict[str, int] | None = None
    drift_missing: list[str] | None = None
    drift_new: list[str] | None = None
    warnings: list[str] | None = None


class RunLedger:
    """Writes on an autocommit connection, so a run's row survives a failed data transaction."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def start(self, dataset: str, logical_date: date, started_at: datetime) -> int:
        row = self.conn.execute(
            """INSERT INTO collect_runs (dataset, logical_date, started_at) VALUES (%s, %s, %s)
               RETURNING run_id""",
            (
                dataset,
                datetime(logical_date.year, logical_date.month, logical_date.day, tzinfo=UTC),
                started_at,
            ),
        ).fetchone()
        assert row is not None
        return int(row[0])

    def finish(self, run_id: int, ended_at: datetime, **fields: Any) -> None:
        columns = sorted(fields)
        assignments = ", ".join(f"{column} = %s" for column in columns)
        self.conn.execute(
            f"UPDATE collect_runs SET ended_at = %s, {assignments} WHERE run_id = %s",
            (ended_at, *(Jsonb(v) if isinstance(v := fields[c], dict) else v for c in columns), run_id),
        )

    def recent(self, limit: int = 20, dataset: str | None = None) -> list[RunRecord]:
        query = """SELECT run_id, dataset, provider, started_at, ended_at, status, calls, rows_inserted,
                          rows_updated, items_done, items_failed, items_pending, error_class, message, resume_at,
                          rows_rejected, rejected_reasons, drift_missing, drift_new, warnings
                     FROM collect_runs"""
        params: list[Any] = []
        if dataset:
            query += " WHERE dataset = %s"
            params.append(dataset)
        query += " ORDER BY run_id DESC LIMIT %s"
        params.append(limit)
        return [RunRecord(*row) for row in self.conn.execute(query, params).fetchall()]
