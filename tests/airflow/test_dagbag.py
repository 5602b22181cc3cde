"""The dags/ folder as Airflow 3 sees it: a DagBag with zero import errors and the planned DAGs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from marketpipe.engine.registry import all_datasets
from marketpipe.orchestration.local import REPO_DAGS_FOLDER, LocalAirflow, pools_import_json
from marketpipe.orchestration.plan import plan_dags, pool_name, pool_providers, providers_in

# Runs in a fresh interpreter with the Airflow environment. The network is cut off first: building
# the DAGs must not open any connection (no database, no provider, no sandbox at parse time).
_DAGBAG_SCRIPT = textwrap.dedent(
    """
    import json, socket, sys, time

    def _refuse(*args, **kwargs):
        raise RuntimeError("network access while parsing DAG files")

    socket.socket.connect = _refuse
    socket.socket.connect_ex = _refuse
    socket.create_connection = _refuse

    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    started = time.monotonic()
    bag = DagBag(dag_folder=sys.argv[1])
    elapsed = time.monotonic() - started
    out = {"errors": {str(k): str(v) for k, v in bag.import_errors.items()}, "seconds": elapsed, "dags": {}}
    for dag_id, dag in bag.dags.items():
        DagSerialization.to_dict(dag)  # what the DAG processor stores; must not raise
        out["dags"][dag_id] = {
            "schedule": dag.schedule if isinstance(dag.schedule, str) else repr(dag.schedule),
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "tags": sorted(dag.tags),
            "tasks": {
                t.task_id: {
                    "pool": t.pool,
                    "retries": t.retries,
                    "exponential": bool(t.retry_exponential_backoff),
                    "has_retry_policy": t.retry_policy is not None,
                    "op_kwargs": t.op_kwargs,
                    "upstream": sorted(t.upstream_task_ids),
                    "trigger_rule": str(t.trigger_rule),
                }
                for t in dag.tasks
            },
        }
    print("DAGBAG_JSON=" + json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def dagbag(airflow_home: Any) -> dict[str, Any]:
    local = LocalAirflow(home=airflow_home, dags_folder=REPO_DAGS_FOLDER, inherit_marketpipe_env=False)
    proc = subprocess.run(
        [sys.executable, "-c", _DAGBAG_SCRIPT, str(REPO_DAGS_FOLDER)],
        env=local.env(),
        cwd=airflow_home,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("DAGBAG_JSON=")), None)
    assert line is not None, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(line.removeprefix("DAGBAG_JSON="))  # type: ignore[no-any-return]


def test_dagbag_imports_without_errors_or_network(dagbag: dict[str, Any]) -> None:
    assert dagbag["errors"] == {}
    assert dagbag["dags"], "no DAG was built from the registry"
    # Parsing happens every few seconds in the DAG processor: it must stay cheap.
    assert dagbag["seconds"] < 10


def test_every_dataset_has_exactly_one_task_in_its_groups_dag(dagbag: dict[str, Any]) -> None:
    plans = plan_dags()
    assert sorted(dagbag["dags"]) == sorted(p.dag_id for p in plans)
    where: dict[str, str] = {}
    for dag_id, dag in dagbag["dags"].items():
        for task_id, task in dag["tasks"].items():
            assert task_id not in where, f"{task_id} in {where.get(task_id)} and {dag_id}"
            where[task_id] = dag_id
            assert task["op_kwargs"] == {"dataset": task_id}
    specs = all_datasets()
    assert sorted(where) == sorted(s.name for s in specs)
    for spec in specs:
        dag = dagbag["dags"][where[spec.name]]
        assert dag["schedule"] == " ".join(spec.schedule.split())
        assert spec.group in dag["tags"]
        assert where[spec.name].startswith(f"marketpipe_{spec.group}_")


def test_seed_schedules_give_the_documented_dag_ids(dagbag: dict[str, Any]) -> None:
    # docs/seed.md §2a schedules of datasets that keep them, and the DAG each lands in.
    seed = {
        "sp500_companies": ("marketpipe_stocks_weekly_mon_0600", "0 6 * * 1"),
        "company_overview": ("marketpipe_fundamentals_daily_0600", "0 6 * * *"),
        "balance_sheet": ("marketpipe_fundamentals_weekly", "@weekly"),
        "earnings_calendar": ("marketpipe_calendars_monthly", "@monthly"),
        "ipo_calendar": ("marketpipe_calendars_monthly", "@monthly"),
        "cpi": ("marketpipe_macro_monthly", "@monthly"),
        "federal_funds_rate": ("marketpipe_macro_monthly", "@monthly"),
        "treasury_yield": ("marketpipe_macro_monthly", "@monthly"),
    }
    for dataset, (dag_id, schedule) in seed.items():
        assert dataset in dagbag["dags"][dag_id]["tasks"], f"{dataset} not in {dag_id}"
        assert dagbag["dags"][dag_id]["schedule"] == schedule


def test_tasks_use_provider_pools_and_retry_only_transient_failures(dagbag: dict[str, Any]) -> None:
    planned = {t.task_id: t for p in plan_dags() for t in p.tasks}
    for dag in dagbag["dags"].values():
        assert dag["catchup"] is False
        assert dag["max_active_runs"] == 1
        for task_id, task in dag["tasks"].items():
            assert task["pool"] == (planned[task_id].pool or "default_pool")
            if planned[task_id].pool:
                assert task["pool"] == pool_name(planned[task_id].pool.removeprefix("marketpipe_"))
            assert task["retries"] >= 1 and task["exponential"] and task["has_retry_policy"]
            assert task["upstream"] == sorted(planned[task_id].upstream)


def test_deploy_pools_file_matches_the_registry() -> None:
    # deploy/airflow/pools.json is what a cluster imports; regenerate with `marketpipe airflow pools --json`.
    committed = (REPO_DAGS_FOLDER.parent / "deploy" / "airflow" / "pools.json").read_text()
    assert json.loads(committed) == json.loads(pools_import_json(pool_providers()))
    assert {pool_name(p) for p in providers_in(plan_dags())} <= set(json.loads(committed))
