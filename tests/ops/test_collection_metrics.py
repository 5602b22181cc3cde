"""Collection metrics move on sandbox runs: calls by outcome, quota, rows, runs, items, freshness."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from prometheus_client import CollectorRegistry, generate_latest

from marketpipe.engine.clock import ManualClock
from marketpipe.ops.metrics import CollectionCollector
from marketpipe.redaction import key_hash
from plugins.engine import AV_KEY_1, FRED_KEY_1, engine_settings, seed_universe

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(pg_dsn: str, clock: ManualClock, **kwargs: Any) -> Samples:
    registry = CollectorRegistry()
    registry.register(
        CollectionCollector(lambda: psycopg.connect(pg_dsn, autocommit=True), now=clock.now, **kwargs)
    )
    samples: Samples = {}
    for family in registry.collect():
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_calls_rows_runs_and_freshness_move_on_a_sandbox_run(collect, pg_dsn, engine_clock):
    before = scrape(pg_dsn, engine_clock)
    assert value(before, "marketpipe_collect_up") == 1
    assert value(before, "marketpipe_dataset_freshness", dataset="cpi", state="never") == 1

    result = collect("cpi")
    assert result.status == "ok" and result.rows_inserted > 0
    after = scrape(pg_dsn, engine_clock)
    fred = key_hash(FRED_KEY_1)
    calls = value(
        after,
        "marketpipe_collect_calls_total",
        provider="fred",
        endpoint="/series/observations",
        key=fred,
        outcome="ok",
    )
    assert calls == result.calls == 1
    assert (
        value(after, "marketpipe_collect_rows_total", dataset="cpi", action="inserted")
        == result.rows_inserted
    )
    assert value(after, "marketpipe_collect_runs_total", dataset="cpi", status="ok") == 1
    assert value(after, "marketpipe_collect_run_duration_seconds_count", dataset="cpi") == 1
    assert value(after, "marketpipe_collect_last_run_status", dataset="cpi", status="ok") == 1
    assert value(after, "marketpipe_collect_last_run_items", dataset="cpi", state="done") == 1
    assert value(after, "marketpipe_dataset_freshness", dataset="cpi", state="fresh") == 1
    assert value(after, "marketpipe_dataset_freshness", dataset="cpi", state="never") == 0

    again = collect("cpi", force=True)
    moved = scrape(pg_dsn, engine_clock)
    assert value(moved, "marketpipe_collect_runs_total", dataset="cpi", status="ok") == 2
    assert value(moved, "marketpipe_collect_rows_total", dataset="cpi", action="updated") == (
        value(after, "marketpipe_collect_rows_total", dataset="cpi", action="updated") + again.rows_updated
    )


def test_a_revoked_key_is_counted_as_invalid_key_calls(collect, pg_dsn, engine_clock, sandbox):
    sandbox.admin.add_fault("fred", "revoked_key")
    result = collect("cpi")
    assert result.status == "ok" and result.provider == "alpha_vantage"
    samples = scrape(pg_dsn, engine_clock)
    refused = value(
        samples,
        "marketpipe_collect_calls_total",
        provider="fred",
        endpoint="/series/observations",
        key=key_hash(FRED_KEY_1),
        outcome="invalid_key",
    )
    assert refused == 1
    served = value(
        samples,
        "marketpipe_collect_calls_total",
        provider="alpha_vantage",
        endpoint="CPI",
        key=key_hash(AV_KEY_1),
        outcome="ok",
    )
    assert served == 1


def test_quota_exhaustion_shows_in_used_remaining_spent_and_resumes_at(
    collect: Callable[..., Any], db, pg_dsn, engine_clock, sandbox
):
    seed_universe(db, sorted(sandbox.admin.constituents())[:6])
    sandbox.admin.set_provider_quota("alpha_vantage", windows=[{"name": "day", "limit": 3, "seconds": 86400}])
    av = key_hash(AV_KEY_1)
    from marketpipe.http.types import per_day, per_second

    windows = {"alpha_vantage": (per_day(25), per_second(5))}
    fresh = scrape(pg_dsn, engine_clock, configured_keys={"alpha_vantage": [av]}, windows=windows)
    assert (
        value(fresh, "marketpipe_collect_quota_remaining", provider="alpha_vantage", key=av, window="day")
        == 25
    )

    result = collect("company_overview")
    assert result.status == "partial" and result.error_class == "QuotaExhausted", result.message
    samples = scrape(pg_dsn, engine_clock, configured_keys={"alpha_vantage": [av]}, windows=windows)
    ok = value(
        samples,
        "marketpipe_collect_calls_total",
        provider="alpha_vantage",
        endpoint="OVERVIEW",
        key=av,
        outcome="ok",
    )
    quota = value(
        samples,
        "marketpipe_collect_calls_total",
        provider="alpha_vantage",
        endpoint="OVERVIEW",
        key=av,
        outcome="quota_exhausted",
    )
    assert (ok, quota) == (3, 1)
    assert (
        value(samples, "marketpipe_collect_quota_used", provider="alpha_vantage", key=av, window="day") == 4
    )
    assert (
        value(samples, "marketpipe_collect_quota_remaining", provider="alpha_vantage", key=av, window="day")
        == 21
    )
    assert value(samples, "marketpipe_collect_key_spent", provider="alpha_vantage", key=av) == 1
    spent_until = value(
        samples, "marketpipe_collect_key_spent_until_timestamp_seconds", provider="alpha_vantage", key=av
    )
    assert spent_until > engine_clock.now().timestamp()
    assert (
        value(samples, "marketpipe_dataset_resumes_at_timestamp_seconds", dataset="company_overview")
        == spent_until
    )
    assert (
        value(samples, "marketpipe_collect_last_run_items", dataset="company_overview", state="pending") == 3
    )
    assert (
        value(samples, "marketpipe_collect_last_run_status", dataset="company_overview", status="partial")
        == 1
    )


def test_no_key_value_reaches_the_exposition(settings, collect, pg_dsn, engine_clock, sandbox):
    sandbox.admin.add_fault("fred", "revoked_key")
    collect("cpi")
    registry = CollectorRegistry()
    registry.register(
        CollectionCollector(lambda: psycopg.connect(pg_dsn, autocommit=True), now=engine_clock.now)
    )
    text = generate_latest(registry).decode()
    assert FRED_KEY_1 not in text and AV_KEY_1 not in text
    assert key_hash(FRED_KEY_1) in text


def test_an_unreachable_database_is_reported_as_down_not_raised(engine_clock):
    collector = CollectionCollector(
        lambda: psycopg.connect("postgresql://nobody@127.0.0.1:1/none", connect_timeout=1),
        now=engine_clock.now,
    )
    families = {f.name: f for f in collector.collect()}
    assert [s.value for s in families["marketpipe_collect_up"].samples] == [0]
    assert list(families) == ["marketpipe_collect_up"]


def test_rejected_rows_and_drifted_fields_of_the_run_ledger_are_exported(collect, db, pg_dsn, engine_clock):
    collect("cpi")
    clean = scrape(pg_dsn, engine_clock)
    rejected = ("marketpipe_collect_rows_total", frozenset({("dataset", "cpi"), ("action", "rejected")}))
    drift = ("marketpipe_collect_drift_total", frozenset({("dataset", "cpi")}))
    assert clean[rejected] == 0 and clean[drift] == 0  # exported, and zero on a clean run
    # What the engine records (migration 0153) when a parser refuses rows and a reply's fields move.
    db.execute(
        "UPDATE collect_runs SET rows_rejected = 4, drift_missing = '{value}', drift_new = '{val}'"
        " WHERE dataset = 'cpi'"
    )
    db.commit()
    present = scrape(pg_dsn, engine_clock)
    assert value(present, "marketpipe_collect_rows_total", dataset="cpi", action="rejected") == 4
    assert value(present, "marketpipe_collect_drift_total", dataset="cpi") == 2


def test_settings_keys_are_reported_as_hashes(settings, sandbox):
    from marketpipe.ops.metrics import collector_for_settings

    keyed = engine_settings(settings, sandbox.port)
    collector = collector_for_settings(keyed)
    assert collector._configured["alpha_vantage"] == [key_hash(AV_KEY_1)]


def _env(pg_dsn: str, tmp_path, **extra: str) -> dict[str, str]:
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPIPE_")}
    env.update(
        PYTHONPATH=os.pathsep.join(sys.path),
        MARKETPIPE_DATABASE_URL=pg_dsn,
        MARKETPIPE_DATA_DIR=str(tmp_path),
    )
    env.update(extra)
    return env


def test_metrics_show_and_serve_expose_the_ledgers(collect, pg_dsn, tmp_path):
    import socket
    import subprocess
    import sys
    import time

    import httpx

    collect("cpi")
    env = _env(pg_dsn, tmp_path, MARKETPIPE_FRED_KEYS=FRED_KEY_1)
    cli = [sys.executable, "-c", "from marketpipe.cli import app; app()"]
    shown = subprocess.run([*cli, "metrics", "show"], env=env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "marketpipe_collect_up 1.0" in shown.stdout
    assert 'marketpipe_collect_runs_total{dataset="cpi",status="ok"} 1.0' in shown.stdout
    assert f'key="{key_hash(FRED_KEY_1)}"' in shown.stdout and FRED_KEY_1 not in shown.stdout

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [*cli, "metrics", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        body = ""
        while time.monotonic() < deadline:
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                time.sleep(0.2)
        assert 'marketpipe_dataset_freshness{dataset="cpi",state="never"} 0.0' in body
    finally:
        server.terminate()
        server.wait(timeout=20)
