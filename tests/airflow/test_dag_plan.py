"""DAG planning from the registry: ids, schedules, grouping and pools (pure logic)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from marketpipe.orchestration.plan import (
    PlanError,
    cadence_label,
    dag_id_for,
    plan_dags,
    pool_name,
    providers_in,
)


@dataclass(frozen=True)
class Spec:
    """Stand-in for engine.registry.DatasetSpec in pure planning tests."""

    name: str
    group: str
    schedule: str
    providers: tuple[str, ...] = ("alpha_vantage",)
    description: str = ""
    table: str = ""


@pytest.mark.parametrize(
    ("schedule", "label"),
    [
        ("@daily", "daily"),
        ("@weekly", "weekly"),
        ("@monthly", "monthly"),
        ("@yearly", "yearly"),
        ("@annually", "yearly"),
        ("0 6 * * *", "daily_0600"),
        ("0  6 * *  *", "daily_0600"),
        ("30 * * * *", "hourly_m30"),
        ("0 6 * * 1", "weekly_mon_0600"),
        ("0 0 * * 0", "weekly_sun_0000"),
        ("15 4 1 * *", "monthly_d01_0415"),
        ("0 3,15 * * *", "daily_0300and1500"),
        ("0 */6 * * *", "every_6h_m00"),
        ("*/15 * * * *", "every_15min"),
        ("0 9 1,15 * *", "cron_0_9_1and15_x_x"),
        ("15 21 * * 1-5", "weekdays_2115"),
        ("0 9 * * 1-6", "cron_0_9_x_x_1to6"),
    ],
)
def test_cadence_label_is_stable_and_id_safe(schedule: str, label: str) -> None:
    assert cadence_label(schedule) == label


@pytest.mark.parametrize("schedule", ["", "@fortnightly", "0 6 * *", "not a cron at all x"])
def test_cadence_label_rejects_unusable_schedules(schedule: str) -> None:
    with pytest.raises(PlanError):
        cadence_label(schedule)


def test_group_with_two_schedules_becomes_two_dags() -> None:
    plans = plan_dags(
        [
            Spec("cpi", "macro", "@monthly"),
            Spec("inflation", "macro", "@yearly"),
            Spec("federal_funds_rate", "macro", "@monthly", providers=("fred", "alpha_vantage")),
            Spec("company_overview", "stocks", "0 6 * * *"),
        ]
    )
    assert [(p.dag_id, p.schedule) for p in plans] == [
        ("marketpipe_stocks_daily_0600", "0 6 * * *"),
        ("marketpipe_macro_monthly", "@monthly"),
        ("marketpipe_macro_yearly", "@yearly"),
    ]
    monthly = plans[1]
    assert [t.task_id for t in monthly.tasks] == ["cpi", "federal_funds_rate"]
    # A task waits in the pool of its first (preferred) provider.
    assert [t.pool for t in monthly.tasks] == ["marketpipe_alpha_vantage", "marketpipe_fred"]


def test_adding_a_dataset_never_renames_existing_dags() -> None:
    before = {p.dag_id for p in plan_dags([Spec("cpi", "macro", "@monthly")])}
    after = {
        p.dag_id
        for p in plan_dags([Spec("cpi", "macro", "@monthly"), Spec("treasury_yield", "macro", "0 7 2 * *")])
    }
    assert before <= after
    assert after - before == {"marketpipe_macro_monthly_d02_0700"}


def test_provider_less_dataset_uses_default_pool_and_pools_cover_every_provider() -> None:
    plans = plan_dags(
        [
            Spec("sp500_snapshot", "stocks", "@daily", providers=()),
            Spec("x", "news", "@daily", ("fmp", "fred")),
        ]
    )
    tasks = {t.task_id: t for p in plans for t in p.tasks}
    assert tasks["sp500_snapshot"].pool is None
    assert providers_in(plans) == ["fmp", "fred"]
    assert pool_name("fmp") == "marketpipe_fmp"


def test_bad_group_name_is_refused() -> None:
    with pytest.raises(PlanError):
        dag_id_for("Stocks & more", "@daily")


@dataclass(frozen=True)
class DependentSpec(Spec):
    depends_on: tuple[str, ...] = ()


def test_dependencies_inside_a_dag_become_edges_and_derived_datasets_get_no_pool() -> None:
    plans = plan_dags(
        [
            DependentSpec("sp500_companies", "stocks", "@daily", providers=("sp500_list",)),
            DependentSpec(
                "top50", "stocks", "@daily", providers=("derived",), depends_on=("sp500_companies",)
            ),
            DependentSpec("company_overview", "stocks", "0 6 * * *", depends_on=("sp500_companies",)),
        ]
    )
    tasks = {t.task_id: t for p in plans for t in p.tasks}
    assert tasks["top50"].upstream == ("sp500_companies",)
    assert tasks["top50"].pool is None
    # Another DAG's dataset is fed by its own schedule: no cross-DAG edge.
    assert tasks["company_overview"].upstream == ()
    assert providers_in(plans) == ["alpha_vantage", "sp500_list"]
