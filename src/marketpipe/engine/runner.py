"""Running one dataset: plan the due items → call through the provider session → parse → merge the
item's rows and advance its cursor in one transaction → record the run.

Status semantics (the Airflow DAGs rely on them):

- every due item done → ``ok``;
- quota exhausted on every key of every usable provider → ``partial`` with ``resume_at`` (never raises);
- some items failed, others done → ``partial`` (the failed items stay due, first in line);
- every attempted item failed → ``failed`` with the dominant error class (``TransientError`` when the
  provider is down: Airflow retries it);
- no usable provider (no keys) → ``failed`` with ``ConfigurationError``.
"""

from __future__ import annotations

import logging
import os
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import psycopg

from marketpipe.config import Settings, get_settings
from marketpipe.db import MergeError, MergeResult, connect, merge_rows
from marketpipe.engine.clock import SYSTEM_CLOCK, Clock
from marketpipe.engine.cursor import ItemCursor, ItemState
from marketpipe.engine.drift import FieldBaselines, Shape, shape_of
from marketpipe.engine.quota import QuotaLedger
from marketpipe.engine.registry import (
    DERIVED,
    DatasetSpec,
    Item,
    ItemResult,
    Parsed,
    Pipe,
    Request,
    Row,
    get_dataset,
)
from marketpipe.engine.runs import RunLedger
from marketpipe.engine.session import ProviderSession, RetryPolicy
from marketpipe.engine.validate import ColumnRule, Rejected, table_rules, validate_rows
from marketpipe.http.client import HttpClient
from marketpipe.http.errors import (
    CollectError,
    ConfigurationError,
    InvalidKeyError,
    MalformedItem,
    NotFoundError,
    QuotaExhausted,
    SchemaDrift,
)
from marketpipe.http.types import ApiRequest, QuotaWindow, Reply
from marketpipe.logsetup import bind_log_context, log_context
from marketpipe.providers import get_provider
from marketpipe.providers.base import collecting_drops
from marketpipe.redaction import install_log_redaction, redact

if TYPE_CHECKING:
    from rich.progress import Progress

log = logging.getLogger("marketpipe.engine")

Status = Literal["ok", "partial", "failed"]


@dataclass(frozen=True)
class RunOptions:
    """How to run (beyond Settings): the clock, the universe size, quotas, waits, retries."""

    clock: Clock = SYSTEM_CLOCK
    #: Work on the first N symbols of the universe only (tests, demos).
    universe_limit: int | None = None
    #: Every item is due, fresh or not.
    force: bool = False
    #: False: enforce no quota window and no per-run item cap (the sandbox with quotas off, benchmarks).
    quotas: bool = True
    #: Per-provider replacement of the published windows.
    quota_windows: Mapping[str, tuple[QuotaWindow, ...]] = field(default_factory=dict)
    #: Wait for a window only when it reopens within this many seconds (None: settings.max_quota_wait_s).
    max_wait_s: float | None = None
    timeout_s: float | None = None
    retry: RetryPolicy | None = None
    #: Stop after this many items (a share of the day's budget).
    max_items: int | None = None

    @classmethod
    def from_env(cls, **overrides: Any) -> RunOptions:
        """Defaults from ``MARKETPIPE_COLLECT_UNIVERSE_LIMIT`` / ``MARKETPIPE_COLLECT_QUOTAS``."""
        limit = os.environ.get("MARKETPIPE_COLLECT_UNIVERSE_LIMIT")
        quotas = os.environ.get("MARKETPIPE_COLLECT_QUOTAS", "on").lower() not in ("0", "off", "false", "no")
        options = cls(universe_limit=int(limit) if limit else None, quotas=quotas)
        return replace(options, **overrides)


