"""deploy/airflow: the Helm values, the settings Secret and the Airflow image, checked as far as offline allows.

The official chart's own ``values.schema.json`` ships inside the chart, which comes from the chart's
Helm repository, not from a package registry this project can install from; so it cannot be the
validator here. Instead:

* every key path values.yaml sets must be in :data:`CHART_KEYS` — the chart parameters marketpipe
  uses, each with the type the chart's parameter reference documents
  (https://airflow.apache.org/docs/helm-chart/stable/parameters-ref.html, chart 1.13+ where git-sync
  v4's ``dags.gitSync.period`` replaced ``wait``); a new key needs a deliberate entry here;
* the values the chart copies into pods verbatim (``env``, the templated ``extraEnvFrom``) are validated
  strictly as Kubernetes EnvVar/EnvFromSource, on a carrier Pod, for every Kubernetes version;
* the values agree with the rest of the repository: the image pins, the DAG folder, the Secret that
  ``extraEnvFrom`` names, the setting names in that Secret, the services its URLs point at, and the
  Helm release name the NetworkPolicies admit.
"""

from __future__ import annotations

import copy
import re
import tomllib
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from deploy.deploykit import DEPLOY, K8S_VERSIONS, REPO, Doc, ManifestError, validate_k8s
from marketpipe.config import Settings

AIRFLOW = DEPLOY / "airflow"

#: Chart parameters marketpipe sets → the documented type.
CHART_KEYS: dict[str, type | tuple[type, ...]] = {
    "airflowVersion": str,
    "images.airflow.repository": str,
    "images.airflow.tag": str,
    "images.airflow.pullPolicy": str,
    "images.pod_template.repository": str,
    "images.pod_template.tag": str,
    "images.pod_template.pullPolicy": str,
    "executor": str,
    "dags.persistence.enabled": bool,
    "dags.gitSync.enabled": bool,
    "dags.gitSync.repo": str,
    "dags.gitSync.rev": str,
    "dags.gitSync.branch": str,
    "dags.gitSync.depth": int,
    "dags.gitSync.subPath": str,
    "dags.gitSync.period": str,
    "dags.gitSync.credentialsSecret": str,
    "extraEnvFrom": str,  # a string: the chart renders it with `tpl`
    "env": list,
    "postgresql.enabled": bool,
    "scheduler.logGroomerSidecar.enabled": bool,
    "scheduler.logGroomerSidecar.retentionDays": int,
}
EXECUTORS = {"LocalExecutor", "LocalKubernetesExecutor", "CeleryExecutor", "KubernetesExecutor",
             "CeleryKubernetesExecutor"}  # fmt: skip
PULL_POLICIES = {"Always", "IfNotPresent", "Never"}


