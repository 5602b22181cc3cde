"""The dataset registry: every table is declared once, as a :class:`DatasetSpec` in its own module
under :mod:`marketpipe.datasets` (``DATASET = DatasetSpec(...)``).

Declaring a dataset = naming its table, merge key and mode, schedule, providers in priority order,
the items it works through (a symbol universe, a plan's queries, or one item for a full refresh) and
one fetch function per provider that turns an item into rows with the provider's pure parsers.
Discovery imports the dataset modules only — no database or network at import.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, Protocol

from marketpipe.http.errors import ConfigurationError

if TYPE_CHECKING:
    import psycopg

    from marketpipe.config import Settings
    from marketpipe.db import MergeResult
    from marketpipe.engine.cursor import ItemState
    from marketpipe.http.types import ApiRequest, Reply

#: The pseudo provider of datasets derived from other tables (no external call).
DERIVED = "derived"
#: The item of a dataset that refreshes everything with one plan (a calendar, a whole page).
ALL = "all"

Row = dict[str, Any]


class RunContext(Protocol):
    """What a dataset's functions can use during a run."""

    dataset: str
    provider: str
    run_id: int
    logical_date: date
    settings: Settings

    def now(self) -> datetime: ...

    def call(self, request: ApiRequest, *, key_index: int | None = None) -> Reply: ...

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple[Any, ...]]: ...

    def item_state(self, item: str) -> ItemState | None: ...

    @property
    def universe_limit(self) -> int | None: ...


@dataclass(frozen=True)
class ItemResult:
    """Rows for one item plus an optional new cursor state (``minId``, ``since_id`` …)."""

    rows: list[Row]
    state: dict[str, Any] | None = None


FetchFn = Callable[[RunContext, str], "list[Row] | ItemResult"]
ItemsFn = Callable[[RunContext], Sequence[str]]
#: Work in the item's transaction after its rows merged. It may return a MergeResult for rows it wrote
#: itself (a second table), which the run adds to its counts; None otherwise.
AfterMergeFn = Callable[
    ["psycopg.Connection", RunContext, str, "list[Row]", "MergeResult"], "MergeResult | None"
]


def single_item(ctx: RunContext) -> Sequence[str]:
    """The items of a full-refresh dataset: one."""
    return (ALL,)


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset = one table. The first six fields are the contract the Airflow DAGs read."""

    name: str  # unique, usually the table name
    table: str
    group: str  # "stocks", "fundamentals", "calendars", "macro" (later "news", "social", "crypto")
    schedule: str  # cron string or Airflow preset
    providers: tuple[str, ...]  # priority order; () for datasets derived from other tables
    description: str
    key: tuple[str, ...] = ()
    fetch: Mapping[str, FetchFn] = field(default_factory=dict)
    items: ItemsFn = single_item
    merge: Literal["update", "nothing"] = "update"
    touch: str | None = None  # column set to now() when a row changes (fetched_at / updated_at)
    #: An item is due again when it completed longer ago than this (None: due on every run).
    refresh_after: timedelta | None = None
    #: Snapshot history: a batch id is taken once per run from this sequence and put in ``batch_id``.
    batch_sequence: str | None = None
    after_merge: AfterMergeFn | None = None
    depends_on: tuple[str, ...] = ()
    progressive: bool = False  # works through a universe a few items per run
    #: At most this many items per run, leaving the rest of a shared key's daily budget to others.
    max_items_per_run: int | None = None

    def fetcher(self, provider: str) -> FetchFn:
        try:
            return self.fetch[provider]
        except KeyError:
            raise ConfigurationError(
                f"dataset {self.name}: no fetch function for provider {provider}"
            ) from None


class UnknownDatasetError(ConfigurationError, KeyError):
    """No dataset has this name (or no dataset is in this group)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown dataset"


@lru_cache(maxsize=1)
def _discover() -> dict[str, DatasetSpec]:
    import marketpipe.datasets as package

    found: dict[str, DatasetSpec] = {}
    for module_info in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + "."):
        module = importlib.import_module(module_info.name)
        spec = getattr(module, "DATASET", None)
        if isinstance(spec, DatasetSpec):
            if spec.name in found:
                raise ConfigurationError(f"dataset {spec.name} is declared twice ({module_info.name})")
            found[spec.name] = spec
    return dict(sorted(found.items()))


def all_datasets() -> list[DatasetSpec]:
    """Every declared dataset, by name."""
    return list(_discover().values())


def get_dataset(name: str) -> DatasetSpec:
    """The dataset called ``name`` (:class:`UnknownDatasetError` otherwise)."""
    datasets = _discover()
    try:
        return datasets[name]
    except KeyError:
        raise UnknownDatasetError(f"unknown dataset {name!r}; known: {', '.join(datasets)}") from None


def datasets_in_group(group: str) -> list[DatasetSpec]:
    """The datasets of ``group`` (empty list for a group without datasets)."""
    return [spec for spec in _discover().values() if spec.group == group]


def groups() -> list[str]:
    return sorted({spec.group for spec in _discover().values()})


def in_dependency_order(specs: Sequence[DatasetSpec]) -> list[list[DatasetSpec]]:
    """Waves of datasets: each wave depends only on earlier waves (or on datasets not selected)."""
    selected = {spec.name: spec for spec in specs}
    done: set[str] = set()
    waves: list[list[DatasetSpec]] = []
    remaining = dict(selected)
    while remaining:
        wave = [
            spec
            for spec in remaining.values()
            if all(dep in done or dep not in selected for dep in spec.depends_on)
        ]
        if not wave:
            raise ConfigurationError(f"dependency cycle among {', '.join(remaining)}")
        waves.append(wave)
        for spec in wave:
            done.add(spec.name)
            del remaining[spec.name]
    return waves
