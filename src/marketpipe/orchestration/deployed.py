"""Airflow as deployed: scheduler, DAG processor and API server on PostgreSQL with the LocalExecutor.

:class:`DeployedAirflow` runs the three Airflow 3 components as subprocesses of this process, each in
its own process group with its output in ``<home>/logs/<component>.log``:

* ``airflow api-server`` on a free loopback port — the REST API, the UI, and the *execution API*
  that every task process talks to (``[core] execution_api_server_url``);
* ``airflow dag-processor`` — parses the DAGs folder into the metadata database;
* ``airflow scheduler`` — creates DAG runs on their schedules and runs tasks with the LocalExecutor.

The metadata database is PostgreSQL (a SQLAlchemy URL built from a libpq DSN, Unix sockets included).
All components share one JWT secret, so tokens the scheduler issues for tasks are accepted by the
API server. :meth:`DeployedAirflow.stop` ends every process group within a bounded time (SIGTERM,
then SIGKILL) and checks that nothing is left.

No Airflow import here; Airflow CLI commands (``dags unpause``, ``backfill create`` …) go through
:class:`~marketpipe.orchestration.local.LocalAirflow` with the same environment.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import httpx
import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from marketpipe.orchestration.local import (
    AirflowCommandError,
    LocalAirflow,
    airflow_executable,
    default_dags_folder,
)

#: The components started, in start order (the API server first: tasks need its execution API).
COMPONENTS = ("api-server", "dag-processor", "scheduler")

#: Settings that keep a local deployment responsive (seconds, not Airflow's production defaults).
FAST_LOOP_ENV = {
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    "AIRFLOW__API__WORKERS": "1",
    "AIRFLOW__CORE__PARALLELISM": "4",
}


class AirflowStartError(AirflowCommandError):
    """A component exited or did not become healthy in time (the message has its log's tail)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sqlalchemy_url(dsn: str) -> str:
    """The SQLAlchemy URL (psycopg2 driver, Airflow's default for PostgreSQL) of a libpq DSN or URL.

    A Unix-socket host (the embedded PostgreSQL) goes into the query string, where libpq reads it.
    """
    params = {k: v for k, v in conninfo_to_dict(dsn).items() if v not in (None, "")}
    user = quote(str(params.pop("user", "postgres")), safe="")
    password = params.pop("password", None)
    auth = f"{user}:{quote(str(password), safe='')}" if password else user
    dbname = quote(str(params.pop("dbname", "postgres")), safe="")
    host = str(params.pop("host", "") or "")
    port = params.pop("port", None)
    query: dict[str, str] = {}
    if host.startswith("/"):
        query["host"] = host
        if port:
            query["port"] = str(port)
        netloc = ""
    else:
        netloc = f"{host}:{port}" if port else host
    query.update({k: str(v) for k, v in params.items()})
    tail = "&".join(f"{k}={quote(v, safe='/')}" for k, v in query.items())
    return f"postgresql+psycopg2://{auth}@{netloc}/{dbname}" + (f"?{tail}" if tail else "")


def write_env_file(env: dict[str, str], path: Path) -> Path:
    """Write the ``AIRFLOW*`` variables of ``env`` as ``export`` lines a shell can source (mode 0600:
    they hold the metadata database URL and the JWT secret). Airflow's own CLI then reaches the
    deployment: its settings live in the environment, not in ``airflow.cfg``."""
    import shlex

    lines = [
        f"export {name}={shlex.quote(value)}\n"
        for name, value in sorted(env.items())
        if name.startswith("AIRFLOW")
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("# Airflow's CLI on this deployment: . this-file && airflow ...\n" + "".join(lines))
    os.chmod(path, 0o600)
    return path


def create_database(admin_dsn: str, dbname: str, *, drop: bool = False) -> None:
    """Create database ``dbname`` on the server of ``admin_dsn`` (dropping it first if ``drop``)."""
    from psycopg import sql

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        if drop:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


@dataclass
class DeployedAirflow:
    """Scheduler + DAG processor + API server (LocalExecutor) on a PostgreSQL metadata database."""

    home: Path
    #: libpq DSN of the Airflow metadata database (its own database, not marketpipe's).
    metadata_dsn: str
    dags_folder: Path = field(default_factory=default_dags_folder)
    #: Extra environment for every component and task (MARKETPIPE_*, AIRFLOW_CONN_*, AIRFLOW_VAR_*, …).
    extra_env: dict[str, str] = field(default_factory=dict)
    inherit_marketpipe_env: bool = True
    #: Short scheduler and parsing loops (tests, local runs); False keeps Airflow's defaults.
    fast_loops: bool = True
    api_port: int = 0
    log_server_port: int = 0
    jwt_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _logs: dict[str, IO[bytes]] = field(default_factory=dict)

    # -- configuration ---------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    def log_path(self, component: str) -> Path:
        return self.log_dir / f"{component}.log"

    def deployment_env(self) -> dict[str, str]:
        """The Airflow settings of this deployment (on top of :meth:`LocalAirflow.env`)."""
        env = dict(FAST_LOOP_ENV) if self.fast_loops else {}
        env.update(
            {
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(self.metadata_dsn),
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                # Tasks (LocalExecutor workers) report to the API server's execution API.
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__BASE_URL": self.api_url,
                # One secret for every component: the scheduler signs task tokens, the API checks them.
                "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                # The scheduler's task-log server: a free port too (8793 by default).
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.log_server_port),
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.log_dir / "tasks"),
                "AIRFLOW__LOGGING__DAG_PROCESSOR_CHILD_PROCESS_LOG_DIRECTORY": str(
                    self.log_dir / "dag-processor"
                ),
            }
        )
        return env

    def cli(self) -> LocalAirflow:
        """Airflow's CLI on this deployment (same home, metadata database and settings)."""
        self.api_port = self.api_port or free_port()
        self.log_server_port = self.log_server_port or free_port()
        return LocalAirflow(
            home=self.home,
            dags_folder=self.dags_folder,
            extra_env={**self.deployment_env(), **self.extra_env},
            inherit_marketpipe_env=self.inherit_marketpipe_env,
        )

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, timeout: float = 180) -> None:
        """Migrate the metadata database, start the components, wait until they report healthy."""
        if self.processes:
            raise AirflowStartError("this Airflow is already running")
        cli = self.cli()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        cli.migrate()
        env = cli.env()
        try:
            for component in COMPONENTS:
                args = [airflow_executable(), component]
                if component == "api-server":
                    args += ["--host", "127.0.0.1", "--port", str(self.api_port), "--workers", "1"]
                log = self.log_path(component).open("ab")
                self._logs[component] = log
                self.processes[component] = subprocess.Popen(
                    args,
                    env=env,
                    cwd=self.home,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: stop() ends its children too
                )
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise

    def health(self) -> dict[str, Any] | None:
        """The API server's ``/api/v2/monitor/health`` answer (None while it does not answer)."""
        try:
            response = httpx.get(f"{self.api_url}/api/v2/monitor/health", timeout=5)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    def wait_healthy(self, timeout: float = 180) -> dict[str, Any]:
        """Wait until the metadata DB, the scheduler and the DAG processor are healthy."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            self.check_running()
            last = self.health()
            if last and all(
                (last.get(part) or {}).get("status") == "healthy"
                for part in ("metadatabase", "scheduler", "dag_processor")
            ):
                return last
            time.sleep(1)
        raise AirflowStartError(
            f"Airflow not healthy after {timeout:.0f}s (last: {last})\n{self.log_tails()}"
        )

    def check_running(self) -> None:
        """Raise AirflowStartError (with the log tail) when a component has exited."""
        for component, proc in self.processes.items():
            code = proc.poll()
            if code is not None:
                raise AirflowStartError(f"airflow {component} exited {code}\n{self.log_tail(component)}")

    def log_tail(self, component: str, chars: int = 3000) -> str:
        path = self.log_path(component)
        if not path.exists():
            return f"== {component}: no log"
        text = path.read_bytes()[-chars:].decode(errors="replace")
        return f"== {component} ({path}):\n{text}"

    def log_tails(self, chars: int = 2000) -> str:
        return "\n".join(self.log_tail(c, chars) for c in COMPONENTS)

    def stop(self, timeout: float = 30) -> list[str]:
        """Stop every component (SIGTERM, then SIGKILL after ``timeout``); return the ones killed.

        Each component's whole process group is signalled (LocalExecutor workers, API workers,
        parsing processes), and the groups are checked empty before returning.
        """
        groups = {name: proc.pid for name, proc in self.processes.items()}  # pgid == pid (new session)
        # The scheduler first (it stops launching tasks), the API server last (tasks report to it).
        order = [c for c in ("scheduler", "dag-processor", "api-server") if c in groups]
        killed: list[str] = []
        for name in order:
            proc = self.processes[name]
            # SIGTERM to the component itself: it ends its own workers (the LocalExecutor waits for
            # running tasks; a second SIGTERM tells it not to wait), then the group is killed.
            for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGTERM, 5.0)):
                if proc.poll() is not None:
                    break
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=wait)
            if proc.poll() is None:
                killed.append(name)
                _signal_group(groups[name], signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=10)
        # Whatever else was in a group (a task still finishing) gets a bounded wait, then SIGKILL.
        end = time.monotonic() + 10
        while any(_group_alive(pgid) for pgid in groups.values()) and time.monotonic() < end:
            time.sleep(0.2)
        for pgid in groups.values():
            if _group_alive(pgid):
                _signal_group(pgid, signal.SIGKILL)
        for log in self._logs.values():
            log.close()
        self._logs.clear()
        self.processes.clear()
        return killed

    @property
    def process_groups(self) -> list[int]:
        """The process group ids of the running components (one group per component)."""
        return [proc.pid for proc in self.processes.values()]

    @staticmethod
    def leftover_groups(pgids: list[int]) -> list[int]:
        """Which of these process groups still have a live member (for an orphan check)."""
        return [pgid for pgid in pgids if _group_alive(pgid)]

    # -- reading the metadata database -----------------------------------------------------------
    def metadata(self) -> psycopg.Connection[dict[str, Any]]:
        return psycopg.connect(self.metadata_dsn, autocommit=True, row_factory=dict_row)

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Every run of ``dag_id`` (run_id, run_type, state, logical_date, data interval), oldest first."""
        with self.metadata() as conn:
            return conn.execute(
                """SELECT run_id, run_type, state, logical_date, data_interval_start, data_interval_end,
                          start_date, end_date
                     FROM dag_run WHERE dag_id = %s ORDER BY logical_date NULLS LAST, id""",
                (dag_id,),
            ).fetchall()

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        with self.metadata() as conn:
            rows = conn.execute(
                "SELECT task_id, state, try_number FROM task_instance WHERE dag_id = %s AND run_id = %s",
                (dag_id, run_id),
            ).fetchall()
        return {row["task_id"]: row for row in rows}

    def dag_is_parsed(self, dag_id: str) -> bool:
        with self.metadata() as conn:
            row = conn.execute("SELECT 1 FROM dag WHERE dag_id = %s AND NOT is_stale", (dag_id,)).fetchone()
        return row is not None

    def wait_for(self, what: str, predicate: Any, timeout: float, interval: float = 1.0) -> Any:
        """Poll ``predicate()`` until it returns something truthy; fail with the logs after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_running()
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AirflowStartError(
                    f"timed out after {timeout:.0f}s waiting for {what}\n{self.log_tails()}"
                )
            time.sleep(interval)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
