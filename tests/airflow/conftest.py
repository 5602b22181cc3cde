"""Fixtures for the Airflow tests: one real Airflow 3 home (SQLite metadata) per test session.

``airflow db migrate`` runs once per session; each test gets a :class:`LocalAirflow` on that home with
its own marketpipe database (``pg_dsn``, passed as the Airflow connection ``marketpipe_postgres``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from marketpipe.orchestration.local import REPO_DAGS_FOLDER, LocalAirflow

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated Airflow home shared by the session."""
    home = tmp_path_factory.mktemp("airflow-home")
    LocalAirflow(home=home, dags_folder=REPO_DAGS_FOLDER).migrate()
    return home


@pytest.fixture
def local_airflow(airflow_home: Path) -> LocalAirflow:
    """Airflow on the session's home and this repository's dags/, blind to the developer's MARKETPIPE_*."""
    return LocalAirflow(
        home=airflow_home,
        dags_folder=REPO_DAGS_FOLDER,
        inherit_marketpipe_env=False,
        # Short retry delay so a retried task would show up within the test's time.
        extra_env={"MARKETPIPE_AIRFLOW_RETRY_DELAY_S": "1"},
    )
