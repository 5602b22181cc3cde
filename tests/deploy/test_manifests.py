"""The Kubernetes manifests agree with the code: topics, shards, commands, settings names.

Everything here reads the kustomize-built objects, i.e. what `kubectl apply -k deploy/k8s` creates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from deploy.deploykit import DEPLOY, Doc
from marketpipe.cli import app
from marketpipe.config import Settings
from marketpipe.stream.kinds import KINDS
from marketpipe.stream.topics import default_specs

K8S = DEPLOY / "k8s"
ByKind = Callable[[str], dict[str, Doc]]


def test_every_manifest_file_is_listed() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    on_disk = {str(p.relative_to(K8S)) for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml"}
    assert listed == on_disk


def test_everything_lands_in_the_marketpipe_namespace(main_docs: list[Doc]) -> None:
    for doc in main_docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "marketpipe", doc["metadata"]["name"]


def test_topics_match_the_streaming_design(by_kind: ByKind) -> None:
    topics = by_kind("KafkaTopic")
    expected = {spec.name: spec.partitions for spec in default_specs({}, 1)}
    assert {name: t["spec"]["partitions"] for name, t in topics.items()} == expected
    for topic in topics.values():
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "marketpipe"


def test_kafka_cluster_matches_the_topics(by_kind: ByKind) -> None:
    [kafka] = by_kind("Kafka").values()
    [pool] = by_kind("KafkaNodePool").values()
    assert kafka["spec"]["kafka"]["version"] == "4.3.1"
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    config = kafka["spec"]["kafka"]["config"]
    for topic in by_kind("KafkaTopic").values():
        # min.insync.replicas=2 with RF 3: one broker may be down and produce(acks=all) still succeeds.
        assert topic["spec"]["replicas"] <= pool["spec"]["replicas"]
        assert config["min.insync.replicas"] < topic["spec"]["replicas"]


def test_finnhub_shard_count_equals_statefulset_replicas(by_kind: ByKind) -> None:
    producer = by_kind("StatefulSet")["finnhub-producer"]
    env = {e["name"]: e.get("value") for e in producer["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert int(env["MARKETPIPE_SHARDS"]) == producer["spec"]["replicas"]


def test_sink_replicas_do_not_exceed_partitions(by_kind: ByKind) -> None:
    partitions = {name: t["spec"]["partitions"] for name, t in by_kind("KafkaTopic").items()}
    topic_of = {name: kind.topic for name, kind in KINDS.items()}
    sinks = {n: d for n, d in by_kind("Deployment").items() if n.startswith("sink-")}
    assert set(sinks) == {f"sink-{kind}" for kind in KINDS}
    for name, deployment in sinks.items():
        kind = deployment["spec"]["template"]["spec"]["containers"][0]["args"][2]
        assert deployment["spec"]["replicas"] <= partitions[topic_of[kind]], name


def _marketpipe_containers(main_docs: list[Doc], workload: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for doc in main_docs:
        if doc["kind"] == workload:
            for container in doc["spec"]["template"]["spec"]["containers"]:
                if container["image"].startswith("ghcr.io/marketpipe/marketpipe:"):
                    out.append((doc["metadata"]["name"], container))
    return out


@pytest.mark.parametrize("workload", ["Deployment", "StatefulSet", "Job"])
def test_every_marketpipe_container_runs_a_real_command(main_docs: list[Doc], workload: str) -> None:
    runner = CliRunner()
    containers = _marketpipe_containers(main_docs, workload)
    assert containers, workload
    for name, container in containers:
        args = container["args"]
        path = [a for a in args if not a.startswith("-")][:3]
        result = runner.invoke(app, [*path[:2], "--help"])
        assert result.exit_code == 0, f"{name}: marketpipe {' '.join(path)}"
        # Every option the manifest passes exists on that command.
        options = [a.split("=")[0] for a in args if a.startswith("--")]
        command = path[:3] if path[0] == "stream" and path[1] == "produce" else path[:2]
        if path[0] == "stream" and path[1] == "sink":
            command = path[:2]
        known = _options_of(command)
        for option in options:
            assert option in known, f"{name}: {option} is not an option of marketpipe {' '.join(command)}"


def _options_of(command: list[str]) -> set[str]:
    """Every option spelling (``--x`` and ``--no-x``) of ``marketpipe <command>``, from click itself."""
    cmd: Any = typer.main.get_command(app)
    for word in command:
        subcommands = getattr(cmd, "commands", None)  # a group (typer vendors its own click)
        if subcommands is None:
            break  # the rest are arguments
        assert word in subcommands, f"marketpipe {' '.join(command)}: no such command"
        cmd = subcommands[word]
    return {opt for param in cmd.params for opt in (*param.opts, *param.secondary_opts)}


def test_config_map_uses_real_setting_names(by_kind: ByKind) -> None:
    config = by_kind("ConfigMap")["marketpipe-config"]["data"]
    fields = {f"MARKETPIPE_{name.upper()}" for name in Settings.model_fields}
    stream_fields = {"MARKETPIPE_STREAM_REPLICATION_FACTOR"}
    for name in config:
        assert name in fields | stream_fields, name
