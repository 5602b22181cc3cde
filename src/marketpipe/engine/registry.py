"""The dataset registry: every table is declared once, as a :class:`DatasetSpec` in its own module
under :mod:`marketpipe.datasets` (``DATASET = DatasetSpec(...)``).

Declaring a dataset = naming its table, merge key and mode, schedule, providers in priority order,
the items it works through (a symbol universe, a plan's queries, or one item for a full refresh) and
per provider either a :class:`Pipe` (a declared ``request`` plus a pure ``parse`` of the decoded reply —
the engine owns the call, the decoding, the validation and the accounting) or, for multi-call and
derived datasets, a ``fetch`` function that turns an item into rows itself.
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

    @property
    def data_interval_start(self) -> datetime:
        """The start of the run's data interval (Airflow's ``data_interval_start``; for a run without
        one, the start of the schedule slot of the logical instant). Key periodic rows on this, never
        on the wall clock: a rerun or a late task then writes the same slot."""
        ...

    @property
    def data_interval_end(self) -> datetime: ...


@dataclass(frozen=True)
class ItemResult:
    """Rows for one item plus an optional new cursor state (``minId``, ``since_id`` …)."""

    rows: list[Row]
    state: dict[str, Any] | None = None


@dataclass(frozen=True)
class Item:
    """What a pure parser may know about the item it parses (no connection, no clock)."""

    name: str
    provider: str
    logical_date: date
    data_interval_start: datetime
    data_interval_end: datetime
    #: The item's cursor state from its last completion (``since_id``, ``minId`` …); empty the first time.
    state: Mapping[str, Any] = field(default_factory=dict)
    #: Whatever the dataset's ``request`` function worked out for the parse (a window, a user id …).
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Parsed:
    """What a pure parse made of one reply: rows to store, rows it could not use (with reasons), and
    the fields it expected but did not find / found but did not know (schema drift).

    ``records`` is how many records the reply carried (None: the parser does not say); a reply with
    records, no rows and missing fields is reported as :class:`~marketpipe.http.errors.SchemaDrift`.
    """

    rows: list[Row] = field(default_factory=list)
    rejected: list[tuple[str, Any]] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)
    new: set[str] = field(default_factory=set)
    records: int | None = None
    state: dict[str, Any] | None = None


@dataclass(frozen=True)
class Request:
    """A declared call plus the values the parse needs from the request step (``Item.context``)."""

    api: ApiRequest
    context: Mapping[str, Any] = field(default_factory=dict)
    key_index: int | None = None


RequestFn = Callable[[RunContext, str], "ApiRequest | Request"]
ParseFn = Callable[[Any, Item], "Parsed | list[Row]"]


@dataclass(frozen=True)
class Pipe:
    """The explicit one-call pipeline of a dataset for one provider: ``request(ctx, item)`` declares
    the call, the engine sends it, classifies the reply and decodes the body once (JSON → objects,
    CSV/HTML/text → str), then ``parse(body, item)`` — pure — turns it into :class:`Parsed`."""

    request: RequestFn
    parse: ParseFn


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
    #: Per provider, the explicit request/parse pipeline (preferred over ``fetch`` for one-call items).
    pipeline: Mapping[str, Pipe] = field(default_factory=dict)
    #: The length of the schedule slot periodic rows are keyed on (a run without a data interval gets
    #: the slot of its logical instant). None: a day.
    slot: timedelta | None = None

    def fetcher(self, provider: str) -> FetchFn:
        if provider in self.pipeline and provider not in self.fetch:
            raise ConfigurationError(f"dataset {self.name}: {provider} is served by its pipeline")
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
