"""The provider sandbox as a local service: a detached uvicorn process on the configured port."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx

from marketpipe.runtime.base import LocalService, ServiceError


class SandboxService(LocalService):
    """``python -m marketpipe.sandbox`` on ``settings.sandbox_host:sandbox_port`` (stopped by ``down``).

    The port is fixed (not picked free) because ``Settings.base_url`` derives every sandbox provider
    URL from it.
    """

    name = "sandbox"

    def configured_url(self) -> str | None:
        # The sandbox is always ours; an already running one on the port is reused by ``start``.
        return None

    def _start(self) -> tuple[int, str]:
        url = self.settings.sandbox_url
        if self.ping(url):
            raise ServiceError(
                f"sandbox: port {self.settings.sandbox_port} answers but is not ours; stop it or change "
                "MARKETPIPE_SANDBOX_PORT"
            )
        self.settings.run_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.settings.run_dir / "sandbox.log"
        cmd = [
            sys.executable, "-m", "marketpipe.sandbox",
            "--host", self.settings.sandbox_host,
            "--port", str(self.settings.sandbox_port),
        ]  # fmt: skip
        with open(log_path, "ab") as log:
            try:
                # A new session: the sandbox outlives `marketpipe up` and ignores its Ctrl-C.
                process = subprocess.Popen(
                    cmd,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            except OSError as exc:
                raise ServiceError(f"sandbox: could not start ({type(exc).__name__})") from exc
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ServiceError(f"sandbox: exited with code {process.returncode}; see {log_path}")
            if self.ping(url):
                return process.pid, url
            time.sleep(0.1)  # polling the health route while the server boots
        process.terminate()
        raise ServiceError(f"sandbox: did not answer within 30 s; see {log_path}")

    def ping(self, url: str) -> bool:
        try:
            response = httpx.get(url.rstrip("/") + "/_admin/health", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.json().get("status") == "ok"
