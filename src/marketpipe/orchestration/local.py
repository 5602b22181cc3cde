"""Drive a local Apache Airflow on this repository's ``dags/`` folder, through Airflow's own CLI.

Used by ``marketpipe airflow`` (init, standalone, test-dag) and by the Airflow tests. No Airflow import
here: Airflow runs as a subprocess with an environment built by :meth:`LocalAirflow.env` — its own
``AIRFLOW_HOME`` (SQLite metadata), the DAGs folder, no example DAGs, and the marketpipe settings
(database, sandbox, keys) passed through as ``MARKETPIPE_*`` variables or Airflow connections.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from marketpipe.orchestration.plan import pool_name, pool_slots

#: The repository's DAGs folder (present in a source checkout; override with MARKETPIPE_AIRFLOW_DAGS).
REPO_DAGS_FOLDER = Path(__file__).resolve().parents[3] / "dags"


class AirflowCommandError(RuntimeError):
    """An ``airflow`` CLI command exited non-zero (the message holds the tail of its output)."""


def default_dags_folder() -> Path:
    """The DAGs folder to serve: ``MARKETPIPE_AIRFLOW_DAGS`` or the repository's ``dags/``."""
    return Path(os.environ.get("MARKETPIPE_AIRFLOW_DAGS") or REPO_DAGS_FOLDER).resolve()