@dataclass
class RunResult:
    """The outcome of one dataset run (also stored in ``collect_runs``)."""

    dataset: str
    run_id: int
    status: Status
    calls: int
    rows_inserted: int
    rows_updated: int
    error_class: str | None
    message: str
    resume_at: datetime | None
    items_done: int
    items_pending: int
    items_failed: int = 0
    #: Calls that brought no data (quota/throttle/invalid-key replies, transient failures).
    wasted_calls: int = 0
    provider: str | None = None
    errors: dict[str, int] = field(default_factory=dict)
    #: Rows the parser or the validation refused, and how many per reason.
    rows_rejected: int = 0
    rejected_reasons: dict[str, int] = field(default_factory=dict)
    #: Schema drift: fields expected (seen on earlier replies) but missing; fields new on this run.
    drift_missing: list[str] = field(default_factory=list)
    drift_new: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _Context:
    """The :class:`~marketpipe.engine.registry.RunContext` handed to dataset functions."""

    def __init__(
        self,
        spec: DatasetSpec,
        run_id: int,
        logical_date: date,
        settings: Settings,
        options: RunOptions,
        conn: psycopg.Connection,
        cursor: ItemCursor,
        interval: tuple[datetime, datetime],
    ) -> None:
        self.dataset = spec.name
        self.run_id = run_id
        self.logical_date = logical_date
        self.settings = settings
        self.options = options
        self.conn = conn
        self.cursor = cursor
        self.provider = DERIVED
        self.session: ProviderSession | None = None
        self._interval = interval
        #: The shapes of the OK replies of the current item (for the drift check).
        self.shapes: list[Shape] = []

    def now(self) -> datetime:
        return self.options.clock.now()

    @property
    def data_interval_start(self) -> datetime:
        return self._interval[0]

    @property
    def data_interval_end(self) -> datetime:
        return self._interval[1]

    @property
    def universe_limit(self) -> int | None:
        return self.options.universe_limit

    def call(self, request: ApiRequest, *, key_index: int | None = None) -> Reply:
        if self.session is None:
            raise ConfigurationError(f"dataset {self.dataset}: no provider session for calls")
        if request.provider != self.session.name:
            raise ConfigurationError(
                f"dataset {self.dataset}: request for {request.provider} in a {self.session.name} run"
            )
        reply = self.session.call(request, key_index=key_index)
        shape = shape_of(request, reply)
        if shape is not None:
            self.shapes.append(shape)
        return reply

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql.encode(), params or None).fetchall()

    def item_state(self, item: str) -> ItemState | None:
        return self.cursor.state(item)


def data_interval(
    spec: DatasetSpec, logical: datetime | date | None, clock: Clock
) -> tuple[datetime, datetime]:
    """The slot a run without an explicit data interval belongs to: the ``spec.slot`` (default a day)
    containing the logical instant (a date means its midnight UTC; none means now)."""
    if isinstance(logical, datetime):
        moment = logical.astimezone(UTC) if logical.tzinfo else logical.replace(tzinfo=UTC)
    elif isinstance(logical, date):
        moment = datetime(logical.year, logical.month, logical.day, tzinfo=UTC)
    else:
        moment = clock.now().astimezone(UTC)
    # A plain datetime: Airflow hands pendulum instants, whose differences (pendulum Intervals) do
    # not divide by a stdlib timedelta.
    moment = datetime(*moment.timetuple()[:6], moment.microsecond, tzinfo=UTC)
    slot = spec.slot or timedelta(days=1)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    start = epoch + ((moment - epoch) // slot) * slot
    return start, start + slot


def _to_date(value: datetime | date | None, clock: Clock) -> date:
    if value is None:
        return clock.now().date()
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).date()
    return value


