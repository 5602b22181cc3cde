"""deploy/k8s applied to a real kube-apiserver (etcd-backed, RBAC, default admission with PodSecurity).

The README's deploy steps against a real API server (tests/deploy/apiserver.py): the namespace first,
the Strimzi 1.2.0 CRDs (every file in deploy/crds/strimzi-*/), the Secrets, then everything
``kustomize build deploy/k8s`` emits with server-side apply and strict field validation. Every object
must be accepted with no warning — a PodSecurity "would violate restricted" warning fails the test —
then read back and re-applied unchanged. Negative controls prove the server really checks: an API
version the CRDs do not serve, a schema violation of a CRD, a privileged pod, an unknown field, an
unauthorised user, and a pod template short of "restricted" (which must come back as a warning).
No kubelet, scheduler or Strimzi operator runs: nothing is scheduled, only admitted and stored.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import yaml

from deploy.apiserver import KUBE_VERSION, NOBODY_TOKEN, ApiServer, Kubectl, tool
from deploy.deploykit import DEPLOY, Doc, describe

NAMESPACE = "marketpipe"
CRD_DIR = sorted((DEPLOY / "crds").glob("strimzi-*"))[-1]
#: The Secrets the README's deploy section creates (`kubectl create secret generic`), placeholder values.
README_SECRETS = {
    "postgres-auth": {"POSTGRES_PASSWORD": "pg"},
    "redis-auth": {"REDIS_PASSWORD": "redis"},
    "marketpipe-secrets": {
        "MARKETPIPE_DATABASE_URL": "postgresql://marketpipe:pg@postgres:5432/marketpipe",
        "MARKETPIPE_REDIS_URL": "redis://:redis@redis:6379/0",
        "MARKETPIPE_FINNHUB_KEYS": "k1,k2",
    },
    "marketpipe-reader": {
        "MARKETPIPE_API_DATABASE_URL": "postgresql://marketpipe_reader:r@postgres:5432/marketpipe",
        "MARKETPIPE_REDIS_URL": "redis://:redis@redis:6379/0",
    },
    "marketpipe-etf-keys": {"MARKETPIPE_FINNHUB_KEYS": "k14"},
    "marketpipe-topgainers-keys": {"MARKETPIPE_FINNHUB_KEYS": "k15"},
}


def _ok(result: Kubectl) -> Kubectl:
    assert result.returncode == 0, str(result)
    return result


def _dump(*docs: Doc) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def _apply(kube: ApiServer, *docs: Doc, extra: tuple[str, ...] = ()) -> Kubectl:
    return kube.kubectl("apply", "--server-side", "--validate=strict", *extra, "-f", "-", stdin=_dump(*docs))


def _crds() -> list[Doc]:
    return [yaml.safe_load(p.read_text()) for p in sorted(CRD_DIR.glob("*.yaml"))]


def _key(doc: Doc) -> tuple[str, str, str]:
    return (doc["apiVersion"], doc["kind"], doc["metadata"]["name"])


@dataclass
class Deployed:
    kube: ApiServer
    docs: list[Doc]
    steps: dict[str, Kubectl]
    stored: dict[tuple[str, str, str], Doc]


@pytest.fixture(scope="module")
def kube() -> Iterator[ApiServer]:
    for name in ("etcd", "kube-apiserver", "kubectl"):
        tool(name)  # fails (never skips) with "run `make apiserver`"
    server = ApiServer()
    try:
        server.start()
    except RuntimeError as exc:
        server.stop()
        pytest.fail(f"kube-apiserver is required and could not start: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def deployed(kube: ApiServer, main_docs: list[Doc]) -> Deployed:
    """The README's deploy section, step by step, on the real API server."""
    steps: dict[str, Kubectl] = {}
    steps["namespace"] = _ok(kube.kubectl("apply", "-f", str(DEPLOY / "k8s" / "base" / "namespace.yaml")))
    crd_files = sorted(CRD_DIR.glob("*.yaml"))
    steps["crds"] = _ok(kube.kubectl("apply", "--server-side", *(f"-f={p}" for p in crd_files)))
    names = [f"crd/{crd['metadata']['name']}" for crd in _crds()]
    steps["crds-established"] = _ok(
        kube.kubectl("wait", "--for=condition=Established", "--timeout=30s", *names)
    )
    for name, keys in README_SECRETS.items():
        literals = [f"--from-literal={k}={v}" for k, v in keys.items()]
        steps[f"secret {name}"] = _ok(
            kube.kubectl("-n", NAMESPACE, "create", "secret", "generic", name, *literals)
        )
    steps["apply"] = _apply(kube, *main_docs)
    assert steps["apply"].returncode == 0, str(steps["apply"])
    got = _ok(kube.kubectl("get", "-f", "-", "-o", "json", stdin=_dump(*main_docs)))
    items = json.loads(got.stdout)
    stored = {_key(d): d for d in items.get("items", [items])}
    return Deployed(kube, main_docs, steps, stored)


# ---- the deployment ------------------------------------------------------------------------------


