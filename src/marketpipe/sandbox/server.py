"""Run a sandbox with uvicorn: in the foreground (CLI) or in a background thread (tests)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from marketpipe.sandbox.app import create_app
from marketpipe.sandbox.config import SandboxConfig


def serve(
    config: SandboxConfig, host: str = "127.0.0.1", port: int = 8765, log_level: str = "warning"
) -> None:
    """Serve in the foreground until interrupted."""
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        ws="websockets-sansio",
    )


class ThreadedSandbox:
    """A real uvicorn server on a free loopback port, in a daemon thread of this process."""

    def __init__(self, config: SandboxConfig, host: str = "127.0.0.1") -> None:
        self.app = create_app(config)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))  # binding here (not in uvicorn) means no port race
        self.host, self.port = self._socket.getsockname()[:2]
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app, log_level="warning", access_log=False, ws="websockets-sansio", lifespan="off"
            )
        )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> str:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("sandbox server did not start")
            time.sleep(0.01)  # polling a flag while the server thread starts
        return self.url

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
