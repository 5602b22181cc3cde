"""The sandbox as a local service (``marketpipe up --sandbox`` / ``down``) and its CLI."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx

from marketpipe.config import Settings
from marketpipe.runtime.base import _pid_alive
from marketpipe.runtime.sandbox import SandboxService


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_service_starts_detached_answers_is_reused_and_stops(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, sandbox=True, sandbox_port=_free_port())  # type: ignore[call-arg]
    service = SandboxService(settings)
    url = service.start()
    try:
        assert url == settings.sandbox_url
        assert service.ping(url)
        state = service._read_state()
        assert state is not None and _pid_alive(int(state["pid"]))  # type: ignore[call-overload]
        assert service.start() == url  # idempotent: the running one is reused
        assert service._read_state() == state
        # marketpipe's sandbox base URLs point at this server.
        reply = httpx.get(
            settings.base_url("alpha_vantage") + "/query",
            params={"function": "OVERVIEW", "symbol": "IBM", "apikey": "svc-key"},
            timeout=10,
        )
        assert reply.json()["Symbol"] == "IBM"
        assert service.status().answering
    finally:
        assert service.stop()
    assert not service.ping(url)
    assert not _pid_alive(int(state["pid"]))  # type: ignore[call-overload]


def test_python_m_sandbox_has_the_documented_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "marketpipe.sandbox", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for option in ("--host", "--port", "--seed", "--quotas", "--no-quotas", "--start", "--clock-rate"):
        assert option in result.stdout