def test_the_server_is_the_pinned_kubernetes_release(kube: ApiServer) -> None:
    with kube.http() as http:
        version = http.get("/version").json()
    assert version["gitVersion"] == KUBE_VERSION, version
    assert KUBE_VERSION.startswith(("v1.33.", "v1.34.", "v1.35.", "v1.36.", "v1.37."))  # README's range


def test_strimzi_crds_are_established_and_serve_only_v1(deployed: Deployed) -> None:
    for crd in _crds():
        name = crd["metadata"]["name"]
        live = json.loads(_ok(deployed.kube.kubectl("get", f"crd/{name}", "-o", "json")).stdout)
        conditions = {c["type"]: c["status"] for c in live["status"]["conditions"]}
        assert conditions.get("Established") == "True", (name, conditions)
        assert conditions.get("NamesAccepted") == "True", (name, conditions)
        served = [v["name"] for v in crd["spec"]["versions"] if v["served"]]
        assert served == ["v1"], (name, served)
        assert [v["name"] for v in live["spec"]["versions"] if v["served"]] == served
        assert live["status"]["storedVersions"] == ["v1"], name


def test_every_object_is_accepted_without_a_warning(deployed: Deployed) -> None:
    warnings = {step: r.warnings for step, r in deployed.steps.items() if r.warnings}
    assert not warnings, json.dumps(warnings, indent=2)
    assert len(deployed.docs) >= 30
    missing = [describe(d) for d in deployed.docs if _key(d) not in deployed.stored]
    assert not missing, missing
    kinds = {d["kind"] for d in deployed.docs}
    assert {"Namespace", "Deployment", "StatefulSet", "Kafka", "KafkaNodePool", "KafkaTopic"} <= kinds
    for key, obj in deployed.stored.items():
        if key[1] != "Namespace":
            assert obj["metadata"]["namespace"] == NAMESPACE, key


def test_objects_read_back_as_applied(deployed: Deployed) -> None:
    built = {_key(d): d for d in deployed.docs}
    kafka = deployed.stored[("kafka.strimzi.io/v1", "Kafka", "marketpipe")]
    assert kafka["spec"] == built[_key(kafka)]["spec"]
    # Asked for explicitly at v1 (the stored version of the CRD), not whatever the server prefers.
    live = _ok(
        deployed.kube.kubectl("-n", NAMESPACE, "get", "kafkas.v1.kafka.strimzi.io/marketpipe", "-o", "json")
    )
    assert json.loads(live.stdout)["apiVersion"] == "kafka.strimzi.io/v1"
    api = deployed.stored[("apps/v1", "Deployment", "api")]
    pod = api["spec"]["template"]["spec"]
    want = built[_key(api)]["spec"]["template"]["spec"]
    assert pod["securityContext"] == want["securityContext"]
    assert pod["containers"][0]["securityContext"] == want["containers"][0]["securityContext"]
    assert pod["automountServiceAccountToken"] is False
    labels = deployed.stored[("v1", "Namespace", NAMESPACE)]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"


def test_reapply_is_a_conflict_free_no_op(deployed: Deployed) -> None:
    again = _apply(deployed.kube, *deployed.docs)
    assert again.returncode == 0, str(again)
    assert not again.warnings, again.warnings
    got = _ok(deployed.kube.kubectl("get", "-f", "-", "-o", "json", stdin=_dump(*deployed.docs)))
    after = {_key(d): d for d in json.loads(got.stdout)["items"]}
    changed = [
        key
        for key, obj in after.items()
        if obj["metadata"]["resourceVersion"] != deployed.stored[key]["metadata"]["resourceVersion"]
    ]
    assert not changed, f"a re-apply of unchanged manifests wrote: {changed}"


def test_airflow_secret_example_applies(deployed: Deployed) -> None:
    # README: `kubectl -n marketpipe apply -f secret.yaml` (deploy/airflow/secret.example.yaml, filled in).
    path = DEPLOY / "airflow" / "secret.example.yaml"
    result = _ok(deployed.kube.kubectl("-n", NAMESPACE, "apply", "--validate=strict", "-f", str(path)))
    assert not result.warnings, result.warnings
    got = json.loads(
        _ok(deployed.kube.kubectl("-n", NAMESPACE, "get", "secret/marketpipe-settings", "-o", "json")).stdout
    )
    assert set(got["data"]) == set(yaml.safe_load(path.read_text())["stringData"])


# ---- negative controls: the server really validates ------------------------------------------------


def _first(docs: list[Doc], kind: str) -> Doc:
    return copy.deepcopy(next(d for d in docs if d["kind"] == kind))


def test_kafka_v1beta2_is_not_served(deployed: Deployed) -> None:
    kafka = _first(deployed.docs, "Kafka")
    kafka["apiVersion"] = "kafka.strimzi.io/v1beta2"
    kafka["metadata"]["name"] = "old-api"
    result = _apply(deployed.kube, kafka)
    assert result.returncode != 0, str(result)
    assert 'no matches for kind "Kafka" in version "kafka.strimzi.io/v1beta2"' in result.stderr, result.stderr
    # And over plain HTTP: the v1beta2 endpoint does not exist.
    with deployed.kube.http() as http:
        reply = http.get(f"/apis/kafka.strimzi.io/v1beta2/namespaces/{NAMESPACE}/kafkas")
        assert reply.status_code == 404, reply.text
        assert http.get(f"/apis/kafka.strimzi.io/v1/namespaces/{NAMESPACE}/kafkas").status_code == 200


def test_a_crd_schema_violation_is_rejected(deployed: Deployed) -> None:
    topic = _first(deployed.docs, "KafkaTopic")
    topic["metadata"]["name"] = "bad-topic"
    topic["spec"]["partitions"] = 0  # the CRD says minimum: 1
    result = _apply(deployed.kube, topic)
    assert result.returncode != 0, str(result)
    assert "spec.partitions in body should be greater than or equal to 1" in result.stderr, result.stderr


def test_a_crd_cel_rule_is_evaluated(deployed: Deployed) -> None:
    # The API server evaluates CEL (x-kubernetes-validations) itself, as the offline validator now does.
    kafka = _first(deployed.docs, "Kafka")
    kafka["metadata"]["name"] = "bad-rack"
    kafka["spec"]["kafka"]["rack"] = {"type": "environment-variable", "envVarName": ""}
    result = _apply(deployed.kube, kafka)
    assert result.returncode != 0, str(result)
    assert "envVarName property is required" in result.stderr, result.stderr


def test_a_privileged_pod_is_rejected_by_pod_security(deployed: Deployed) -> None:
    # The ServiceAccount admission plugin needs the namespace's default ServiceAccount, which the
    # (absent) controller-manager would create.
    kube = deployed.kube
    if kube.kubectl("-n", NAMESPACE, "get", "serviceaccount/default").returncode != 0:
        _ok(kube.kubectl("-n", NAMESPACE, "create", "serviceaccount", "default"))
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged", "namespace": NAMESPACE},
        "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]},
    }
    result = _apply(kube, pod)
    assert result.returncode != 0, str(result)
    assert 'violates PodSecurity "baseline:latest"' in result.stderr, result.stderr
    assert "privileged" in result.stderr


def test_a_pod_template_short_of_restricted_comes_back_as_a_warning(deployed: Deployed) -> None:
    # The control for "no warning" above: baseline allows it (accepted), restricted does not (warned).
    deployment = _first(deployed.docs, "Deployment")
    deployment["metadata"]["name"] = "not-restricted"
    del deployment["spec"]["template"]["spec"]["securityContext"]
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        del container["securityContext"]
    result = _apply(deployed.kube, deployment)
    try:
        assert result.returncode == 0, str(result)
        assert any('would violate PodSecurity "restricted:latest"' in w for w in result.warnings), (
            result.stderr
        )
    finally:
        deployed.kube.kubectl("-n", NAMESPACE, "delete", "deployment/not-restricted", "--wait=false")


def test_an_unknown_field_is_rejected_under_strict_field_validation(deployed: Deployed) -> None:
    deployment = _first(deployed.docs, "Deployment")
    deployment["metadata"]["name"] = "unknown-field"
    deployment["spec"]["template"]["spec"]["containers"][0]["bogusField"] = 1
    body = _dump(deployment)
    unknown = 'unknown field "spec.template.spec.containers[0].bogusField"'
    collection = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments"
    with deployed.kube.http() as http:
        # Server-side apply, fieldValidation=Strict: the typed patch has no such field.
        apply = http.patch(
            f"{collection}/unknown-field",
            content=body,
            headers={"Content-Type": "application/apply-patch+yaml"},
            params={"fieldManager": "t", "fieldValidation": "Strict"},
        )
        assert apply.status_code >= 400, apply.text
        assert ".bogusField: field not declared in schema" in apply.json()["message"]
        # A plain create: Strict refuses it, Warn accepts it (dry run) with the Warning header.
        create = {"content": body, "headers": {"Content-Type": "application/yaml"}}
        strict = http.post(collection, **create, params={"fieldValidation": "Strict", "dryRun": "All"})
        assert strict.status_code == 400 and unknown in strict.json()["message"], strict.text
        warn = http.post(collection, **create, params={"fieldValidation": "Warn", "dryRun": "All"})
        assert warn.status_code == 201, warn.text
        assert "unknown field" in warn.headers["Warning"] and ".bogusField" in warn.headers["Warning"]
        assert http.get(f"{collection}/unknown-field").status_code == 404
    assert _apply(deployed.kube, deployment).returncode != 0  # kubectl apply --server-side --validate=strict


def test_rbac_denies_an_unprivileged_user(deployed: Deployed) -> None:
    config = _first(deployed.docs, "ConfigMap")
    result = deployed.kube.kubectl(
        "apply", "--server-side", "-f", "-", stdin=_dump(config), token=NOBODY_TOKEN
    )
    assert result.returncode != 0, str(result)
    assert 'User "nobody" cannot' in result.stderr, result.stderr
