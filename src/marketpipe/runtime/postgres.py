"""PostgreSQL: the configured server, or a real PostgreSQL started from the ``pgserver`` wheel."""

from __future__ import annotations

import signal
import warnings

import psycopg

from marketpipe.runtime.base import LocalService, ServiceError


class PostgresService(LocalService):
    """Embedded PostgreSQL 16 in ``<data_dir>/postgres`` listening on a Unix socket."""

    name = "postgres"
    # SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions and stop now,
    # instead of waiting for every client to disconnect (SIGTERM, "smart").
    stop_signal = signal.SIGINT

    def configured_url(self) -> str | None:
        url = self.settings.database_url
        return url.get_secret_value() if url else None

    def _start(self) -> tuple[int, str]:
        pgdata = (self.settings.data_dir / "postgres").resolve()
        pgdata.mkdir(parents=True, exist_ok=True)
        try:
            with warnings.catch_warnings():
                # pgserver asks platformdirs for a runtime dir; its fallback warning is noise here.
                warnings.simplefilter("ignore")
                import pgserver  # heavy import, only when we really start a server

                server = pgserver.get_server(pgdata, cleanup_mode=None)
        except Exception as exc:  # pgserver raises subprocess errors with the server log attached
            raise ServiceError(f"postgres: the embedded server did not start ({type(exc).__name__})") from exc
        pid = server.get_pid()
        if pid is None:
            raise ServiceError("postgres: the embedded server reported no pid")
        return pid, server.get_uri()

    def ping(self, url: str) -> bool:
        try:
            with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False
