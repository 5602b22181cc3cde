"""The Kubernetes manifests agree with the code: topics, shards, commands, settings names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from marketpipe.cli import app
from marketpipe.config import Settings
from marketpipe.stream.kinds import KINDS
from marketpipe.stream.topics import default_specs

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"


def documents() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs = []
    for resource in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / resource).read_text()) if d]
    return docs


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents() if d["kind"] == kind}


def test_every_manifest_is_well_formed_and_listed() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    on_disk = {str(p.relative_to(K8S)) for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml"}
    assert listed == on_disk
    for doc in documents():
        assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"]


def test_topics_match_the_streaming_design() -> None:
    topics = by_kind("KafkaTopic")
    expected = {spec.name: spec.partitions for spec in default_specs({}, 1)}
    assert {name: t["spec"]["partitions"] for name, t in topics.items()} == expected


def test_finnhub_shard_count_equals_statefulset_replicas() -> None:
    producer = by_kind("StatefulSet")["finnhub-producer"]
    env = {e["name"]: e["value"] for e in producer["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert int(env["MARKETPIPE_SHARDS"]) == producer["spec"]["replicas"]


def test_sink_replicas_do_not_exceed_partitions() -> None:
    partitions = {name: t["spec"]["partitions"] for name, t in by_kind("KafkaTopic").items()}
    topic_of = {name: kind.topic for name, kind in KINDS.items()}
    for name, deployment in by_kind("Deployment").items():
        if name.startswith("sink-"):
            kind = deployment["spec"]["template"]["spec"]["containers"][0]["args"][2]
            assert deployment["spec"]["replicas"] <= partitions[topic_of[kind]], name


@pytest.mark.parametrize("workload", ["Deployment", "StatefulSet", "Job"])
def test_every_marketpipe_container_runs_a_real_command(workload: str) -> None:
    runner = CliRunner()
    for doc in documents():
        if doc["kind"] != workload:
            continue
        spec = doc["spec"]["template"]["spec"]
        for container in spec["containers"]:
            if container["image"] != "marketpipe":
                continue
            args = container["args"]
            # Walk the command path: every sub-command named in a manifest must exist.
            path = [a for a in args if not a.startswith("-")][:3]
            result = runner.invoke(app, [*path[:2], "--help"])
            assert result.exit_code == 0, f"{doc['metadata']['name']}: marketpipe {' '.join(path)}"


def test_config_map_uses_real_setting_names() -> None:
    config = by_kind("ConfigMap")["marketpipe-config"]["data"]
    fields = {f"MARKETPIPE_{name.upper()}" for name in Settings.model_fields}
    stream_fields = {"MARKETPIPE_STREAM_REPLICATION_FACTOR"}
    for name in config:
        assert name in fields | stream_fields, name