def airflow_executable() -> str:
    """The ``airflow`` script next to this interpreter (the project venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "airflow"
    if beside.exists():
        return str(beside)
    found = shutil.which("airflow")
    if not found:
        raise AirflowCommandError("the airflow CLI is not installed (pip install 'marketpipe[airflow]')")
    return found


def connection_json(dsn: str) -> str:
    """An Airflow Postgres connection (JSON form) equivalent to a libpq DSN or URL.

    JSON rather than a URI because a Unix-socket host (embedded PostgreSQL) does not survive
    Airflow's URI parsing.
    """
    params = conninfo_to_dict(dsn)
    conn: dict[str, Any] = {"conn_type": "postgres"}
    for ours, theirs in (("host", "host"), ("user", "login"), ("password", "password"), ("dbname", "schema")):
        if params.get(ours):
            conn[theirs] = params.pop(ours)
    port = params.pop("port", None)
    if port:
        conn["port"] = int(str(port))
    extra = {k: str(v) for k, v in params.items() if v is not None}
    if extra:
        conn["extra"] = extra
    return json.dumps(conn)


@dataclass
class TaskState:
    """One task instance of a DAG run, read from the metadata database."""

    task_id: str
    state: str | None
    try_number: int


@dataclass
class DagRunState:
    """A DAG run and its task instances, read from the metadata database."""

    dag_id: str
    run_id: str
    state: str
    tasks: dict[str, TaskState]
    #: Where the output of the `airflow dags test` that made this run was saved (if it was).
    output_log: Path | None = None


@dataclass
class LocalAirflow:
    """An Airflow installation rooted at ``home`` (SQLite metadata) serving ``dags_folder``."""

    home: Path
    dags_folder: Path = field(default_factory=default_dags_folder)
    #: Extra environment for every Airflow process (MARKETPIPE_*, AIRFLOW_CONN_*, AIRFLOW_VAR_*, …).
    extra_env: dict[str, str] = field(default_factory=dict)
    #: Pass this process's MARKETPIPE_* variables on (False in tests: no developer keys leak in).
    inherit_marketpipe_env: bool = True

    @property
    def metadata_db(self) -> Path:
        return self.home / "airflow.db"

    def env(self) -> dict[str, str]:
        """The environment of an Airflow subprocess."""
        env = {
            name: value
            for name, value in os.environ.items()
            if self.inherit_marketpipe_env or not name.startswith("MARKETPIPE_")
        }
        # `airflow standalone` starts its components as `airflow …` found on PATH: use the same install.
        bin_dir = str(Path(airflow_executable()).parent)
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.metadata_db}",
                # The marketpipe pools are created by `init`; Airflow's own default pool stays.
                "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
            }
        )
        env.update(self.extra_env)
        return env

    def run(
        self, *args: str, timeout: float = 600, check: bool = True, capture: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``airflow <args>`` in this installation; raise AirflowCommandError on failure if ``check``."""
        self.home.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [airflow_executable(), *args],
            env=self.env(),
            cwd=self.home,  # so a developer's ./.env is not read by accident
            capture_output=capture,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            tail = ((proc.stdout or "") + (proc.stderr or ""))[-4000:]
            raise AirflowCommandError(f"airflow {' '.join(args[:2])} exited {proc.returncode}:\n{tail}")
        return proc

    # -- setup ---------------------------------------------------------------------------------
    def migrate(self) -> None:
        """Create or upgrade the metadata database (``airflow db migrate``)."""
        self.run("db", "migrate")

    def set_pools(self, providers: Sequence[str]) -> dict[str, int]:
        """Create or resize the pool ``marketpipe_<provider>`` of each provider; return name → slots."""
        pools = {pool_name(p): pool_slots(p) for p in providers}
        if not pools:
            return pools
        # `airflow pools import` sets them all in one process (each CLI call costs seconds of startup).
        path = self.home / "marketpipe_pools.json"
        self.home.mkdir(parents=True, exist_ok=True)
        path.write_text(pools_import_json(providers))
        self.run("pools", "import", str(path))
        return pools

    def set_connection(self, conn_id: str, dsn: str) -> None:
        """Create or replace the Postgres connection ``conn_id`` in the metadata database."""
        self.run("connections", "delete", conn_id, check=False)
        self.run("connections", "add", conn_id, "--conn-json", connection_json(dsn))

    # -- runs ----------------------------------------------------------------------------------
    def dags_test(
        self, dag_id: str, logical_date: str, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """``airflow dags test <dag_id> <logical_date>``: run one DAG run in-process, wait for it to end.

        The whole output (task logs included) is also saved to :meth:`dags_test_log`.
        """
        proc = self.run("dags", "test", dag_id, logical_date, timeout=timeout, check=False)
        self.dags_test_log(dag_id).write_text((proc.stdout or "") + (proc.stderr or ""))
        return proc

    def dags_test_log(self, dag_id: str) -> Path:
        """Where the output of the last ``dags_test`` of ``dag_id`` is kept."""
        return self.home / f"dags-test-{dag_id}.log"

    def latest_run(self, dag_id: str) -> DagRunState | None:
        """The most recent run of ``dag_id`` and its task instances (from the SQLite metadata)."""
        with sqlite3.connect(self.metadata_db) as conn:
            row = conn.execute(
                "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
            ).fetchone()
            if row is None:
                return None
            run_id, state = row
            tasks = {
                task_id: TaskState(task_id=task_id, state=ti_state, try_number=int(try_number or 0))
                for task_id, ti_state, try_number in conn.execute(
                    "SELECT task_id, state, try_number FROM task_instance WHERE dag_id = ? AND run_id = ?",
                    (dag_id, run_id),
                )
            }
            return DagRunState(dag_id=dag_id, run_id=run_id, state=state, tasks=tasks)

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "run_result") -> Any:
        """An XCom value of a task instance, decoded from its JSON form (None if absent)."""
        with sqlite3.connect(self.metadata_db) as conn:
            row = conn.execute(
                "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? AND key = ?",
                (dag_id, run_id, task_id, key),
            ).fetchone()
        if row is None:
            return None
        value = row[0]
        decoded = json.loads(value.decode() if isinstance(value, bytes) else value)
        # Airflow 3 stores XComs as JSON; older serialisations wrapped them once more as a string.
        return json.loads(decoded) if isinstance(decoded, str) else decoded


def pools_import_json(providers: Sequence[str]) -> str:
    """The ``airflow pools import`` file for these providers (also deploy/airflow/pools.json)."""
    spec = {
        pool_name(p): {
            "slots": pool_slots(p),
            "description": f"marketpipe: concurrent tasks against {p}",
            "include_deferred": False,
        }
        for p in sorted(providers)
    }
    return json.dumps(spec, indent=2) + "\n"


def airflow_env_for_marketpipe(
    *, database_url: str | None, sandbox: bool, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Environment that points Airflow tasks at marketpipe's database (as a connection) and sandbox."""
    env: dict[str, str] = {}
    if database_url:
        env["AIRFLOW_CONN_MARKETPIPE_POSTGRES"] = connection_json(database_url)
    if sandbox:
        env["MARKETPIPE_SANDBOX"] = "true"
    env.update(extra or {})
    return env