def run_dataset(
    name: str,
    *,
    settings: Settings | None = None,
    logical_date: datetime | date | None = None,
    progress: Progress | None = None,
    options: RunOptions | None = None,
    data_interval_start: datetime | None = None,
    data_interval_end: datetime | None = None,
) -> RunResult:
    """Run dataset ``name`` once. Never raises for provider trouble: the status says what happened.

    ``data_interval_start``/``_end`` (Airflow's) are handed to the dataset; without them the run gets
    the slot of ``logical_date`` (see :func:`data_interval`)."""
    install_log_redaction()
    spec = get_dataset(name)
    settings = settings or get_settings()
    options = options or RunOptions.from_env()
    clock = options.clock
    day = _to_date(logical_date, clock)
    interval = data_interval(spec, logical_date, clock)
    if data_interval_start is not None:
        interval = (data_interval_start, data_interval_end or data_interval_start)
    with (
        connect(settings=settings, autocommit=True) as conn,
        connect(settings=settings, autocommit=True) as ledger_conn,
        HttpClient() as http,
    ):
        runs = RunLedger(ledger_conn)
        run_id = runs.start(spec.name, day, clock.now())
        run = _Run(spec, run_id, day, interval, settings, options, conn, ledger_conn, http, progress)
        try:
            with log_context(dataset=spec.name, run_id=run_id):  # logsetup hook (issue 14)
                result = run.execute()
        except CollectError as exc:  # e.g. an empty universe: a typed reason, no traceback needed
            result = run.result("failed", type(exc).__name__, redact(str(exc))[:500])
        except Exception as exc:  # an engine bug must still close the run row with a class and message
            log.exception("run %s of %s crashed", run_id, spec.name)
            result = run.result("failed", type(exc).__name__, redact(str(exc))[:500])
        runs.finish(
            run_id,
            clock.now(),
            provider=result.provider,
            status=result.status,
            calls=result.calls,
            rows_inserted=result.rows_inserted,
            rows_updated=result.rows_updated,
            rows_rejected=result.rows_rejected,
            rejected_reasons=result.rejected_reasons,
            drift_missing=result.drift_missing,
            drift_new=result.drift_new,
            warnings=result.warnings,
            items_done=result.items_done,
            items_failed=result.items_failed,
            items_pending=result.items_pending,
            error_class=result.error_class,
            message=result.message,
            resume_at=result.resume_at,
        )
    log.info(
        "run %s %s: %s via %s, %d calls, +%d/~%d/!%d rows, %d done, %d pending%s",
        run_id, spec.name, result.status, result.provider, result.calls, result.rows_inserted,
        result.rows_updated, result.rows_rejected, result.items_done, result.items_pending,
        f", {result.error_class}: {result.message}" if result.error_class else "",
    )  # fmt: skip
    return result


