"""Finding and opening the database."""

from __future__ import annotations

import psycopg

from marketpipe.config import Settings, get_settings


def database_dsn(settings: Settings | None = None) -> str:
    """The PostgreSQL URL to use; starts the embedded server when none is configured."""
    settings = settings or get_settings()
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    from marketpipe.runtime.postgres import PostgresService

    return PostgresService(settings).start()


def connect(
    dsn: str | None = None, *, settings: Settings | None = None, autocommit: bool = False
) -> psycopg.Connection:
    """Open a connection (``dsn`` wins; else the settings' database, embedded if unset)."""
    return psycopg.connect(dsn or database_dsn(settings), autocommit=autocommit)


def with_database(url: str, dbname: str) -> str:
    """The same server URL pointing at another database (kept in URL form for other tools)."""
    from urllib.parse import quote

    params = psycopg.conninfo.conninfo_to_dict(url)
    user = quote(str(params.get("user") or "postgres"), safe="")
    password = params.get("password")
    auth = f"{user}:{quote(str(password), safe='')}" if password else user
    host = str(params.get("host") or "")
    port = params.get("port")
    if host.startswith("/"):  # Unix socket directory
        return f"postgresql://{auth}@/{dbname}?host={quote(host, safe='/')}" + (
            f"&port={port}" if port else ""
        )
    netloc = f"{host}:{port}" if port else host
    return f"postgresql://{auth}@{netloc}/{dbname}"
