"""marketpipe DAGs, generated from the dataset registry.

One DAG per (dataset group, schedule) — ``marketpipe_<group>_<cadence>``, e.g. ``marketpipe_macro_monthly``
— with one task per dataset. Each task runs the dataset through the same engine as ``marketpipe
collect``, in the Airflow pool of its first provider (``marketpipe_<provider>``). Adding a dataset to
the registry adds its task (and, for a new schedule, its DAG); nothing here names a table.

Parsing this file is cheap: it reads the in-memory registry and touches no database or network.
See docs/airflow.md for settings, pools, outcomes and deployment.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, dag, task

from marketpipe.orchestration.airflow_tasks import run_dataset_task, task_defaults
from marketpipe.orchestration.plan import DagPlan, plan_dags

START_DATE = pendulum.datetime(2025, 1, 1, tz="UTC")

# Retry overrides for tests and demos; production keeps the documented retries and backoff.
_RETRY_DELAY_S = os.environ.get("MARKETPIPE_AIRFLOW_RETRY_DELAY_S")
_RETRIES = os.environ.get("MARKETPIPE_AIRFLOW_RETRIES")
TASK_DEFAULTS = task_defaults(
    retry_delay=timedelta(seconds=float(_RETRY_DELAY_S)) if _RETRY_DELAY_S else None,
    retries=int(_RETRIES) if _RETRIES else None,
)


def build_dag(plan: DagPlan) -> DAG:
    """The Airflow DAG of one plan: independent tasks, one per dataset."""

    @dag(
        dag_id=plan.dag_id,
        schedule=plan.schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,  # a dataset's cursor advances run after run, never two at once
        description=plan.description,
        doc_md=__doc__,
        tags=["marketpipe", plan.group],
    )
    def marketpipe_dag() -> None:
        runs = {}
        for planned in plan.tasks:
            run = task(
                task_id=planned.task_id,
                pool=planned.pool or "default_pool",
                doc_md=planned.description or None,
                # Upstream datasets order the run but do not gate it: on their failure this dataset
                # still runs on the last good data, and the failure stays visible on its own task.
                trigger_rule="all_done",
                **TASK_DEFAULTS,
            )(run_dataset_task)
            runs[planned.task_id] = run(dataset=planned.dataset)
        for planned in plan.tasks:
            for upstream in planned.upstream:
                runs[upstream] >> runs[planned.task_id]

    return marketpipe_dag()


for _plan in plan_dags():
    globals()[_plan.dag_id] = build_dag(_plan)