def leaf_paths(node: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted key paths of the mapping leaves (lists and strings are leaves)."""
    if isinstance(node, dict) and node:
        out: dict[str, Any] = {}
        for key, value in node.items():
            out |= leaf_paths(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    return {prefix: node}


def check_values(values: dict[str, Any]) -> None:
    """Raise :class:`ManifestError` for a key the chart does not have or a value of the wrong shape."""
    problems = []
    for path, value in leaf_paths(values).items():
        expected = CHART_KEYS.get(path)
        if expected is None:
            problems.append(
                f"{path}: not a chart parameter marketpipe knows (see tests/deploy/test_airflow.py)"
            )
        elif not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            problems.append(f"{path}: {value!r} is not {expected}")
    if values.get("executor") not in EXECUTORS:
        problems.append(f"executor: {values.get('executor')!r} not one of {sorted(EXECUTORS)}")
    for image in values.get("images", {}).values():
        if image.get("pullPolicy") not in PULL_POLICIES:
            problems.append(f"pullPolicy {image.get('pullPolicy')!r}")
    if not re.fullmatch(r"\d+[smh]", str(values.get("dags", {}).get("gitSync", {}).get("period", "1s"))):
        problems.append("dags.gitSync.period: a duration such as 60s")
    if problems:
        raise ManifestError("; ".join(problems))
    env_from = yaml.safe_load(values["extraEnvFrom"])
    carrier = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "airflow-values"},
        "spec": {"containers": [{"name": "base", "image": "x", "env": values["env"], "envFrom": env_from}]},
    }
    for version in K8S_VERSIONS:
        validate_k8s(carrier, version)


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    loaded = yaml.safe_load((AIRFLOW / "values.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def secret() -> Doc:
    loaded = yaml.safe_load((AIRFLOW / "secret.example.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_values_use_only_known_chart_parameters(values: dict[str, Any]) -> None:
    check_values(values)
    assert values["executor"] == "KubernetesExecutor"


@pytest.mark.parametrize(
    "breakage",
    [
        lambda v: v["scheduler"].update(logGroomerSidecars={"enabled": True}),  # misspelt key
        lambda v: v["dags"]["gitSync"].update(depth="1"),  # wrong type
        lambda v: v.update(executor="KubernetesExecuter"),  # not an executor
        lambda v: v.update(extraEnvFrom="- secretRef:\n    nam: marketpipe-settings\n"),  # bad envFrom
        lambda v: v["env"].append({"name": "X", "valu": "1"}),  # bad EnvVar
    ],
)
def test_values_check_rejects_a_broken_values_file(values: dict[str, Any], breakage: Any) -> None:
    broken = copy.deepcopy(values)
    breakage(broken)
    with pytest.raises(ManifestError):
        check_values(broken)


def test_images_and_versions_agree(values: dict[str, Any]) -> None:
    dockerfile = (AIRFLOW / "Dockerfile").read_text()
    [base] = re.findall(r"^FROM apache/airflow:(\S+)-python(\S+)$", dockerfile, re.M)
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    extra = pyproject["project"]["optional-dependencies"]["airflow"]
    assert f"apache-airflow=={base[0]}" in extra
    assert f'"apache-airflow=={base[0]}"' in dockerfile, "the image pins the Airflow it is based on"
    assert values["airflowVersion"] == base[0]
    assert values["images"]["airflow"] == values["images"]["pod_template"]
    assert (REPO / values["dags"]["gitSync"]["subPath"]).is_dir()
    assert base[1] == "3.11" and 'requires-python = ">=3.11"' in (REPO / "pyproject.toml").read_text()


def test_the_settings_secret_matches_values_and_settings(values: dict[str, Any], secret: Doc) -> None:
    for version in K8S_VERSIONS:
        validate_k8s(secret, version)
    [ref] = yaml.safe_load(values["extraEnvFrom"])
    assert ref["secretRef"]["name"] == secret["metadata"]["name"]
    fields = {f"MARKETPIPE_{name.upper()}" for name in Settings.model_fields}
    for key in secret["stringData"]:
        assert key in fields or key == "AIRFLOW_CONN_MARKETPIPE_POSTGRES", key
    for item in values["env"]:
        if item["name"].startswith("MARKETPIPE_"):
            assert item["name"] in fields, item["name"]


def service_hosts(main_docs: list[Doc]) -> dict[str, int]:
    """``<service>.<namespace>.svc.cluster.local`` → port, for every Service deploy/k8s creates."""
    out = {}
    for doc in main_docs:
        if doc["kind"] == "Service":
            for port in doc["spec"]["ports"]:
                out[f"{doc['metadata']['name']}.{doc['metadata']['namespace']}.svc.cluster.local"] = port[
                    "port"
                ]
    return out


def check_secret_urls(secret: Doc, hosts: dict[str, int]) -> None:
    for key in ("AIRFLOW_CONN_MARKETPIPE_POSTGRES", "MARKETPIPE_REDIS_URL"):
        url = urlsplit(secret["stringData"][key])
        if hosts.get(url.hostname or "") != url.port:
            raise ManifestError(f"{key}: {url.hostname}:{url.port} is no Service of deploy/k8s")
        if not url.password:
            raise ManifestError(f"{key}: PostgreSQL and Redis both require a password")


def test_the_secret_points_at_the_deployed_services(secret: Doc, main_docs: list[Doc]) -> None:
    check_secret_urls(secret, service_hosts(main_docs))
    broken = copy.deepcopy(secret)
    broken["stringData"]["AIRFLOW_CONN_MARKETPIPE_POSTGRES"] = (
        "postgresql://marketpipe:x@postgresql.marketpipe.svc.cluster.local:5432/marketpipe"
    )
    with pytest.raises(ManifestError, match="no Service"):
        check_secret_urls(broken, service_hosts(main_docs))


def test_network_policies_admit_the_release_the_docs_install(main_docs: list[Doc]) -> None:
    releases = set(
        re.findall(
            r"helm upgrade --install (\S+) apache-airflow/airflow", (AIRFLOW / "values.yaml").read_text()
        )
    )
    releases |= set(
        re.findall(r"helm upgrade --install (\S+) apache-airflow/airflow", (REPO / "README.md").read_text())
    )
    [release] = releases
    for doc in main_docs:
        if doc["kind"] == "NetworkPolicy":
            [rule] = doc["spec"]["ingress"]
            airflow = [
                p["podSelector"]["matchLabels"]
                for p in rule["from"]
                if "tier" in p["podSelector"]["matchLabels"]
            ]
            assert airflow == [{"tier": "airflow", "component": "worker", "release": release}]
