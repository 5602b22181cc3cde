"""Whole DAG runs with ``airflow dags test`` (real Airflow 3) against the sandbox and real PostgreSQL.

Each test runs Airflow as a subprocess on the session's Airflow home, with this test's fresh marketpipe
database passed as the Airflow connection ``marketpipe_postgres`` and provider keys passed as Airflow
Variables, then reads the outcome from PostgreSQL (rows, run ledger) and Airflow's metadata (dag run
state, task state and try number, the ``run_result`` XCom).
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from marketpipe.config import Settings
from marketpipe.engine.registry import get_dataset
from marketpipe.engine.runner import run_dataset
from marketpipe.orchestration.local import DagRunState, LocalAirflow, connection_json
from marketpipe.orchestration.plan import DagPlan, plan_dags
from plugins.sandbox import SANDBOX_START, SandboxHandle

#: A logical date inside the sandbox's simulated week (its clock starts on Monday 2026-11-16).
LOGICAL_DATE = SANDBOX_START.date().isoformat()
#: Symbols per universe-driven dataset: enough to prove the fan-out, small enough to stay fast.
UNIVERSE_LIMIT = "3"
#: Keys the sandbox accepts (FRED checks the real format: 32 lower-case alphanumerics); passed through
#: Airflow, never a real secret.
SANDBOX_KEYS = {
    "alpha_vantage": "av-airflow-test",
    "fred": "a1rf10wte5tf4edkey0000000000000a",
    "fmp": "fmp-airflow-test",
}


def _dag_of(dataset: str) -> DagPlan:
    return next(plan for plan in plan_dags() if any(t.dataset == dataset for t in plan.tasks))


def _airflow_for(
    local: LocalAirflow,
    pg_dsn: str,
    sandbox: SandboxHandle,
    keys: dict[str, str] | None = None,
    *,
    db_conn_id: str = "marketpipe_postgres",
    quotas: bool = True,
) -> LocalAirflow:
    """Airflow for one test; ``quotas=False`` switches off published quotas (sandbox and engine), for
    tests about landing data rather than budgets — the DAGs grow, a free tier's 5 calls/min does not."""
    if not quotas:
        sandbox.admin.set_quotas(False)
    env = {
        "MARKETPIPE_COLLECT_QUOTAS": "on" if quotas else "off",
        # The marketpipe database as an Airflow connection (what a deployment sets).
        f"AIRFLOW_CONN_{db_conn_id.upper()}": connection_json(pg_dsn),
        "MARKETPIPE_SANDBOX": "true",
        "MARKETPIPE_SANDBOX_PORT": str(sandbox.port),
        "MARKETPIPE_COLLECT_UNIVERSE_LIMIT": UNIVERSE_LIMIT,
    }
    for provider, key in (SANDBOX_KEYS if keys is None else keys).items():
        if provider == "fred":  # FRED's key from a Connection (password), the others from Variables
            env["AIRFLOW_CONN_MARKETPIPE_FRED"] = json.dumps({"conn_type": "generic", "password": key})
        else:
            env[f"AIRFLOW_VAR_MARKETPIPE_{provider.upper()}_KEYS"] = key
    return LocalAirflow(
        home=local.home,
        dags_folder=local.dags_folder,
        inherit_marketpipe_env=False,
        extra_env={**local.extra_env, **env},
    )


def _run_dag(airflow: LocalAirflow, dag_id: str) -> DagRunState:
    proc = airflow.dags_test(dag_id, LOGICAL_DATE, timeout=300)
    run = airflow.latest_run(dag_id)
    assert run is not None, ((proc.stdout or "") + (proc.stderr or ""))[-4000:]
    # Failed assertions on `run` print it, with the path of the full `airflow dags test` output.
    run.output_log = airflow.dags_test_log(dag_id)
    return run


