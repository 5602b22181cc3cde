"""Every object of every kustomization under deploy/ is valid for Kubernetes and for Strimzi 1.2.0.

The validators are strict (unknown fields rejected); each one also gets a deliberately broken manifest
that it must reject, so a validator that passes everything cannot hide here.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from deploy.deploykit import (
    K8S_VERSIONS,
    Doc,
    ManifestError,
    describe,
    kustomize_build,
    strimzi_schemas,
    validate_any,
    validate_k8s,
)


def test_every_object_of_every_overlay_is_valid(built: dict[Path, list[Doc]]) -> None:
    failures = []
    count = 0
    for directory, docs in built.items():
        assert docs, directory
        for doc in docs:
            count += 1
            try:
                validate_any(doc)
            except ManifestError as exc:
                failures.append(f"{directory.name}: {exc}")
    assert not failures, "\n".join(failures)
    assert count >= 30


def test_strimzi_resources_use_the_served_api(main_docs: list[Doc]) -> None:
    strimzi = [d for d in main_docs if d["apiVersion"].startswith("kafka.strimzi.io/")]
    assert {d["kind"] for d in strimzi} == {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}
    assert {d["apiVersion"] for d in strimzi} == {"kafka.strimzi.io/v1"}
    assert strimzi_schemas().release == "strimzi-1.2.0"


def _first(docs: list[Doc], kind: str) -> Doc:
    return copy.deepcopy(next(d for d in docs if d["kind"] == kind))


# ---- negative: kustomize --------------------------------------------------------------------------


def test_kustomize_build_rejects_a_missing_resource(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - does-not-exist.yaml\n")
    with pytest.raises(ManifestError, match="does-not-exist"):
        kustomize_build(tmp_path)


# ---- negative: Kubernetes schemas -----------------------------------------------------------------


@pytest.mark.parametrize("version", [K8S_VERSIONS[0], K8S_VERSIONS[-1]])
def test_kubernetes_validation_rejects_an_unknown_field(main_docs: list[Doc], version: str) -> None:
    deployment = _first(main_docs, "Deployment")
    validate_k8s(copy.deepcopy(deployment), version)  # the unbroken object passes
    # A misspelt field: without strict validation Kubernetes would silently drop it.
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFileSystem"] = (
        True
    )
    with pytest.raises(ManifestError, match="readOnlyRootFileSystem"):
        validate_k8s(deployment, version)


def test_kubernetes_validation_rejects_a_wrong_type(main_docs: list[Doc]) -> None:
    pdb = _first(main_docs, "PodDisruptionBudget")
    pdb["spec"]["selector"] = "app.kubernetes.io/name=api"
    with pytest.raises(ManifestError, match=r"spec\.selector"):
        validate_k8s(pdb, K8S_VERSIONS[-1])


def test_kubernetes_validation_rejects_an_unknown_api(main_docs: list[Doc]) -> None:
    policy = _first(main_docs, "NetworkPolicy")
    policy["apiVersion"] = "extensions/v1beta1"  # removed in Kubernetes 1.16
    with pytest.raises(ManifestError):
        validate_k8s(policy, K8S_VERSIONS[-1])


# ---- negative: Strimzi CRD schemas ----------------------------------------------------------------


def test_crd_validation_rejects_v1beta2(main_docs: list[Doc]) -> None:
    kafka = _first(main_docs, "Kafka")
    kafka["apiVersion"] = "kafka.strimzi.io/v1beta2"
    with pytest.raises(ManifestError, match=r"not served by strimzi-1\.2\.0"):
        strimzi_schemas().validate(kafka)


def test_crd_validation_rejects_fields_removed_in_v1(main_docs: list[Doc]) -> None:
    kafka = _first(main_docs, "Kafka")
    strimzi_schemas().validate(copy.deepcopy(kafka))
    # v1beta2 let a Kafka carry its brokers; in v1 they come from KafkaNodePools only.
    kafka["spec"]["kafka"]["replicas"] = 3
    kafka["spec"]["zookeeper"] = {"replicas": 3}
    with pytest.raises(ManifestError) as raised:
        strimzi_schemas().validate(kafka)
    assert "'replicas' was unexpected" in str(raised.value)
    assert "'zookeeper' was unexpected" in str(raised.value)


def test_crd_validation_rejects_wrong_types_and_enums(main_docs: list[Doc]) -> None:
    pool = _first(main_docs, "KafkaNodePool")
    pool["spec"]["replicas"] = "three"
    pool["spec"]["roles"] = ["broker", "zookeeper"]
    with pytest.raises(ManifestError) as raised:
        strimzi_schemas().validate(pool)
    assert "spec.replicas" in str(raised.value) and "spec.roles.1" in str(raised.value)


def test_crd_validation_rejects_a_listener_without_required_fields(main_docs: list[Doc]) -> None:
    kafka = _first(main_docs, "Kafka")
    del kafka["spec"]["kafka"]["listeners"][0]["tls"]
    with pytest.raises(ManifestError, match="'tls' is a required property"):
        strimzi_schemas().validate(kafka)


def test_crd_validation_evaluates_the_cel_rules(main_docs: list[Doc]) -> None:
    """The CRDs' x-kubernetes-validations run offline too: what they allow passes, what they forbid fails."""
    kafka = _first(main_docs, "Kafka")
    kafka["spec"]["kafka"]["rack"] = {"topologyKey": "topology.kubernetes.io/zone"}
    strimzi_schemas().validate(kafka)
    kafka["spec"]["kafka"]["rack"] = {"type": "environment-variable", "envVarName": ""}
    with pytest.raises(ManifestError, match="envVarName property is required"):
        strimzi_schemas().validate(kafka)

    user = _first(main_docs, "KafkaUser")
    strimzi_schemas().validate(copy.deepcopy(user))
    user["spec"]["authentication"]["validityDays"] = 30
    with pytest.raises(ManifestError, match="can be configured only with 'type: tls'"):
        strimzi_schemas().validate(user)
    user["spec"]["authentication"] = {"type": "tls", "validityDays": 30, "renewalDays": 60}
    with pytest.raises(ManifestError, match="'renewalDays' must be less than 'validityDays'"):
        strimzi_schemas().validate(user)


def test_crd_validation_checks_metadata(main_docs: list[Doc]) -> None:
    topic = _first(main_docs, "KafkaTopic")
    topic["metadata"]["labels"] = {"strimzi.io/cluster": 7}
    with pytest.raises(ManifestError, match=re.escape(describe(topic))):
        strimzi_schemas().validate(topic)


def test_crd_validation_accepts_open_config_maps(main_docs: list[Doc]) -> None:
    # Broker and topic config are free-form in the CRD (x-kubernetes-preserve-unknown-fields).
    topic = _first(main_docs, "KafkaTopic")
    topic["spec"]["config"]["cleanup.policy"] = "compact"
    strimzi_schemas().validate(topic)
