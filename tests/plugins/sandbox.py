"""The ``sandbox`` fixture: a real uvicorn sandbox server for the session, reset before each test.

``sandbox.url`` is the root (``http://127.0.0.1:PORT``); ``sandbox.base_url(provider)`` the provider's
base URL; ``sandbox.admin`` an :class:`~marketpipe.sandbox.admin_client.AdminClient` to set faults,
move the clock, read counters and reset. Every test that uses ``sandbox`` starts from a reset state
(counters, quotas, faults, keys, world changes and the clock: 2026-11-16 15:00 UTC, a Monday during
the US session, flowing at wall-clock speed).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from marketpipe.sandbox.admin_client import AdminClient
from marketpipe.sandbox.config import SandboxConfig
from marketpipe.sandbox.server import ThreadedSandbox

SANDBOX_START = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
SANDBOX_SEED = 42


@dataclass
class SandboxHandle:
    url: str
    admin: AdminClient

    def base_url(self, provider: str) -> str:
        """Base URL of ``provider`` on this sandbox (what ``Settings.base_url`` returns in sandbox mode)."""
        return self.admin.base_url(provider)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxHandle]:
    server = ThreadedSandbox(SandboxConfig(seed=SANDBOX_SEED, start_time=SANDBOX_START))
    try:
        url = server.start()
    except RuntimeError as exc:
        pytest.fail(f"the sandbox is required and could not start: {exc}")
    admin = AdminClient(url)
    yield SandboxHandle(url, admin)
    admin.close()
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxHandle) -> SandboxHandle:
    """The session's sandbox, reset to its start-up state for this test."""
    sandbox_server.admin.reset()
    return sandbox_server


@pytest.fixture
def sandbox_settings(settings, sandbox: SandboxHandle):  # type: ignore[no-untyped-def]
    """The test's ``settings`` switched to sandbox mode on this session's sandbox server."""
    host, port = sandbox.url.removeprefix("http://").rsplit(":", 1)
    return settings.model_copy(update={"sandbox": True, "sandbox_host": host, "sandbox_port": int(port)})
