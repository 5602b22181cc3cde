"""Least privilege: the API's PostgreSQL role (migration 0157) can read everything and write nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import errors

from marketpipe.config import Settings
from marketpipe.db.connect import with_database
from marketpipe.serve.cli import reader_url
from marketpipe.serve.settings import READER_ROLE, ApiSettings


def as_reader(dsn: str) -> str:
    return psycopg.conninfo.make_conninfo(dsn, user=READER_ROLE, password="")


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO collect_runs (dataset) VALUES ('x')",
        "UPDATE collect_runs SET status = 'ok'",
        "DELETE FROM stream_offsets",
        "TRUNCATE trade_candles",
        "CREATE TABLE evil (x int)",
        "DROP TABLE collect_runs",
        "SET TRANSACTION READ WRITE; INSERT INTO collect_runs (dataset) VALUES ('x')",
    ],
)
def test_the_reader_cannot_write(pg_dsn: str, statement: str) -> None:
    with (
        psycopg.connect(as_reader(pg_dsn)) as conn,
        pytest.raises((errors.InsufficientPrivilege, errors.ReadOnlySqlTransaction)),
    ):
        conn.execute(statement)


def test_the_reader_reads_every_table_including_ones_created_later(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
        ]
        conn.execute("CREATE TABLE later_table (x int)")  # as a future migration would (the writers' role)
        conn.execute("INSERT INTO later_table VALUES (7)")
    assert len(tables) > 20
    with psycopg.connect(as_reader(pg_dsn)) as conn:
        for table in tables:
            conn.execute(psycopg.sql.SQL("SELECT * FROM {} LIMIT 1").format(psycopg.sql.Identifier(table)))
        assert conn.execute("SELECT x FROM later_table").fetchone() == (7,)
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)


def test_serve_derives_the_reader_url_in_embedded_mode(tmp_path: Path, pg_server: str, pg_dsn: str) -> None:
    embedded = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    dbname = psycopg.conninfo.conninfo_to_dict(pg_dsn)["dbname"]
    url = reader_url(embedded, ApiSettings(_env_file=None), with_database(pg_server, str(dbname)))  # type: ignore[call-arg]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (READER_ROLE,)
    # An explicit setting wins; external writers' URL without one is used read-only (with a warning).
    explicit = ApiSettings(_env_file=None, database_url="postgresql://r:s@db/x")  # type: ignore[call-arg]
    assert reader_url(embedded, explicit, pg_dsn) == "postgresql://r:s@db/x"
    external = Settings(_env_file=None, data_dir=tmp_path, database_url=pg_dsn)  # type: ignore[call-arg]
    assert reader_url(external, ApiSettings(_env_file=None), pg_dsn) == pg_dsn  # type: ignore[call-arg]


def test_the_api_serves_as_the_reader(live_api: Callable[..., Any], pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("INSERT INTO collect_runs (dataset, status) VALUES ('prices', 'ok')")
    api = live_api(dsn=as_reader(pg_dsn))
    assert httpx.get(f"{api.http}/api/v1/runs").json()["runs"][0]["dataset"] == "prices"
    assert httpx.get(f"{api.http}/api/v1/tables").status_code == 200
    assert httpx.get(f"{api.http}/api/v1/health").json()["postgres"] == "ok"


def test_even_the_writers_credentials_cannot_write_through_the_api_pool(pg_dsn: str, redis_url: str) -> None:
    """The API's pool opens read-only transactions whatever role it logs in as."""
    from psycopg_pool import AsyncConnectionPool

    from marketpipe.serve import create_app

    kwargs = create_app(pg_dsn, redis_url).state.pool.kwargs

    async def attempt() -> None:
        async with AsyncConnectionPool(pg_dsn, kwargs=kwargs, open=False) as pool, pool.connection() as conn:
            await conn.execute("INSERT INTO collect_runs (dataset) VALUES ('x')")

    with pytest.raises(errors.ReadOnlySqlTransaction):
        asyncio.run(attempt())
