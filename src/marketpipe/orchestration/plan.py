"""Which DAGs exist: one per (dataset group, schedule), each with one task per dataset.

Pure functions over the dataset registry, no Airflow import, so the DAG ids, schedules and pools can be
listed (``marketpipe airflow dags``) and tested without an Airflow installation.

DAG id rule (stable, documented in docs/airflow.md): ``marketpipe_<group>_<cadence>`` where ``cadence``
is derived from the schedule only — ``@daily`` → ``daily``, ``0 6 * * *`` → ``daily_0600``,
``0 6 * * 1`` → ``weekly_mon_0600``, ``15 21 * * 1-5`` → ``weekdays_2115``, ``15 4 1 * *`` →
``monthly_d01_0415``, ``30 * * * *`` → ``hourly_m30``, ``0 3,15 * * *`` → ``daily_0300and1500``,
``0 */6 * * *`` → ``every_6h_m00``, ``*/15 * * * *`` → ``every_15min``; anything else → ``cron_`` + the
expression with ``*`` → ``x``, ``/`` → ``every``, ``,`` → ``and``, ``-`` → ``to``. Adding a dataset never
renames an existing DAG: a dataset with a new schedule in an existing group gets a DAG of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

#: Prefix of every DAG id and pool name, so marketpipe objects are easy to find in a shared Airflow.
PREFIX = "marketpipe"

#: Order in which groups are listed (unknown groups follow alphabetically).
GROUP_ORDER: tuple[str, ...] = ("stocks", "fundamentals", "calendars", "macro", "news", "social", "crypto")

_PRESET_CADENCE = {
    "@hourly": "hourly",
    "@daily": "daily",
    "@midnight": "daily",
    "@weekly": "weekly",
    "@monthly": "monthly",
    "@quarterly": "quarterly",
    "@yearly": "yearly",
    "@annually": "yearly",
    "@once": "once",
}
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")

#: Slots of a pool whose provider is not in the catalogue. A provider's own slots are its
#: ``Provider.pool_slots`` (providers/<name>): quotas themselves are enforced by the quota ledger in
#: PostgreSQL (across processes); pools only stop a burst of tasks from queueing on the same free-tier
#: account, where extra parallelism buys nothing but spent budget and 429s.
DEFAULT_POOL_SLOTS = 1

#: Pseudo providers that call no external API (datasets derived from other tables): no pool.
LOCAL_PROVIDERS = frozenset({"derived"})


class DatasetLike(Protocol):
    """The part of ``marketpipe.engine.registry.DatasetSpec`` the orchestration layer reads."""

    @property
    def name(self) -> str: ...
    @property
    def group(self) -> str: ...
    @property
    def schedule(self) -> str: ...
    @property
    def providers(self) -> tuple[str, ...]: ...
    @property
    def description(self) -> str: ...


@dataclass(frozen=True)
class TaskPlan:
    """One Airflow task: run one dataset, in its first provider's pool, after its upstream datasets."""

    task_id: str
    dataset: str
    pool: str | None
    providers: tuple[str, ...]
    description: str
    #: Datasets of the same DAG this one reads (e.g. the symbol universe): they run first.
    upstream: tuple[str, ...] = ()


@dataclass(frozen=True)
class DagPlan:
    """One Airflow DAG: the datasets of one group that share one schedule."""

    dag_id: str
    group: str
    schedule: str
    tasks: tuple[TaskPlan, ...]

    @property
    def description(self) -> str:
        names = ", ".join(t.dataset for t in self.tasks)
        return f"marketpipe {self.group} datasets on {self.schedule}: {names}"


class PlanError(ValueError):
    """The registry cannot be turned into DAGs (a bad schedule, an id clash)."""


