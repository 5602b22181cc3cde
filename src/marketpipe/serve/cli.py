"""``marketpipe serve``: run the live API and dashboard."""

from __future__ import annotations

from typing import Annotated

import typer

from marketpipe.config import get_settings


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
    app = create_app(database_dsn(settings), RedisService(settings).start())
    uvicorn.run(app, host=host, port=port, log_level="info")
