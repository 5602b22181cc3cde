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
from marketpipe.engine.quota import QuotaLedger
from marketpipe.engine.registry import DERIVED, DatasetSpec, ItemResult, Row, get_dataset
from marketpipe.engine.runs import RunLedger
from marketpipe.engine.session import ProviderSession, RetryPolicy
from marketpipe.http.client import HttpClient
from marketpipe.http.errors import (
    CollectError,
    ConfigurationError,
    InvalidKeyError,
    NotFoundError,
    QuotaExhausted,
)
from marketpipe.http.types import ApiRequest, QuotaWindow, Reply
from marketpipe.logsetup import bind_log_context, log_context
from marketpipe.providers import get_provider
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

    def now(self) -> datetime:
        return self.options.clock.now()

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
        return self.session.call(request, key_index=key_index)

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql.encode(), params or None).fetchall()

    def item_state(self, item: str) -> ItemState | None:
        return self.cursor.state(item)


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
) -> RunResult:
    """Run dataset ``name`` once. Never raises for provider trouble: the status says what happened."""
    install_log_redaction()
    spec = get_dataset(name)
    settings = settings or get_settings()
    options = options or RunOptions.from_env()
    clock = options.clock
    day = _to_date(logical_date, clock)
    with (
        connect(settings=settings, autocommit=True) as conn,
        connect(settings=settings, autocommit=True) as ledger_conn,
        HttpClient() as http,
    ):
        runs = RunLedger(ledger_conn)
        run_id = runs.start(spec.name, day, clock.now())
        run = _Run(spec, run_id, day, settings, options, conn, ledger_conn, http, progress)
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
            items_done=result.items_done,
            items_failed=result.items_failed,
            items_pending=result.items_pending,
            error_class=result.error_class,
            message=result.message,
            resume_at=result.resume_at,
        )
    log.info(
        "run %s %s: %s via %s, %d calls, +%d/~%d rows, %d done, %d pending%s",
        run_id, spec.name, result.status, result.provider, result.calls, result.rows_inserted,
        result.rows_updated, result.items_done, result.items_pending,
        f", {result.error_class}: {result.message}" if result.error_class else "",
    )  # fmt: skip
    return result


class _Run:
    def __init__(
        self,
        spec: DatasetSpec,
        run_id: int,
        day: date,
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
        self.ctx = _Context(spec, run_id, day, settings, options, conn, self.cursor)
        self.sessions: list[ProviderSession] = []
        self.merged = MergeResult()
        self.done = 0
        self.errors: Counter[str] = Counter()
        self.last_error = ""
        self.pending = 0
        self.batch_id: int | None = None
        self.not_found: list[str] = []

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
        """Fetch and store one item. False when another process holds it (left for that process)."""
        lock = self._lock_key(item)
        got = self.conn.execute("SELECT pg_try_advisory_lock(%s, %s)", lock).fetchone()
        if not got or not got[0]:
            return False
        try:
            if not self.options.force and not self.cursor.is_due(
                self.cursor.state(item), self.spec.refresh_after, self.ctx.now()
            ):
                return True  # another process finished it a moment ago
            fetch = self.spec.fetcher(self.ctx.provider)
            try:
                produced = fetch(self.ctx, item)
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
                self._fail(item, exc)
                return True
            result = produced if isinstance(produced, ItemResult) else ItemResult(list(produced))
            try:
                self._store(item, result)
            except MergeError as exc:
                self._fail(item, exc)
                return True
            self.done += 1
            return True
        finally:
            self.conn.execute("SELECT pg_advisory_unlock(%s, %s)", lock)

    def _fail(self, item: str, exc: Exception) -> None:
        error_class = type(exc).__name__
        message = redact(str(exc))
        self.errors[error_class] += 1
        self.last_error = f"{item}: {message}"[:300]
        log.warning("%s item %s failed: %s: %s", self.spec.name, item, error_class, message[:200])
        with self.conn.transaction():
            self.cursor.record_failure(item, self.ctx.run_id, self.ctx.now(), error_class, message)

    def _store(self, item: str, result: ItemResult) -> None:
        rows: list[Row] = result.rows
        with self.conn.transaction():
            if rows and self.spec.batch_sequence:
                if self.batch_id is None:
                    got = self.conn.execute("SELECT nextval(%s)", (self.spec.batch_sequence,)).fetchone()
                    assert got is not None
                    self.batch_id = int(got[0])
                rows = [{**row, "batch_id": self.batch_id} for row in rows]
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
            self.cursor.record_done(item, self.ctx.run_id, self.ctx.now(), result.state)
        self.merged = self.merged + merged