def cadence_label(schedule: str) -> str:
    """A short, stable, id-safe label for a cron expression or preset (see module docstring)."""
    text = " ".join(schedule.strip().split())
    if not text:
        raise PlanError("empty schedule")
    if text.startswith("@"):
        if text not in _PRESET_CADENCE:
            raise PlanError(f"unknown schedule preset {text!r}")
        return _PRESET_CADENCE[text]
    fields = text.split(" ")
    if len(fields) != 5:
        raise PlanError(f"schedule {text!r} is not a 5-field cron expression")
    minute, hour, dom, month, dow = fields
    simple = minute.isdigit() and hour.isdigit()
    hhmm = f"{int(hour):02d}{int(minute):02d}" if simple else ""
    if simple and dom == "*" and month == "*" and dow == "*":
        return f"daily_{hhmm}"
    if simple and dom == "*" and month == "*" and dow.isdigit() and int(dow) <= 7:
        return f"weekly_{_WEEKDAYS[int(dow) % 7]}_{hhmm}"
    if simple and dom == "*" and month == "*" and dow == "1-5":
        return f"weekdays_{hhmm}"
    if simple and dom.isdigit() and month == "*" and dow == "*":
        return f"monthly_d{int(dom):02d}_{hhmm}"
    every_day = dom == "*" and month == "*" and dow == "*"
    if minute.isdigit() and hour == "*" and every_day:
        return f"hourly_m{int(minute):02d}"
    if minute.isdigit() and re.fullmatch(r"\d+(,\d+)+", hour) and every_day:
        return "daily_" + "and".join(f"{int(h):02d}{int(minute):02d}" for h in hour.split(","))
    if minute.isdigit() and re.fullmatch(r"\*/\d+", hour) and every_day:
        return f"every_{int(hour[2:])}h_m{int(minute):02d}"
    if re.fullmatch(r"\*/\d+", minute) and hour == "*" and every_day:
        return f"every_{int(minute[2:])}min"
    slug = (
        text.replace("*", "x").replace("/", "every").replace(",", "and").replace("-", "to").replace(" ", "_")
    )
    slug = re.sub(r"[^A-Za-z0-9_]", "", slug)
    return f"cron_{slug}"


def dag_id_for(group: str, schedule: str) -> str:
    """The DAG id of a (group, schedule): ``marketpipe_<group>_<cadence>``."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", group):
        raise PlanError(f"group {group!r} is not a lowercase identifier")
    return f"{PREFIX}_{group}_{cadence_label(schedule)}"


def pool_name(provider: str) -> str:
    """The Airflow pool that caps concurrent tasks against ``provider``."""
    return f"{PREFIX}_{provider}"


def pool_slots(provider: str) -> int:
    """How many tasks may call ``provider`` at the same time (its catalogue entry's ``pool_slots``)."""
    from marketpipe.providers.catalogue import by_name

    spec = by_name().get(provider)
    return spec.pool_slots if spec is not None else DEFAULT_POOL_SLOTS


def _first_pool(providers: Sequence[str]) -> str | None:
    external = [p for p in providers if p not in LOCAL_PROVIDERS]
    return pool_name(external[0]) if external else None


def _group_rank(group: str) -> tuple[int, str]:
    return (GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER), group)


def plan_dags(datasets: Iterable[DatasetLike] | None = None) -> list[DagPlan]:
    """Group datasets into DAG plans, ordered by group then DAG id; tasks ordered by dataset name.

    ``datasets`` defaults to the engine's registry (imported here, not at module import, so listing
    plans in a unit test needs no engine).
    """
    if datasets is None:
        from marketpipe.engine.registry import all_datasets

        datasets = all_datasets()
    buckets: dict[tuple[str, str], list[DatasetLike]] = {}
    for spec in datasets:
        schedule = " ".join(spec.schedule.strip().split())
        buckets.setdefault((spec.group, schedule), []).append(spec)
    plans: list[DagPlan] = []
    seen: dict[str, tuple[str, str]] = {}
    for (group, schedule), specs in buckets.items():
        dag_id = dag_id_for(group, schedule)
        if dag_id in seen:
            raise PlanError(f"schedules {seen[dag_id][1]!r} and {schedule!r} both map to DAG id {dag_id}")
        seen[dag_id] = (group, schedule)
        names = {spec.name for spec in specs}
        tasks = tuple(
            TaskPlan(
                task_id=spec.name,
                dataset=spec.name,
                pool=_first_pool(spec.providers),
                providers=tuple(spec.providers),
                description=spec.description,
                # Only dependencies inside this DAG become edges; others are fed by their own DAG.
                upstream=tuple(d for d in getattr(spec, "depends_on", ()) if d in names),
            )
            for spec in sorted(specs, key=lambda s: s.name)
        )
        plans.append(DagPlan(dag_id=dag_id, group=group, schedule=schedule, tasks=tasks))
    plans.sort(key=lambda p: (*_group_rank(p.group), p.dag_id))
    return plans


def pool_providers() -> list[str]:
    """Providers that get a pool: every provider of the catalogue, so a new dataset needs no new pool."""
    from marketpipe.providers.catalogue import provider_names

    return sorted(provider_names())


def providers_in(plans: Sequence[DagPlan]) -> list[str]:
    """Every external provider some task uses (sorted)."""
    return sorted(
        {p for plan in plans for task in plan.tasks for p in task.providers if p not in LOCAL_PROVIDERS}
    )
