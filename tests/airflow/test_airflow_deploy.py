"""deploy/airflow: the Helm values, the Secret example and the pools file agree with the code."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import yaml

from marketpipe.orchestration.airflow_tasks import DATABASE_CONN_ID

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "airflow"


def _values() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "values.yaml").read_text())  # type: ignore[no-any-return]


def test_values_pin_the_tested_airflow_and_git_sync_the_dags_folder() -> None:
    values = _values()
    assert values["airflowVersion"] == importlib.metadata.version("apache-airflow")
    assert values["executor"] in {"KubernetesExecutor", "CeleryExecutor"}
    git_sync = values["dags"]["gitSync"]
    assert git_sync["enabled"] is True and values["dags"]["persistence"]["enabled"] is False
    # The synced sub-directory is this repository's DAG folder.
    assert (DEPLOY.parents[1] / git_sync["subPath"] / "marketpipe_dags.py").is_file()
    images = values["images"]
    assert images["pod_template"]["repository"] == images["airflow"]["repository"]
    assert images["pod_template"]["tag"] == images["airflow"]["tag"]
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert f"apache/airflow:{values['airflowVersion']}" in dockerfile


def test_settings_secret_is_what_the_values_mount_and_what_tasks_read() -> None:
    mounted = yaml.safe_load(_values()["extraEnvFrom"])
    secret = yaml.safe_load((DEPLOY / "secret.example.yaml").read_text())
    assert mounted == [{"secretRef": {"name": secret["metadata"]["name"]}}]
    names = set(secret["stringData"])
    assert f"AIRFLOW_CONN_{DATABASE_CONN_ID.upper()}" in names
    assert all(
        n.startswith("MARKETPIPE_") and n.endswith("_KEYS")
        for n in names - {"AIRFLOW_CONN_MARKETPIPE_POSTGRES", "MARKETPIPE_REDIS_URL"}
    )
    # Placeholders only: the example must never carry a credential.
    assert all("CHANGE_ME" in value for value in secret["stringData"].values())
