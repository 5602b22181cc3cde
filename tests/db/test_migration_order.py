"""Migrations apply in one order everywhere: an upgraded database ends with the fresh schema.

The early migrations were numbered in bands (0001–0099 data, 0100 engine state, 0150… streaming), so
a data migration added as 0011 after a release that had applied 0150 would run *after* 0150 on that
database but *before* it on a fresh one. The migrator refuses a migration numbered below the highest
applied one; these tests build the previous release's schema (everything up to 0151), upgrade it,
and compare the result with a fresh migration, catalogue entry by catalogue entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from marketpipe.db import MigrationError, available_migrations, migrate
from marketpipe.db.connect import with_database
from marketpipe.db.migrator import Migration

PREVIOUS_RELEASE = "0151"  # the last migration of the release before this one

#: What a schema is, for this comparison: every catalogue fact a reader or writer can observe.
CATALOGUE: dict[str, str] = {
    "relations": """
        SELECT c.relname, c.relkind::text, c.relpersistence::text
          FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind <> 't'""",
    "columns": """
        SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, a.attgenerated::text, a.attcollation::regcollation::text
          FROM pg_attribute a
          JOIN pg_class c ON c.oid = a.attrelid
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
           AND a.attnum > 0 AND NOT a.attisdropped""",
    "constraints": """
        SELECT conrelid::regclass::text, conname, contype::text, pg_get_constraintdef(oid)
          FROM pg_constraint WHERE connamespace = 'public'::regnamespace""",
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'""",
    "views": """
        SELECT viewname, definition FROM pg_views WHERE schemaname = 'public'""",
    "triggers": """
        SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid)
          FROM pg_trigger WHERE NOT tgisinternal
           AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)""",
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid)
          FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.prokind IN ('f', 'p')""",
    "sequences": """
        SELECT s.seqrelid::regclass::text, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
               s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
               (SELECT d.refobjid::regclass::text || '.' || a.attname
                  FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                 WHERE d.objid = s.seqrelid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))
          FROM pg_sequence s""",
}


def schema_dump(conn: psycopg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every catalogue fact of the public schema, sorted (no OIDs, no data)."""
    return {name: sorted(conn.execute(query).fetchall(), key=repr) for name, query in CATALOGUE.items()}


@pytest.fixture
def empty_db(pg_server: str) -> Iterator[str]:
    """An empty database (not the migrated template) of its own; dropped after the test."""
    names: list[str] = []

    def make(label: str) -> str:
        name = f"mp_order_{label}"
        names.append(name)
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return with_database(pg_server, name)

    yield make  # type: ignore[misc]
    with psycopg.connect(pg_server, autocommit=True) as admin:
        for name in names:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_upgrading_the_previous_release_ends_with_the_schema_of_a_fresh_database(empty_db: Any) -> None:
    shipped = [m.name for m in available_migrations()]
    newer = [n for n in shipped if n[:4] > PREVIOUS_RELEASE]
    assert newer, "this release adds migrations after the previous one"
    with psycopg.connect(empty_db("upgraded")) as conn:
        first = migrate(conn, up_to=PREVIOUS_RELEASE)
        assert first == [n for n in shipped if n[:4] <= PREVIOUS_RELEASE]
        previous = schema_dump(conn)
        assert migrate(conn) == newer
        upgraded = schema_dump(conn)
    with psycopg.connect(empty_db("fresh")) as conn:
        assert migrate(conn) == shipped
        fresh = schema_dump(conn)
    assert previous != fresh  # the upgrade really changed something
    for part in CATALOGUE:
        assert upgraded[part] == fresh[part], part
        assert fresh[part], f"the dump of {part} is empty: the query is wrong"


def test_a_migration_numbered_below_the_highest_applied_is_refused(
    db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    late = Migration("0011_late_data_fix.sql", "CREATE TABLE late_fix (x int);")
    monkeypatch.setattr(
        "marketpipe.db.migrator.available_migrations",
        lambda: sorted([*available_migrations(), late], key=lambda m: m.name),
    )
    highest = available_migrations()[-1].name
    with pytest.raises(
        MigrationError, match=r"0011_late_data_fix\.sql .*below .*" + highest.replace(".", r"\.")
    ):
        migrate(db)
    assert db.execute("SELECT to_regclass('late_fix')").fetchone() == (None,)
    assert db.execute("SELECT count(*) FROM schema_migrations WHERE name = %s", (late.name,)).fetchone() == (
        0,
    )


def test_a_new_migration_above_the_highest_applied_is_applied(
    db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = int(available_migrations()[-1].name[:4]) + 1
    later = Migration(f"{number:04d}_later.sql", "CREATE TABLE later_one (x int);")
    monkeypatch.setattr(
        "marketpipe.db.migrator.available_migrations", lambda: [*available_migrations(), later]
    )
    assert migrate(db) == [later.name]
    assert db.execute("SELECT to_regclass('later_one')::text").fetchone() == ("later_one",)


def test_two_migrations_with_one_number_are_refused(
    db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = int(available_migrations()[-1].name[:4]) + 1
    twins = [
        Migration(f"{number:04d}_mine.sql", "SELECT 1;"),
        Migration(f"{number:04d}_yours.sql", "SELECT 2;"),
    ]
    monkeypatch.setattr(
        "marketpipe.db.migrator.available_migrations", lambda: [*available_migrations(), *twins]
    )
    with pytest.raises(MigrationError, match=f"{number:04d}_mine.sql and {number:04d}_yours.sql share"):
        migrate(db)
    assert db.execute(
        "SELECT count(*) FROM schema_migrations WHERE name LIKE %s", (f"{number:04d}%",)
    ).fetchone() == (0,)


def test_up_to_must_name_a_migration_number(db: psycopg.Connection) -> None:
    with pytest.raises(MigrationError, match="up_to"):
        migrate(db, up_to="15x")
