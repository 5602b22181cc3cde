"""The shape every locally started service shares.

A :class:`LocalService` starts a real server process that outlives the command which started it
(``marketpipe up``), records its pid and URL under ``<data_dir>/run/<name>.json``, and is stopped by
``marketpipe down``. Starting is idempotent: a running, answering service is reused.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from marketpipe.config import Settings


class ServiceError(RuntimeError):
    """A local service could not be started, reached or stopped."""


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    url: str | None
    running: bool
    answering: bool
    embedded: bool
    detail: str = ""


class LocalService(ABC):
    """A service marketpipe can run on this machine (PostgreSQL, Redis, Kafka, the sandbox)."""

    name: str
    #: Signal that asks the server for a clean but prompt shutdown.
    stop_signal: int = signal.SIGTERM

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # -- hooks each service implements -------------------------------------------------------
    @abstractmethod
    def configured_url(self) -> str | None:
        """The URL of an external service configured by the user, or None for the embedded one."""

    @abstractmethod
    def _start(self) -> tuple[int, str]:
        """Start the embedded server; return (pid, url). Called only when nothing answers."""

    @abstractmethod
    def ping(self, url: str) -> bool:
        """True when a server answers at ``url``."""

    # -- shared behaviour --------------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.settings.run_dir / f"{self.name}.json"

    def _read_state(self) -> dict[str, object] | None:
        try:
            return json.loads(self.state_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def _write_state(self, pid: int, url: str) -> None:
        self.settings.run_dir.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps({"pid": pid, "url": url}))

    def url(self) -> str | None:
        """The URL to use: the configured one, or the running embedded one (None if not running)."""
        configured = self.configured_url()
        if configured:
            return configured
        state = self._read_state()
        if state and _pid_alive(int(state["pid"])):  # type: ignore[call-overload]
            return str(state["url"])
        return None

    def start(self) -> str:
        """Ensure the service answers and return its URL (idempotent)."""
        configured = self.configured_url()
        if configured:
            if not self.ping(configured):
                raise ServiceError(f"{self.name}: the configured server does not answer")
            return configured
        current = self.url()
        if current and self.ping(current):
            return current
        self.stop()
        pid, url = self._start()
        self._write_state(pid, url)
        return url

    def stop(self, timeout: float = 20.0) -> bool:
        """Stop the embedded server if it runs; True if something was stopped."""
        state = self._read_state()
        if not state:
            return False
        pid = int(state["pid"])  # type: ignore[call-overload]
        stopped = False
        if _pid_alive(pid):
            _terminate(pid, timeout, self.stop_signal)
            stopped = True
        self.state_file.unlink(missing_ok=True)
        return stopped

    def status(self) -> ServiceStatus:
        configured = self.configured_url()
        url = self.url()
        running = bool(url)
        answering = bool(url) and self.ping(url)  # type: ignore[arg-type]
        return ServiceStatus(
            name=self.name,
            url=_redact_url(url) if url else None,
            running=running,
            answering=answering,
            embedded=configured is None,
        )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still "exists"; treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return True


def _terminate(pid: int, timeout: float, sig: int = signal.SIGTERM) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _redact_url(url: str) -> str:
    """Hide a password in a URL (``scheme://user:secret@host`` → ``scheme://user:***@host``)."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    if ":" in creds:
        user, _ = creds.split(":", 1)
        if _:
            return f"{scheme}://{user}:***@{host}"
    return url
