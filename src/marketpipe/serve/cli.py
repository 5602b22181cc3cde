"""``marketpipe serve``: run the live API and dashboard.

The API connects as the read-only ``marketpipe_reader`` role (migration 0157):
``MARKETPIPE_API_DATABASE_URL`` names its login; in embedded mode (no ``MARKETPIPE_DATABASE_URL``)
the reader URL is derived from the embedded server's (local trust authentication, no password).
uvicorn runs with connection caps and timeouts from :class:`~marketpipe.serve.settings.ApiSettings`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import psycopg
import typer

from marketpipe.config import Settings, get_settings
from marketpipe.serve.settings import READER_ROLE, ApiSettings

log = logging.getLogger(__name__)


def reader_url(settings: Settings, api: ApiSettings, writer_url: str) -> str:
    """The PostgreSQL URL ``marketpipe serve`` uses (see the module docstring)."""
    if api.database_url is not None:
        return api.database_url.get_secret_value()
    if settings.database_url is None:  # embedded: same server and database, the reader role
        return psycopg.conninfo.make_conninfo(writer_url, user=READER_ROLE, password="")
    log.warning(
        "MARKETPIPE_API_DATABASE_URL is not set: the API uses the writers' credentials (in read-only "
        "transactions). Give it a login of the %s role instead (docs: README, 'Live API').",
        READER_ROLE,
    )
    return writer_url


def header_timeout_protocol(timeout_s: float) -> type[Any]:
    """uvicorn's h11 protocol, closing a connection that has not sent a whole request head in time.

    uvicorn itself only times out idle keep-alive connections; a client trickling its headers
    (slowloris) would hold a connection for ever.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutH11Protocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
            self._head_timer = self.loop.call_later(timeout_s, self._expire)

        def _expire(self) -> None:
            self._head_timer = None
            if self.transport.is_closing() or self.transport.get_protocol() is not self:
                return  # closed, or upgraded to a WebSocket
            if self.conn.their_state is h11.IDLE:  # still no complete request head
                self.transport.close()

    return HeaderTimeoutH11Protocol


def uvicorn_config(app: Any, host: str, port: int, api: ApiSettings, **extra: Any) -> Any:
    """The uvicorn configuration of ``marketpipe serve`` (also used by the tests and benchmarks)."""
    import uvicorn

    from marketpipe.serve.wire import FanoutWebSocketsProtocol

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=header_timeout_protocol(api.header_timeout_s),
        ws=FanoutWebSocketsProtocol,
        ws_per_message_deflate=api.ws_compression,
        limit_concurrency=api.limit_concurrency,
        timeout_keep_alive=api.keep_alive_s,
        h11_max_incomplete_event_size=api.max_header_bytes,
        ws_max_size=api.ws_max_message_bytes,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        timeout_graceful_shutdown=5,
        **extra,
    )


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Serve the REST API, WebSocket price push and the dashboard at http://HOST:PORT/."""
    import uvicorn

    from marketpipe.db import database_dsn
    from marketpipe.runtime import RedisService
    from marketpipe.serve.app import create_app

    settings = get_settings()
    api = ApiSettings()
    app = create_app(reader_url(settings, api, database_dsn(settings)), RedisService(settings).start(), api)
    uvicorn.Server(uvicorn_config(app, host, port, api, log_level="info")).run()
