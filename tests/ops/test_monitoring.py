"""deploy/monitoring: the alert rules pass ``promtool check`` and their unit tests, fire on a dataset our
exporter reports stale, and every metric the rules and the Grafana dashboard use is one we export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric

from marketpipe.ops.metrics import CollectionCollector
from marketpipe.stream.metrics import SinkMetrics

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
RULES = MONITORING / "prometheus" / "marketpipe-rules.yml"
DASHBOARD = MONITORING / "grafana" / "marketpipe-overview.json"
#: Series Prometheus itself provides.
BUILTIN = {"up"}
_METRIC = re.compile(r"\b(marketpipe_[a-z0-9_]+|up)\b")


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is required (make promtool / apt-get install prometheus)")
    return found


def run_promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_rules_are_valid_and_their_unit_tests_pass():
    checked = run_promtool("check", "rules", str(RULES), cwd=RULES.parent)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = run_promtool("test", "rules", "marketpipe-rules.test.yml", cwd=RULES.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    alerts = {
        rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
    }
    assert {
        "MarketpipeDatasetStale", "MarketpipeQuotaExhaustedEarly", "MarketpipeKeyRefused", "MarketpipeDlqGrowing",
        "MarketpipeConsumerLag", "MarketpipeNoTradesDuringNyseHours", "MarketpipeSinkDown",
    } <= alerts  # fmt: skip


def _series_names(families: list[Metric]) -> set[str]:
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
                "summary": ("_sum", "_count", "_created"), "gauge": ("",)}  # fmt: skip
    names = set()
    for family in families:
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
    return names


@pytest.fixture
def exported_names(collect, db, pg_dsn, engine_clock) -> set[str]:
    """Every series name the collection exporter, the sinks and the API export."""
    collect("cpi")
    collector = CollectionCollector(lambda: psycopg.connect(pg_dsn, autocommit=True), now=engine_clock.now)
    from marketpipe.serve.push import CLIENTS, PUSHES

    families = [
        *collector.collect(),
        *SinkMetrics("trades").registry.collect(),
        *PUSHES.collect(),
        *CLIENTS.collect(),
    ]
    return _series_names(families) | BUILTIN


def _rule_exprs() -> list[str]:
    return [rule["expr"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_every_metric_the_rules_use_is_exported(exported_names):
    used = {name for expr in _rule_exprs() for name in _METRIC.findall(expr)}
    assert used and used <= exported_names, sorted(used - exported_names)


def test_the_dashboard_is_well_formed_and_uses_only_exported_metrics(exported_names):
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and isinstance(dashboard["schemaVersion"], int)
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource"]
    panels = dashboard["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    titles = {p["title"] for p in panels if p["type"] == "row"}
    assert titles == {"Collection", "Stream"}
    used: set[str] = set()
    for panel in (p for p in panels if p["type"] != "row"):
        assert panel["title"] and panel["targets"], panel
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]) and panel["gridPos"]["x"] + panel["gridPos"][
            "w"
        ] <= 24
        assert panel["datasource"]["uid"] == "${datasource}"
        for target in panel["targets"]:
            names = _METRIC.findall(target["expr"])
            assert names, target["expr"]
            used.update(names)
    assert used <= exported_names, sorted(used - exported_names)
    # The dashboard covers both halves.
    assert any(n.startswith("marketpipe_collect_") for n in used) and any(
        n.startswith("marketpipe_sink_") for n in used
    )


def test_the_stale_alert_fires_for_the_dataset_the_exporter_reports_stale(
    collect, pg_dsn, engine_clock, tmp_path
):
    """cpi collected, then 75 days pass: the exporter's own samples, replayed into promtool, fire the alert
    for cpi and for no other dataset."""
    assert collect("cpi").status == "ok"
    later = engine_clock.now() + timedelta(days=75)
    registry = CollectorRegistry()
    registry.register(
        CollectionCollector(lambda: psycopg.connect(pg_dsn, autocommit=True), now=lambda: later)
    )
    samples = [
        s
        for family in registry.collect()
        if family.name == "marketpipe_dataset_freshness"
        for s in family.samples
    ]
    stale = sorted(s.labels["dataset"] for s in samples if s.labels["state"] == "stale" and s.value == 1)
    assert stale == ["cpi"]  # the only dataset with data, and it is two months behind
    series = [
        {"series": "marketpipe_dataset_freshness{" + ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items())) + "}",
         "values": f"{int(s.value)}x30"}
        for s in samples
    ]  # fmt: skip
    (tmp_path / "marketpipe-rules.yml").write_text(RULES.read_text())
    test = {
        "rule_files": ["marketpipe-rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {"eval_time": "10m", "alertname": "MarketpipeDatasetStale", "exp_alerts": []},
                    {
                        "eval_time": "20m",
                        "alertname": "MarketpipeDatasetStale",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "critical", "dataset": "cpi", "state": "stale"},
                                "exp_annotations": {
                                    "summary": "dataset cpi is stale",
                                    "description": "cpi has missed at least two scheduled runs. Check "
                                    "`marketpipe status` and `marketpipe runs cpi`.",
                                },
                            }
                        ],
                    },
                ],
            }
        ],
    }
    (tmp_path / "stale.test.yml").write_text(yaml.safe_dump(test))
    result = run_promtool("test", "rules", "stale.test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_exporter_manifest_runs_a_real_command_and_the_kustomization_lists_real_files():
    from typer.testing import CliRunner

    from marketpipe.cli import app

    docs = list(yaml.safe_load_all((MONITORING / "k8s" / "metrics-exporter.yaml").read_text()))
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert args[:2] == ["metrics", "serve"]
    assert CliRunner().invoke(app, [*args, "--help"]).exit_code == 0
    port = container["ports"][0]["containerPort"]
    assert args[args.index("--port") + 1] == str(port)
    kustomization = yaml.safe_load((MONITORING / "kustomization.yaml").read_text())
    listed = [
        *kustomization["resources"],
        *(f for g in kustomization["configMapGenerator"] for f in g["files"]),
    ]
    assert all((MONITORING / path).is_file() for path in listed), listed
