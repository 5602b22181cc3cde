"""Versioned schema migrations: numbered SQL files applied once each, in order, in a transaction.

Every file under ``marketpipe/db/migrations`` named ``NNNN_description.sql`` is applied in name
order and recorded in ``schema_migrations`` with its checksum. Re-running is a no-op. Concurrent
migrators (two Airflow tasks starting at once) serialise on an advisory lock.

One order everywhere: a database is always migrated in name order, so an upgraded database and a
fresh one run the same files in the same sequence and end with the same schema. Two rules keep it
so, each a :class:`MigrationError` before anything is applied:

- a pending migration numbered below the highest applied one is refused (it would run after newer
  migrations here but before them on a fresh database): give it the next free number instead;
- two migrations sharing a number are refused (their order would depend on their descriptions).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

_NAME = re.compile(r"^\d{4}_[a-z0-9_]+\.sql$")
_NUMBER = re.compile(r"^\d{4}$")
_LOCK_ID = 0x6D61726B  # "mark": one advisory lock for all marketpipe migrators


class MigrationError(RuntimeError):
    """A migration failed, or an applied migration's file has changed since."""


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


def available_migrations() -> list[Migration]:
    """All migration files shipped with the package, in apply order."""
    folder = resources.files("marketpipe.db") / "migrations"
    found = [
        Migration(entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if _NAME.match(entry.name)
    ]
    return sorted(found, key=lambda m: m.name)


def applied_migrations(conn: psycopg.Connection) -> dict[str, str]:
    """Names and checksums of the migrations already applied."""
    _ensure_ledger(conn)
    rows = conn.execute("SELECT name, checksum FROM schema_migrations").fetchall()
    return {name: checksum for name, checksum in rows}


def migrate(conn: psycopg.Connection, *, up_to: str | None = None) -> list[str]:
    """Apply pending migrations; return the names applied now (empty when up to date).

    ``up_to`` (a 4-digit number such as ``"0151"``) stops after that migration: the schema of an
    earlier release, for upgrade tests and staged roll-outs.
    """
    if up_to is not None and not _NUMBER.match(up_to):
        raise MigrationError(f"up_to must be a 4-digit migration number, not {up_to!r}")
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.commit()
    previous_autocommit = conn.autocommit
    conn.autocommit = True
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            return _apply_pending(conn, up_to)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    finally:
        conn.autocommit = previous_autocommit


def _ensure_ledger(conn: psycopg.Connection) -> None:
    conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               name text PRIMARY KEY,
               checksum text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )


def _check_order(migrations: list[Migration], done: dict[str, str]) -> None:
    """Refuse what would make this database's order differ from a fresh one's (see the module doc)."""
    by_number: dict[str, str] = {}
    for migration in migrations:
        number = migration.name[:4]
        if number in by_number:
            raise MigrationError(
                f"migrations {by_number[number]} and {migration.name} share the number {number}; "
                "renumber one of them above the highest existing migration"
            )
        by_number[number] = migration.name
    if not done:
        return
    highest = max(done)
    late = [m.name for m in migrations if m.name not in done and m.name < highest]
    if late:
        raise MigrationError(
            f"migration(s) {', '.join(late)} numbered below the highest applied migration {highest}: "
            "on this database they would run after it, on a fresh one before it; renumber them above "
            f"{highest[:4]} (nothing was applied)"
        )


def _apply_pending(conn: psycopg.Connection, up_to: str | None = None) -> list[str]:
    done = applied_migrations(conn)
    migrations = available_migrations()
    _check_order(migrations, done)
    applied_now: list[str] = []
    for migration in migrations:
        if up_to is not None and migration.name[:4] > up_to:
            break
        if migration.name in done:
            if done[migration.name] != migration.checksum:
                raise MigrationError(
                    f"migration {migration.name} was changed after it was applied; "
                    "add a new migration instead of editing an applied one"
                )
            continue
        try:
            with conn.transaction():
                conn.execute(migration.sql.encode())  # bytes: no parameter parsing of '%' in SQL
                conn.execute(
                    "INSERT INTO schema_migrations (name, checksum) VALUES (%s, %s)",
                    (migration.name, migration.checksum),
                )
        except psycopg.Error as exc:
            raise MigrationError(f"migration {migration.name} failed: {exc}") from exc
        applied_now.append(migration.name)
    return applied_now