class _Run:
    def __init__(
        self,
        spec: DatasetSpec,
        run_id: int,
        day: date,
        interval: tuple[datetime, datetime],
        settings: Settings,
        options: RunOptions,
        conn: psycopg.Connection,
        ledger_conn: psycopg.Connection,
        http: HttpClient,
        progress: Progress | None,
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.options = options
        self.conn = conn
        self.http = http
        self.progress = progress
        self.ledger = QuotaLedger(ledger_conn, enabled=options.quotas)
        self.cursor = ItemCursor(conn, spec.name)
        self.ctx = _Context(spec, run_id, day, settings, options, conn, self.cursor, interval)
        self.sessions: list[ProviderSession] = []
        self.merged = MergeResult()
        self.done = 0
        self.errors: Counter[str] = Counter()
        self.last_error = ""
        self.pending = 0
        self.batch_id: int | None = None
        self.not_found: list[str] = []
        self.rejected: Counter[str] = Counter()
        self.drift_missing: set[str] = set()
        self.drift_new: set[str] = set()
        self.warnings: list[str] = []
        self.baselines = FieldBaselines(ledger_conn, spec.name)
        self._rules: dict[str, ColumnRule] | None = None

    # -- result -----------------------------------------------------------------------------------

    @property
    def calls(self) -> int:
        return sum(s.stats.calls for s in self.sessions)

    def result(
        self, status: Status, error_class: str | None, message: str, resume_at: datetime | None = None
    ) -> RunResult:
        return RunResult(
            dataset=self.spec.name,
            run_id=self.ctx.run_id,
            status=status,
            calls=self.calls,
            rows_inserted=self.merged.inserted,
            rows_updated=self.merged.updated,
            error_class=error_class,
            message=message,
            resume_at=resume_at,
            items_done=self.done,
            items_pending=self.pending,
            items_failed=sum(self.errors.values()),
            wasted_calls=sum(s.stats.wasted for s in self.sessions),
            provider=self.ctx.provider if self.ctx.provider != DERIVED or not self.spec.providers else None,
            errors=dict(self.errors),
            rows_rejected=sum(self.rejected.values()),
            rejected_reasons=dict(self.rejected.most_common(20)),
            drift_missing=sorted(self.drift_missing)[:100],
            drift_new=sorted(self.drift_new)[:100],
            warnings=self.warnings[:20],
        )

    # -- providers --------------------------------------------------------------------------------

    def _session(self, provider_name: str) -> ProviderSession:
        provider = get_provider(provider_name)
        return ProviderSession(
            provider,
            self.settings.keys(provider_name),
            base_url=self.settings.base_url(provider.base_url_key),
            http=self.http,
            ledger=self.ledger,
            clock=self.options.clock,
            windows=self.options.quota_windows.get(provider_name),
            max_wait_s=self.options.max_wait_s
            if self.options.max_wait_s is not None
            else self.settings.max_quota_wait_s,
            timeout_s=self.options.timeout_s,
            retry=self.options.retry,
        )

    def _choose_provider(
        self, after: str | None = None
    ) -> tuple[ProviderSession | None, list[str], datetime | None]:
        """The first provider (after ``after``) with keys and budget; else why none, and when."""
        names = list(self.spec.providers)
        if after is not None:
            names = names[names.index(after) + 1 :]
        problems: list[str] = []
        resume: datetime | None = None
        for name in names:
            try:
                session = self._session(name)
            except ConfigurationError as exc:
                problems.append(str(exc))
                continue
            if session.has_budget():
                return session, problems, None
            when = session.resume_at()
            problems.append(f"{name}: every key is spent until {when.isoformat() if when else '?'}")
            resume = when if resume is None or (when and when < resume) else resume
        return None, problems, resume

    # -- the run ----------------------------------------------------------------------------------

    def execute(self) -> RunResult:
        spec = self.spec
        self.ledger.prune(timedelta(days=62), self.ctx.now())  # keep the ledger to recent windows
        if spec.providers:
            session, problems, resume = self._choose_provider()
            if session is None:
                items = self._due_items()
                self.pending = len(items)
                if resume is not None:
                    return self.result("partial", "QuotaExhausted", "; ".join(problems), resume)
                return self.result("failed", "ConfigurationError", "; ".join(problems) or "no provider")
            self._use(session)
        items = self._due_items()
        if self.progress is not None:
            task = self.progress.add_task(spec.name, total=len(items))
        index = 0
        while index < len(items):
            item = items[index]
            try:
                handled = self._run_item(item)
            except QuotaExhausted as exc:
                switched = self._switch_provider()
                if switched:
                    continue  # the same item, with the next provider
                self.pending = len(items) - index
                return self.result("partial", "QuotaExhausted", redact(str(exc)), exc.resume_at)
            except InvalidKeyError as exc:
                if self._switch_provider():
                    continue
                self.pending = len(items) - index
                return self.result("failed", "InvalidKeyError", redact(str(exc)))
            index += 1
            if not handled:
                self.pending += 1
            if self.progress is not None:
                self.progress.advance(task)
        return self._final_status()

    def _use(self, session: ProviderSession) -> None:
        self.sessions.append(session)
        self.ctx.session = session
        self.ctx.provider = session.name
        bind_log_context(provider=session.name)  # logsetup hook (issue 14)

    def _switch_provider(self) -> bool:
        session, _, _ = self._choose_provider(after=self.ctx.provider)
        if session is None:
            return False
        log.info("%s: switching provider %s -> %s", self.spec.name, self.ctx.provider, session.name)
        self._use(session)
        return True

    def _due_items(self) -> list[str]:
        items = list(self.spec.items(self.ctx))
        due = items if self.options.force else self.cursor.due(items, self.spec.refresh_after, self.ctx.now())
        # A dataset's per-run cap shares a key's daily budget; without quotas there is nothing to share.
        spec_cap = self.spec.max_items_per_run if self.options.quotas else None
        caps = [cap for cap in (self.options.max_items, spec_cap) if cap is not None]
        if caps:
            due = due[: min(caps)]
        return due

    def _final_status(self) -> RunResult:
        failed = sum(self.errors.values())
        if not failed:
            note = f"{self.done} items done" if self.done else "nothing due"
            if self.not_found:
                note += f" ({len(self.not_found)} unknown at the provider: {', '.join(self.not_found[:5])})"
            if self.rejected:
                note += f"; {sum(self.rejected.values())} rows rejected"
            if self.warnings:
                note += f"; warning: {self.warnings[0]}"
            return self.result("ok", None, note)
        dominant = self.errors.most_common(1)[0][0]
        message = f"{failed} items failed ({', '.join(f'{k}: {v}' for k, v in self.errors.items())}); last: {self.last_error}"
        if self.done:
            return self.result("partial", dominant, message)
        return self.result("failed", dominant, message)

    def _lock_key(self, item: str) -> tuple[int, int]:
        # Two int4 keys: the dataset and the item (signed 32-bit from crc32).
        def signed(text: str) -> int:
            value = zlib.crc32(text.encode())
            return value - 2**32 if value >= 2**31 else value

        return signed(self.spec.name), signed(item)

    def _run_item(self, item: str) -> bool:
        """Fetch and store one item. False when another process holds it (left for that process).

        Any exception of the dataset's own code (request, parse, fetch) or of storing its rows is this
        item's :class:`MalformedItem`: the item stays due and the run goes on with the next one.
        """
        lock = self._lock_key(item)
        got = self.conn.execute("SELECT pg_try_advisory_lock(%s, %s)", lock).fetchone()
        if not got or not got[0]:
            return False
        try:
            if not self.options.force and not self.cursor.is_due(
                self.cursor.state(item), self.spec.refresh_after, self.ctx.now()
            ):
                return True  # another process finished it a moment ago
            self.ctx.shapes = []
            try:
                parsed = self._produce(item)
            except NotFoundError:
                # The provider has nothing for this item: a valid answer, recorded as done.
                with self.conn.transaction():
                    self.cursor.record_done(item, self.ctx.run_id, self.ctx.now(), {"not_found": True})
                self.done += 1
                self.not_found.append(item)
                return True
            except (QuotaExhausted, InvalidKeyError):
                raise
            except CollectError as exc:
                self._shape_drift()
                self._fail(item, exc)
                return True
            except Exception as exc:  # the dataset's parser/request code raised: this item only
                self._shape_drift()  # a renamed field is often why: record it with the failure
                self._fail(item, _malformed(item, exc))
                return True
            try:
                self._account(item, parsed)
                self._store(item, parsed)
            except CollectError as exc:
                self._fail(item, exc)
                return True
            except (MergeError, psycopg.DataError, psycopg.IntegrityError, ValueError, TypeError) as exc:
                self._fail(item, _malformed(item, exc))
                return True
            self.done += 1
            return True
        finally:
            self.conn.execute("SELECT pg_advisory_unlock(%s, %s)", lock)

    def _item(self, item: str, context: Mapping[str, Any] | None = None) -> Item:
        state = self.cursor.state(item)
        return Item(
            name=item,
            provider=self.ctx.provider,
            logical_date=self.ctx.logical_date,
            data_interval_start=self.ctx.data_interval_start,
            data_interval_end=self.ctx.data_interval_end,
            state=dict(state.state) if state is not None else {},
            context=dict(context or {}),
        )

    def _produce(self, item: str) -> Parsed:
        """The item's rows: through its pipeline (one declared call, one decode, a pure parse) or its
        ``fetch`` escape hatch."""
        with collecting_drops() as drops:
            parsed = self._produce_rows(item)
        parsed.rejected.extend(drops)
        return parsed

    def _produce_rows(self, item: str) -> Parsed:
        pipe: Pipe | None = self.spec.pipeline.get(self.ctx.provider)
        if pipe is None:
            produced = self.spec.fetcher(self.ctx.provider)(self.ctx, item)
            if isinstance(produced, ItemResult):
                return Parsed(rows=list(produced.rows), state=produced.state)
            return Parsed(rows=list(produced))
        declared = pipe.request(self.ctx, item)
        request = declared if isinstance(declared, Request) else Request(declared)
        reply = self.ctx.call(request.api, key_index=request.key_index)
        # Decoded once: JSON → objects (an empty body, e.g. a 204, → None), other kinds → the text.
        body: Any = reply.text
        if request.api.expect == "json":
            body = reply.json() if reply.text.strip() else None
        parsed = pipe.parse(body, self._item(item, request.context))
        return parsed if isinstance(parsed, Parsed) else Parsed(rows=list(parsed))

    def _account(self, item: str, parsed: Parsed) -> None:
        """Count what the parser refused, record drift, and refuse a reply that drift emptied."""
        for reason, _ in parsed.rejected:
            self.rejected[reason.split(" (", 1)[0][:120]] += 1
        shape_missing, shape_new = self._shape_drift()
        missing, new = set(parsed.missing) | shape_missing, set(parsed.new) | shape_new
        records = parsed.records
        if records is None:
            records = sum(shape.records for shape in self.ctx.shapes)
        self.drift_missing |= missing
        self.drift_new |= new
        emptied = missing or (parsed.rejected and len(parsed.rejected) >= records)
        if records and not parsed.rows and emptied:
            why = f"missing {', '.join(sorted(missing)[:8])}" if missing else "every record rejected"
            warning = f"{item}: reply with {records} records gave 0 rows ({why})"
            if warning not in self.warnings:
                self.warnings.append(warning[:300])
            raise SchemaDrift(item, f"schema drift: {records} records, 0 rows ({why})")
        for shape in self.ctx.shapes:
            self.baselines.learn(shape)

    def _shape_drift(self) -> tuple[set[str], set[str]]:
        """Fields missing / new in the current item's replies against their endpoints' baselines
        (also recorded on the run)."""
        missing: set[str] = set()
        new: set[str] = set()
        for shape in self.ctx.shapes:
            drift = self.baselines.compare(shape)
            if drift is not None:
                missing |= drift[0]
                new |= drift[1]
        self.drift_missing |= missing
        self.drift_new |= new
        return missing, new

    def _rules_of(self) -> dict[str, ColumnRule]:
        if self._rules is None:
            self._rules = table_rules(self.conn, self.spec.table, self.spec.key)
        return self._rules

    def _fail(self, item: str, exc: Exception) -> None:
        error_class = type(exc).__name__
        message = redact(str(exc))
        self.errors[error_class] += 1
        self.last_error = f"{item}: {message}"[:300]
        log.warning("%s item %s failed: %s: %s", self.spec.name, item, error_class, message[:200])
        with self.conn.transaction():
            self.cursor.record_failure(item, self.ctx.run_id, self.ctx.now(), error_class, message)

    def _store(self, item: str, parsed: Parsed) -> None:
        rows: list[Row] = parsed.rows
        if rows and self.spec.batch_sequence:
            if self.batch_id is None:
                got = self.conn.execute("SELECT nextval(%s)", (self.spec.batch_sequence,)).fetchone()
                assert got is not None
                self.batch_id = int(got[0])
            rows = [{**row, "batch_id": self.batch_id} for row in rows]
        rows, rejected = validate_rows(rows, self._rules_of()) if rows else (rows, [])
        self._note_rejected(item, rejected)
        with self.conn.transaction():
            merged = MergeResult()
            if rows:
                merged = merge_rows(
                    self.conn,
                    self.spec.table,
                    rows,
                    self.spec.key,
                    on_conflict=self.spec.merge,
                    touch=self.spec.touch,
                )
            if self.spec.after_merge is not None:
                extra = self.spec.after_merge(self.conn, self.ctx, item, rows, merged)
                if isinstance(extra, MergeResult):  # rows the hook wrote to another table
                    merged = merged + extra
            self.cursor.record_done(item, self.ctx.run_id, self.ctx.now(), parsed.state)
        self.merged = self.merged + merged

    def _note_rejected(self, item: str, rejected: list[Rejected]) -> None:
        for entry in rejected:
            self.rejected[entry.category[:120]] += 1
        if rejected:
            log.warning(
                "%s item %s: %d rows rejected (first: %s)",
                self.spec.name,
                item,
                len(rejected),
                redact(rejected[0].reason)[:200],
            )


def _malformed(item: str, exc: BaseException) -> MalformedItem:
    """``exc`` (from a dataset's code or the merge) as the item's typed, redacted, bounded error."""
    text = redact(str(exc))
    return MalformedItem(item, f"{type(exc).__name__}: {text[:300]}", cause=type(exc).__name__)
