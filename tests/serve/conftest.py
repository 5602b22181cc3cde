"""``live_api``: the API served by a real uvicorn on a loopback port (the ``marketpipe serve`` config)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn

from marketpipe.serve import create_app
from marketpipe.serve.cli import uvicorn_config
from marketpipe.serve.settings import ApiSettings


@dataclass
class LiveApi:
    host: str
    port: int
    app: Any
    server: uvicorn.Server

    @property
    def http(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://{self.host}:{self.port}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_api(pg_dsn: str, redis_url: str) -> Iterator[Callable[..., LiveApi]]:
    """Start the API (``live_api(redis_url=..., **ApiSettings fields)``); stopped after the test."""
    started: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(*, redis: str | None = None, dsn: str | None = None, **options: Any) -> LiveApi:
        api = ApiSettings(_env_file=None, **options)  # type: ignore[call-arg]
        app = create_app(dsn or pg_dsn, redis or redis_url, api)
        port = _free_port()
        server = uvicorn.Server(uvicorn_config(app, "127.0.0.1", port, api, log_level="warning"))
        thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the API did not start")
            time.sleep(0.02)
        started.append((server, thread))
        return LiveApi("127.0.0.1", port, app, server)

    yield start
    for server, thread in started:
        server.should_exit = True
        thread.join(15)
