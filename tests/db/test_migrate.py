"""Versioned migrations against a real PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest

from marketpipe.db import MigrationError, available_migrations, migrate
from marketpipe.db.migrator import Migration


def test_migrations_apply_on_empty_database_then_are_a_no_op(pg_server: str) -> None:
    from marketpipe.db.connect import with_database

    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS mp_migrate_probe WITH (FORCE)")
        admin.execute("CREATE DATABASE mp_migrate_probe")
    with psycopg.connect(with_database(pg_server, "mp_migrate_probe")) as conn:
        applied = migrate(conn)
        assert applied == [m.name for m in available_migrations()]
        assert applied, "the package ships migrations"
        assert migrate(conn) == []
        recorded = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
        assert recorded == applied


def test_changed_applied_migration_is_refused(
    db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = available_migrations()[0]
    tampered = [Migration(first.name, first.sql + "\n-- edited"), *available_migrations()[1:]]
    monkeypatch.setattr("marketpipe.db.migrator.available_migrations", lambda: tampered)
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(db)


def test_failing_migration_is_rolled_back_and_named(
    db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = [
        *available_migrations(),
        Migration("9999_broken.sql", "CREATE TABLE half_done (x int); SELECT 1/0;"),
    ]
    monkeypatch.setattr("marketpipe.db.migrator.available_migrations", lambda: broken)
    with pytest.raises(MigrationError, match=r"9999_broken\.sql"):
        migrate(db)
    assert db.execute("SELECT to_regclass('half_done')").fetchone() == (None,)
    assert db.execute("SELECT count(*) FROM schema_migrations WHERE name = '9999_broken.sql'").fetchone() == (
        0,
    )
