"""``marketpipe mcp``: serve the MCP tools over stdio (a desktop assistant launches it) or streamable
HTTP (``--transport http``, at ``http://HOST:PORT/mcp``), connected to PostgreSQL as the read-only
reader role (the same URL rules as ``marketpipe serve``)."""

from __future__ import annotations

import logging
import sys
from typing import Annotated, Literal

import typer

from marketpipe.config import get_settings


def mcp_command(
    transport: Annotated[str, typer.Option(help="stdio | http")] = "stdio",
    host: Annotated[str, typer.Option(help="HTTP: interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP: TCP port.")] = 8765,
) -> None:
    """Serve marketpipe's data to an LLM assistant as MCP tools."""
    import anyio

    from marketpipe.db import database_dsn
    from marketpipe.mcp.server import build_server
    from marketpipe.runtime import RedisService
    from marketpipe.serve.cli import reader_url
    from marketpipe.serve.settings import ApiSettings

    if transport not in ("stdio", "http"):
        raise typer.BadParameter("use stdio or http", param_hint="--transport")
    # stdout is the protocol channel over stdio: every log line goes to stderr.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    settings = get_settings()
    # The assistant only reads: it connects as the API's read-only role, exactly like `marketpipe
    # serve` (MARKETPIPE_API_DATABASE_URL, or the reader role on the embedded server).
    dsn = reader_url(settings, ApiSettings(), database_dsn(settings))
    server = build_server(dsn, RedisService(settings).start())
    mode: Literal["stdio", "http"] = transport  # type: ignore[assignment]
    if mode == "stdio":
        anyio.run(server.run_stdio_async)
    else:
        anyio.run(lambda: server.run_streamable_http_async(host=host, port=port))