def _ledger(pg_dsn: str, dataset: str) -> list[dict[str, Any]]:
    with psycopg.connect(pg_dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute("SELECT * FROM collect_runs WHERE dataset = %s ORDER BY run_id", (dataset,))
        return cur.fetchall()


def _count(pg_dsn: str, table: str) -> int:
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute(psycopg.sql.SQL("SELECT count(*) FROM {}").format(psycopg.sql.Identifier(table)))
        return int(row.fetchone()[0])  # type: ignore[index]


def _assert_run_landed(
    airflow: LocalAirflow, run: DagRunState, pg_dsn: str, plan: DagPlan, must_land: tuple[str, ...]
) -> None:
    """Every task of ``plan`` succeeded first time and its ledger row agrees with its XCom; the
    datasets in ``must_land`` (the ones this test is about) wrote rows that are in their tables."""
    assert run.state == "success", run
    assert set(must_land) <= {t.dataset for t in plan.tasks}
    for planned in plan.tasks:
        task = run.tasks[planned.task_id]
        assert (task.state, task.try_number) == ("success", 1), task
        ledger = _ledger(pg_dsn, planned.dataset)
        assert len(ledger) == 1, ledger
        row = ledger[0]
        assert row["status"] == "ok", row
        assert row["ended_at"] is not None
        summary = airflow.xcom(plan.dag_id, run.run_id, planned.task_id)
        assert summary["run_id"] == row["run_id"]
        assert summary["rows_inserted"] == row["rows_inserted"]
        if planned.dataset in must_land:
            assert row["rows_inserted"] > 0 and row["calls"] > 0, row
            assert _count(pg_dsn, get_dataset(planned.dataset).table) >= row["rows_inserted"]


def test_macro_dag_lands_rows_and_records_each_run(
    local_airflow: LocalAirflow, pg_dsn: str, sandbox: SandboxHandle
) -> None:
    plan = _dag_of("cpi")
    assert plan.group == "macro"
    airflow = _airflow_for(local_airflow, pg_dsn, sandbox, quotas=False)
    run = _run_dag(airflow, plan.dag_id)
    _assert_run_landed(airflow, run, pg_dsn, plan, ("cpi", "federal_funds_rate", "treasury_yield"))
    # The calls really went to the sandbox, to the preferred provider (FRED, key from a Connection).
    assert sandbox.admin.calls("fred", key=SANDBOX_KEYS["fred"]) > 0
    assert sandbox.admin.calls("alpha_vantage") == 0
    # No key reached Airflow's output (task logs included).
    output = airflow.dags_test_log(plan.dag_id).read_text()
    assert "marketpipe database from Airflow connection marketpipe_postgres" in output
    assert all(key not in output for key in SANDBOX_KEYS.values())


def test_stocks_then_fundamentals_dags_fill_universe_and_balance_sheets(
    local_airflow: LocalAirflow, pg_dsn: str, sandbox: SandboxHandle
) -> None:
    airflow = _airflow_for(local_airflow, pg_dsn, sandbox, quotas=False)
    stocks = _dag_of("sp500_companies")
    _assert_run_landed(airflow, _run_dag(airflow, stocks.dag_id), pg_dsn, stocks, ("sp500_companies",))

    fundamentals = _dag_of("balance_sheet")
    assert fundamentals.group == "fundamentals"
    run = _run_dag(airflow, fundamentals.dag_id)
    _assert_run_landed(airflow, run, pg_dsn, fundamentals, ("balance_sheet",))
    with psycopg.connect(pg_dsn) as conn:
        symbols = conn.execute("SELECT count(DISTINCT symbol) FROM balance_sheet").fetchone()
    assert symbols is not None and symbols[0] == int(UNIVERSE_LIMIT)


@pytest.mark.parametrize("daily_limit", [1, 0])
def test_quota_exhausted_run_is_partial_not_failed_and_never_retried(
    local_airflow: LocalAirflow, pg_dsn: str, sandbox: SandboxHandle, daily_limit: int
) -> None:
    airflow = _airflow_for(local_airflow, pg_dsn, sandbox)
    # The universe to work through, filled by the engine directly (the stocks DAG has its own test).
    seeded = run_dataset(
        "sp500_companies",
        settings=Settings(_env_file=None, database_url=pg_dsn, sandbox=True, sandbox_port=sandbox.port),  # type: ignore[call-arg]
    )
    assert seeded.status == "ok", seeded

    # Alpha Vantage allows `daily_limit` calls today, then answers with its quota "Information" body.
    sandbox.admin.set_provider_quota(
        "alpha_vantage", windows=[{"name": "day", "limit": daily_limit, "seconds": 86400}]
    )
    plan = _dag_of("balance_sheet")
    run = _run_dag(airflow, plan.dag_id)

    # Every Alpha Vantage dataset of the DAG stops cleanly: the DAG run succeeds, no task retried.
    assert run.state == "success", run
    av_only = [t for t in plan.tasks if set(t.providers) == {"alpha_vantage"}]
    assert "balance_sheet" in {t.dataset for t in av_only}
    for planned in plan.tasks:
        task = run.tasks[planned.task_id]
        assert task.state in {"success", "skipped"} and task.try_number == 1, task
    for planned in av_only:
        task = run.tasks[planned.task_id]
        ledger = _ledger(pg_dsn, planned.dataset)
        assert [row["status"] for row in ledger] == ["partial"], ledger
        row = ledger[0]
        assert row["items_pending"] > 0 and row["resume_at"] is not None, row
        # Work done → success; nothing done → skipped. Never failed.
        assert task.state == ("success" if row["items_done"] else "skipped"), (task, row)
        summary = airflow.xcom(plan.dag_id, run.run_id, planned.task_id)
        assert summary["status"] == "partial" and summary["resume_at"] is not None
    # The day's budget was used, and not one call more; the rest were refused once, then not tried.
    assert sandbox.admin.counters("alpha_vantage")["totals"]["served"] == daily_limit
    assert sandbox.admin.refused("alpha_vantage") == 1
    if daily_limit == 0:
        assert {run.tasks[t.task_id].state for t in av_only} == {"skipped"}


def test_missing_keys_fail_the_task_once_without_retry(
    local_airflow: LocalAirflow, pg_dsn: str, sandbox: SandboxHandle
) -> None:
    plan = _dag_of("cpi")
    # The database through the seed's connection id this time (the fallback after marketpipe_postgres).
    airflow = _airflow_for(local_airflow, pg_dsn, sandbox, keys={}, db_conn_id="postgres_default")
    run = _run_dag(airflow, plan.dag_id)

    assert run.state == "failed"
    for planned in plan.tasks:
        if planned.pool is None:
            continue  # a derived dataset needs no key
        task = run.tasks[planned.task_id]
        assert (task.state, task.try_number) == ("failed", 1), task
        ledger = _ledger(pg_dsn, planned.dataset)
        assert [(r["status"], r["error_class"]) for r in ledger] == [("failed", "ConfigurationError")]
    assert sandbox.admin.calls() == 0


def test_provider_outage_fails_transiently_and_airflow_retries_with_backoff(
    local_airflow: LocalAirflow, pg_dsn: str, sandbox: SandboxHandle
) -> None:
    plan = _dag_of("sp500_companies")
    # The S&P 500 list page answers 503 and the fallback (FMP) has no key: the run fails transiently.
    airflow = _airflow_for(local_airflow, pg_dsn, sandbox, keys={})
    airflow.extra_env["MARKETPIPE_AIRFLOW_RETRIES"] = "1"  # two tries keep the test short
    sandbox.admin.add_fault("sp500_list", "server_error", status=503)
    run = _run_dag(airflow, plan.dag_id)

    assert run.state == "failed", run
    task = run.tasks["sp500_companies"]
    assert (task.state, task.try_number) == ("failed", 2), task  # retried once, then gave up
    ledger = _ledger(pg_dsn, "sp500_companies")
    assert [(r["status"], r["error_class"]) for r in ledger] == [("failed", "TransientError")] * 2
    assert sandbox.admin.calls("sp500_list") >= 2
