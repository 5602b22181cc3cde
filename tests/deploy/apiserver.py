"""A real Kubernetes API server for the deploy/ checks: etcd + kube-apiserver + kubectl.

The binaries are built from their Go modules by ``make apiserver`` (mk/apiserver.mk) into
.marketpipe/tools/bin. A missing binary FAILS the tests that need it (never a skip).

:class:`ApiServer` starts a one-member etcd and kube-apiserver on free loopback ports in a temp dir:
a self-signed serving certificate (``--cert-dir``), a service-account key pair made with
``cryptography``, static bearer tokens (an admin in ``system:masters`` and an unprivileged user),
``--authorization-mode=RBAC`` and the default admission plugins (PodSecurity among them). There is no
kubelet, scheduler, controller-manager or Strimzi operator: objects are validated, admitted and stored,
but no pod runs. Each process has its own process group, stopped with SIGTERM then SIGKILL.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

REPO = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO / ".marketpipe" / "tools" / "bin"
#: The Kubernetes release mk/apiserver.mk builds (its KUBE_VERSION line).
KUBE_VERSION = next(
    line.split(":=")[1].strip()
    for line in (REPO / "mk" / "apiserver.mk").read_text().splitlines()
    if line.startswith("KUBE_VERSION :=")
)
ADMIN_TOKEN = "marketpipe-test-admin"
NOBODY_TOKEN = "marketpipe-test-nobody"


def tool(name: str) -> Path:
    path = TOOLS_BIN / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"{path} not found: run `make apiserver` (mk/apiserver.mk builds etcd, kube-apiserver, kubectl)"
        )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Kubectl:
    """The outcome of one kubectl run; ``warnings`` are the API server's ``Warning`` headers."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def warnings(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("Warning:")]

    def __str__(self) -> str:
        return f"kubectl {' '.join(self.args)} -> {self.returncode}\n{self.stdout}{self.stderr}"


@dataclass
class ApiServer:
    """etcd + kube-apiserver in ``work`` (a temp dir); :meth:`start`, then :meth:`kubectl`."""

    work: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mp-kube-")))
    port: int = 0
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> None:
        etcd, apiserver = tool("etcd"), tool("kube-apiserver")
        tool("kubectl")
        etcd_port, peer_port, self.port = free_port(), free_port(), free_port()
        self._spawn(
            "etcd",
            [
                str(etcd),
                f"--data-dir={self.work / 'etcd'}",
                f"--client-url=http://127.0.0.1:{etcd_port}",
                f"--peer-url=http://127.0.0.1:{peer_port}",
            ],
        )
        self._wait("etcd", f"http://127.0.0.1:{etcd_port}/health", timeout, verify=False)
        self._write_credentials()
        self._spawn(
            "kube-apiserver",
            [
                str(apiserver),
                f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.port}",
                f"--cert-dir={self.work / 'certs'}",
                f"--token-auth-file={self.work / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                f"--service-account-key-file={self.work / 'sa.pub'}",
                f"--service-account-signing-key-file={self.work / 'sa.key'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--allow-privileged=true",  # as K3s and kubeadm clusters: PodSecurity is what refuses
                "--profiling=false",
                "--v=1",
            ],
        )
        self._wait("kube-apiserver", f"{self.url}/readyz", timeout, verify=False)
        self._write_kubeconfig()

    def stop(self) -> None:
        for proc in reversed(self._procs):  # kube-apiserver before etcd
            _stop_group(proc)
        self._procs.clear()
        shutil.rmtree(self.work, ignore_errors=True)

    def kubectl(self, *args: str, stdin: str | None = None, token: str | None = None) -> Kubectl:
        argv = [f"--kubeconfig={self.work / 'kubeconfig'}", f"--cache-dir={self.work / 'kubectl-cache'}"]
        if token is not None:
            argv.append(f"--token={token}")
        argv.extend(args)
        result = subprocess.run(
            [str(tool("kubectl")), *argv], input=stdin, capture_output=True, text=True, timeout=120
        )
        return Kubectl(argv[2:], result.returncode, result.stdout, result.stderr)

    def http(self) -> httpx.Client:
        """An admin client of the API server (the serving certificate trusted, bearer token)."""
        context = ssl.create_default_context(cafile=str(self.work / "certs" / "apiserver.crt"))
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, verify=context
        )

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.work / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    # ---- internals -------------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> None:
        with open(self.work / f"{name}.log", "wb") as log:
            proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        self._procs.append(proc)

    def _wait(self, name: str, url: str, timeout: float, verify: bool) -> None:
        proc = self._procs[-1]
        deadline = time.monotonic() + timeout
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        last = ""
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")
            try:
                reply = httpx.get(url, headers=headers, verify=verify, timeout=5)
                if reply.status_code == 200:
                    return
                last = f"{reply.status_code} {reply.text[-500:]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.25)
        raise RuntimeError(f"{name} not ready after {timeout:.0f} s ({last}):\n{self.log_tail(name)}")

    def _write_credentials(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (self.work / "sa.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        (self.work / "sa.pub").write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        # token,user,uid,"group1,group2"
        (self.work / "tokens.csv").write_text(
            f'{ADMIN_TOKEN},admin,admin-uid,"system:masters"\n{NOBODY_TOKEN},nobody,nobody-uid\n'
        )

    def _write_kubeconfig(self) -> None:
        # The serving certificate kube-apiserver generated in --cert-dir is self-signed: trust it.
        ca = self.work / "certs" / "apiserver.crt"
        (self.work / "kubeconfig").write_text(
            f"""apiVersion: v1
kind: Config
clusters:
  - name: test
    cluster: {{server: "{self.url}", certificate-authority: "{ca}"}}
users:
  - name: admin
    user: {{token: {ADMIN_TOKEN}}}
contexts:
  - name: test
    context: {{cluster: test, user: admin}}
current-context: test
"""
        )


def _stop_group(proc: subprocess.Popen[bytes], grace: float = 10) -> None:
    if proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue
