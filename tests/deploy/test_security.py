"""Least privilege and operability of the built manifests, checked object by object.

* Pod Security Standards "restricted" for every pod marketpipe ships (the namespace warns and audits
  at that level, see deploy/k8s/base/namespace.yaml) — the rules of
  https://kubernetes.io/docs/concepts/security/pod-security-standards/ that a manifest can break.
* Secrets: each container reads only named keys; provider keys only where a provider is called; the
  API and the producers use the read-only role's URL, only the writers get the writer's.
* NetworkPolicies: PostgreSQL and Redis admit only marketpipe's pods (and Airflow's task pods); the
  Kafka listener admits only marketpipe's pods.
* Requests/limits, probes on every long-running container, PodDisruptionBudgets for sinks and the API.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from deploy.deploykit import Doc, describe

ByKind = Callable[[str], dict[str, Doc]]
WORKLOADS = ("Deployment", "StatefulSet", "Job", "CronJob", "DaemonSet")
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                      "projected", "secret"}  # fmt: skip
PART_OF = {"app.kubernetes.io/part-of": "marketpipe"}
READER = ("marketpipe-reader", "MARKETPIPE_API_DATABASE_URL")
WRITER = ("marketpipe-secrets", "MARKETPIPE_DATABASE_URL")


def pods(docs: list[Doc]) -> Iterator[tuple[Doc, dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] in WORKLOADS:
            template = (
                doc["spec"]["template"]
                if doc["kind"] != "CronJob"
                else doc["spec"]["jobTemplate"]["spec"]["template"]
            )
            yield doc, template


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """What in a pod template breaks the "restricted" Pod Security Standard."""
    spec = pod["spec"]
    out = []
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            out.append(field)
    pod_sc = spec.get("securityContext") or {}
    for volume in spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            out.append(f"volume {volume['name']}: {sorted(kinds)}")
    containers = [*spec.get("initContainers", []), *spec["containers"]]
    for c in containers:
        sc = c.get("securityContext") or {}
        name = c["name"]
        if sc.get("privileged"):
            out.append(f"{name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{name}: allowPrivilegeEscalation must be false")
        caps = sc.get("capabilities") or {}
        if "ALL" not in caps.get("drop", []):
            out.append(f"{name}: capabilities must drop ALL")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            out.append(f"{name}: adds capabilities {caps['add']}")
        if not sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")):
            out.append(f"{name}: runAsNonRoot")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            out.append(f"{name}: runAsUser 0")
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"{name}: seccompProfile RuntimeDefault or Localhost")
        if any(p.get("hostPort") for p in c.get("ports", [])):
            out.append(f"{name}: hostPort")
    return out


def test_every_pod_meets_the_restricted_profile(main_docs: list[Doc]) -> None:
    found = list(pods(main_docs))
    assert len(found) == 12
    failures = {describe(doc): v for doc, pod in found if (v := restricted_violations(pod))}
    assert not failures


def test_the_restricted_check_rejects_a_broken_pod(main_docs: list[Doc]) -> None:
    _, pod = next(pods(main_docs))
    broken = copy.deepcopy(pod)
    container = broken["spec"]["containers"][0]
    del container["securityContext"]["allowPrivilegeEscalation"]
    container["securityContext"]["capabilities"] = {"add": ["NET_ADMIN"]}
    broken["spec"]["securityContext"]["runAsNonRoot"] = False
    broken["spec"]["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    violations = " | ".join(restricted_violations(broken))
    for expected in ("allowPrivilegeEscalation", "drop ALL", "NET_ADMIN", "runAsNonRoot", "hostPath"):
        assert expected in violations


def test_root_filesystems_are_read_only_and_tmp_is_writable(main_docs: list[Doc]) -> None:
    for doc, pod in pods(main_docs):
        volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
        for c in pod["spec"]["containers"]:
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, describe(doc)
            if c["image"].startswith("ghcr.io/marketpipe/"):
                [tmp] = [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"]
                assert "emptyDir" in volumes[tmp["name"]], describe(doc)
        assert pod["spec"]["automountServiceAccountToken"] is False, describe(doc)


def test_marketpipe_images_run_as_the_image_user(main_docs: list[Doc]) -> None:
    for doc, pod in pods(main_docs):
        if pod["spec"]["containers"][0]["image"].startswith("ghcr.io/marketpipe/"):
            assert pod["spec"]["securityContext"]["runAsUser"] == 10001, describe(doc)


def secret_refs(container: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """env name → (secret, key); a whole-Secret envFrom fails: it hands over keys nobody chose."""
    assert not [s for s in container.get("envFrom", []) if "secretRef" in s], container["name"]
    return {
        e["name"]: (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
        for e in container.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    }


def marketpipe_refs(main_docs: list[Doc]) -> dict[str, dict[str, tuple[str, str]]]:
    out = {}
    for doc, pod in pods(main_docs):
        container = pod["spec"]["containers"][0]
        if container["image"].startswith("ghcr.io/marketpipe/"):
            out[doc["metadata"]["name"]] = secret_refs(container)
    return out


def test_the_api_gets_no_provider_key_and_the_read_only_role(main_docs: list[Doc]) -> None:
    api = marketpipe_refs(main_docs)["api"]
    assert not [name for name in api if name.endswith("_KEYS")]
    assert api["MARKETPIPE_API_DATABASE_URL"] == READER
    assert api["MARKETPIPE_DATABASE_URL"] == READER  # no fallback to the writer
    assert {secret for secret, _ in api.values()} == {"marketpipe-reader"}


def test_each_pod_gets_only_the_secrets_its_job_needs(main_docs: list[Doc]) -> None:
    refs = marketpipe_refs(main_docs)
    for name, env in refs.items():
        keys = {n for n in env if n.endswith("_KEYS")}
        if name.startswith("sink-") or name == "marketpipe-migrate":
            assert env["MARKETPIPE_DATABASE_URL"] == WRITER, name
            assert not keys, name
        elif name.endswith("-producer"):
            assert keys <= {"MARKETPIPE_FINNHUB_KEYS"}, name
            if "MARKETPIPE_DATABASE_URL" in env:
                assert env["MARKETPIPE_DATABASE_URL"] == READER, name
            assert "MARKETPIPE_REDIS_URL" not in env, name
        if env.get("MARKETPIPE_DATABASE_URL") == WRITER:
            assert name.startswith("sink-") or name == "marketpipe-migrate", name
    assert refs["bithumb-producer"] == {
        "MARKETPIPE_KAFKA_PASSWORD": ("marketpipe-bithumb-producer", "password")
    }
    # Finnhub drops both connections sharing a key: the three Finnhub producer groups use disjoint Secrets.
    finnhub = [
        refs[n]["MARKETPIPE_FINNHUB_KEYS"]
        for n in ("finnhub-producer", "etf-producer", "topgainers-producer")
    ]
    assert len(set(finnhub)) == 3


# ---- Kafka: TLS + SCRAM users with least-privilege ACLs --------------------------------------------

KAFKA_CLIENT = "marketpipe-kafka-client"


def _container(doc: Doc) -> dict[str, Any]:
    return dict(doc["spec"]["template"]["spec"]["containers"][0])


def test_the_kafka_listener_requires_tls_and_scram_and_authorizes(
    by_kind: Callable[[str], dict[str, Doc]],
) -> None:
    (kafka,) = by_kind("Kafka").values()
    listeners = kafka["spec"]["kafka"]["listeners"]
    assert [(x["tls"], x.get("authentication", {}).get("type")) for x in listeners] == [
        (True, "scram-sha-512")
    ]
    assert kafka["spec"]["kafka"]["authorization"] == {"type": "simple"}
    assert "userOperator" in kafka["spec"]["entityOperator"]
    config = by_kind("ConfigMap")
    assert config["marketpipe-config"]["data"]["MARKETPIPE_KAFKA_BOOTSTRAP"].endswith(
        f":{listeners[0]['port']}"
    )
    assert config[KAFKA_CLIENT]["data"]["MARKETPIPE_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config[KAFKA_CLIENT]["data"]["MARKETPIPE_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"


def test_each_kafka_client_pod_authenticates_as_its_own_user(
    main_docs: list[Doc], by_kind: Callable[[str], dict[str, Doc]]
) -> None:
    users = by_kind("KafkaUser")
    refs = marketpipe_refs(main_docs)
    ca_path = by_kind("ConfigMap")[KAFKA_CLIENT]["data"]["MARKETPIPE_KAFKA_SSL_CA_LOCATION"]
    clients = {}
    for doc, pod in pods(main_docs):
        container = pod["spec"]["containers"][0]
        name = doc["metadata"]["name"]
        uses_kafka = container.get("args", [])[:2] in (["stream", "sink"], ["stream", "produce"])
        env_from = {e["configMapRef"]["name"] for e in container.get("envFrom", []) if "configMapRef" in e}
        if not uses_kafka:
            # The API, the migration Job, PostgreSQL and Redis get no Kafka credentials at all.
            assert KAFKA_CLIENT not in env_from, name
            assert not {k for k in refs.get(name, {}) if k.startswith("MARKETPIPE_KAFKA")}, name
            continue
        assert KAFKA_CLIENT in env_from, name
        user = next(e["value"] for e in container["env"] if e["name"] == "MARKETPIPE_KAFKA_USERNAME")
        assert user in users, name
        assert refs[name]["MARKETPIPE_KAFKA_PASSWORD"] == (user, "password"), name
        mount = next(m for m in container["volumeMounts"] if ca_path.startswith(m["mountPath"] + "/"))
        volume = next(v for v in pod["spec"]["volumes"] if v["name"] == mount["name"])
        assert volume["secret"]["secretName"] == "marketpipe-cluster-ca-cert" and mount["readOnly"], name
        clients[name] = user
    # Producers never share a user with each other or with the sinks; every user is used.
    producers = [u for n, u in clients.items() if n.endswith("-producer")]
    assert len(producers) == len(set(producers)) == 4
    assert {u for n, u in clients.items() if n.startswith("sink-")} == {"marketpipe-sink"}
    assert set(clients.values()) == set(users)


def test_kafka_acls_grant_each_role_only_what_it_does(by_kind: Callable[[str], dict[str, Doc]]) -> None:
    from marketpipe.stream import topics

    users = by_kind("KafkaUser")
    writes = {
        "marketpipe-finnhub-producer": topics.SP500_TRADES,
        "marketpipe-etf-producer": topics.ETF_TRADES,
        "marketpipe-bithumb-producer": topics.BITHUMB_TICKER,
        "marketpipe-topgainers-producer": topics.FINNHUB_TRADES,
    }
    for name, user in users.items():
        acls = user["spec"]["authorization"]["acls"]
        granted = {
            (a["resource"]["type"], a["resource"]["name"], a["resource"].get("patternType", "literal"), op)
            for a in acls
            for op in a["operations"]
        }
        assert all(a.get("type", "allow") == "allow" for a in acls), name
        # Nobody creates, deletes or reconfigures anything; no cluster-wide or wildcard grant.
        assert not {g for g in granted if g[3] in {"Create", "Delete", "Alter", "AlterConfigs", "All"}}, name
        assert not {g for g in granted if g[0] == "cluster" or g[1] == "*"}, name
        if name in writes:
            assert granted == {
                ("topic", writes[name], "literal", "Write"),
                ("topic", writes[name], "literal", "Describe"),
            }
        else:
            assert name == "marketpipe-sink"
            data = {topics.SP500_TRADES, topics.FINNHUB_TRADES, topics.BITHUMB_TICKER, topics.ETF_TRADES}
            assert {g[1] for g in granted if g[0] == "topic" and g[3] == "Read"} == data
            assert {g[1] for g in granted if g[3] == "Write"} == {topics.DLQ}
            assert {g[:3] for g in granted if g[0] == "group"} == {("group", "marketpipe-sink.", "prefix")}


def test_the_least_privilege_check_rejects_a_leaky_api(main_docs: list[Doc]) -> None:
    leaky = copy.deepcopy(main_docs)
    api = next(d for d in leaky if d["kind"] == "Deployment" and d["metadata"]["name"] == "api")
    api["spec"]["template"]["spec"]["containers"][0]["envFrom"].append(
        {"secretRef": {"name": "marketpipe-secrets"}}
    )
    with pytest.raises(AssertionError):
        test_the_api_gets_no_provider_key_and_the_read_only_role(leaky)


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, selector  # the only form used here
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def test_network_policies_admit_only_marketpipe_and_airflow_tasks(
    main_docs: list[Doc], by_kind: ByKind
) -> None:
    policies = list(by_kind("NetworkPolicy").values())
    pod_labels = {describe(doc): pod["metadata"]["labels"] for doc, pod in pods(main_docs)}
    for target, port in (("postgres", 5432), ("redis", 6379)):
        [policy] = [
            p for p in policies if selects(p["spec"]["podSelector"], {"app.kubernetes.io/name": target})
        ]
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        [rule] = policy["spec"]["ingress"]
        assert rule["ports"] == [{"protocol": "TCP", "port": port}]
        peers = rule["from"]
        assert all(set(p) == {"podSelector"} for p in peers), "no namespace or IP block peers"

        def admitted(labels: dict[str, str], peers: list[dict[str, Any]] = peers) -> bool:
            return any(selects(p["podSelector"], labels) for p in peers)

        # Every marketpipe pod is admitted, an unlabelled pod or another app's pod is not.
        for name, labels in pod_labels.items():
            assert admitted(labels), (target, name)
        assert admitted({"tier": "airflow", "component": "worker", "release": "airflow"})
        assert not admitted({"tier": "airflow", "component": "api-server", "release": "airflow"})
        assert not admitted({"app.kubernetes.io/name": "something-else"})
        assert not admitted({})
    [kafka] = by_kind("Kafka").values()
    for listener in kafka["spec"]["kafka"]["listeners"]:
        assert listener["networkPolicyPeers"] == [{"podSelector": {"matchLabels": PART_OF}}], listener["name"]
    for name, labels in pod_labels.items():
        assert selects({"matchLabels": PART_OF}, labels), name


def test_every_container_has_requests_and_limits(main_docs: list[Doc], by_kind: ByKind) -> None:
    for doc, pod in pods(main_docs):
        for c in pod["spec"]["containers"]:
            assert set(c["resources"]["requests"]) == {"cpu", "memory"}, describe(doc)
            assert set(c["resources"]["limits"]) == {"cpu", "memory"}, describe(doc)
    for pool in by_kind("KafkaNodePool").values():
        assert set(pool["spec"]["resources"]["limits"]) == {"cpu", "memory"}


def test_every_long_running_container_has_probes(main_docs: list[Doc]) -> None:
    for doc, pod in pods(main_docs):
        if doc["kind"] == "Job":
            continue
        for c in pod["spec"]["containers"]:
            assert "readinessProbe" in c and "livenessProbe" in c, describe(doc)
            args = c.get("args", [])
            if args[:1] == ["stream"]:
                # Producers and sinks: /healthz on the port their metrics server listens on.
                port = int(args[args.index("--metrics-port") + 1])
                named = {p["name"]: p["containerPort"] for p in c["ports"]}
                for probe in (c["readinessProbe"], c["livenessProbe"]):
                    assert probe["httpGet"]["path"] == "/healthz", describe(doc)
                    assert named[probe["httpGet"]["port"]] == port, describe(doc)


def test_sinks_and_the_api_have_disruption_budgets(by_kind: ByKind) -> None:
    budgets = by_kind("PodDisruptionBudget")
    deployments = by_kind("Deployment")
    protected = [n for n in deployments if n.startswith("sink-") or n == "api"]
    assert len(protected) == 5
    for name in protected:
        [budget] = [
            b for b in budgets.values()
            if selects(b["spec"]["selector"], deployments[name]["spec"]["template"]["metadata"]["labels"])
        ]  # fmt: skip
        replicas = deployments[name]["spec"]["replicas"]
        if "minAvailable" in budget["spec"]:
            # Never a budget that forbids every eviction (a drain would hang).
            assert 0 < budget["spec"]["minAvailable"] < replicas, name
        else:
            assert budget["spec"]["maxUnavailable"] >= 1, name
            assert budget["spec"]["maxUnavailable"] < replicas or replicas == 1, name
