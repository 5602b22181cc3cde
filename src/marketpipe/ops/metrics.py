"""Collection metrics for Prometheus, derived from the PostgreSQL ledgers at scrape time.

Why this shape: collection runs are short-lived (an Airflow task, a CLI ``collect``) and already
write every fact to PostgreSQL — the run ledger (``collect_runs``), the quota ledger and spent marks
(``quota_ledger``, ``quota_key_state``), per-item cursors (``collect_cursors``) and the call-outcome
ledger (``collect_call_outcomes``, :mod:`marketpipe.ops.calls`). Instead of a Pushgateway (whose
pushed series never expire and race between parallel tasks), one long-running exporter
(``marketpipe metrics serve``) registers :class:`CollectionCollector`, a custom prometheus-client
collector that reads those tables on every scrape. Counters stay monotonic because the ledgers only
grow; nothing is lost when a task dies, and every Airflow worker needs no port.

Key values never appear: keys are labelled by their 12-character hash (``key``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import psycopg
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from marketpipe.engine.registry import DatasetSpec
from marketpipe.ops.freshness import STATES, dataset_freshness, nyse_open

log = logging.getLogger("marketpipe.ops")

#: Column names the item-pipeline work may add to ``collect_runs`` (read when present).

Connect = Callable[[], AbstractContextManager[psycopg.Connection]]
Now = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CollectionCollector(Collector):
    """Every collection metric, read from the ledgers on each ``collect()``.

    ``connect`` opens a connection per scrape; ``now`` is the clock (tests pass the sandbox's);
    ``configured_keys`` maps provider → key hashes whose windows are reported even before their first
    call today (remaining = limit); ``windows`` gives each provider's published windows for those.
    """

    def __init__(
        self,
        connect: Connect,
        *,
        now: Now = _utc_now,
        configured_keys: dict[str, list[str]] | None = None,
        windows: dict[str, Sequence[Any]] | None = None,
        datasets: Sequence[DatasetSpec] | None = None,
    ) -> None:
        self._connect = connect
        self._now = now
        self._configured = configured_keys or {}
        self._windows = windows or {}
        self._datasets = datasets

    def describe(self) -> Iterable[Metric]:
        return []  # collected lazily: registering must not touch the database

    def collect(self) -> Iterator[Metric]:
        now = self._now()
        up = GaugeMetricFamily("marketpipe_collect_up", "1 when the exporter could read the ledgers")
        try:
            with self._connect() as conn:
                families = list(self._families(conn, now))
        except (psycopg.Error, OSError) as exc:
            log.warning("metrics scrape could not read the ledgers: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    # -- families ---------------------------------------------------------------------------------

    def _families(self, conn: psycopg.Connection, now: datetime) -> Iterator[Metric]:
        yield self._calls(conn)
        yield from self._quota(conn, now)
        yield from self._runs(conn)
        yield from self._freshness(conn, now)
        nyse = GaugeMetricFamily("marketpipe_nyse_open", "1 while the NYSE regular session is open")
        nyse.add_metric([], 1 if nyse_open(now) else 0)
        yield nyse

    def _calls(self, conn: psycopg.Connection) -> Metric:
        calls = CounterMetricFamily(
            "marketpipe_collect_calls",
            "Provider calls by endpoint, key hash and outcome (ok, quota_exhausted, invalid_key, ...)",
            labels=["provider", "endpoint", "key", "outcome"],
        )
        for provider, endpoint, key, outcome, count in conn.execute(
            "SELECT provider, endpoint, key_hash, outcome, calls FROM collect_call_outcomes"
        ).fetchall():
            calls.add_metric([provider, endpoint, key, outcome], count)
        return calls

    def _quota(self, conn: psycopg.Connection, now: datetime) -> Iterator[Metric]:
        labels = ["provider", "key", "window"]
        used = GaugeMetricFamily(
            "marketpipe_collect_quota_used", "Calls counted in the current window", labels=labels
        )
        limit = GaugeMetricFamily("marketpipe_collect_quota_limit", "Calls allowed per window", labels=labels)
        remaining = GaugeMetricFamily(
            "marketpipe_collect_quota_remaining", "Calls left in the current window", labels=labels
        )
        ends = GaugeMetricFamily(
            "marketpipe_collect_quota_window_end_timestamp_seconds",
            "When the current window resets",
            labels=labels,
        )
        windows: dict[tuple[str, str, str], tuple[int, int, datetime]] = {}
        for provider, hashes in self._configured.items():
            for window in self._windows.get(provider, ()):
                _, end = window.bounds(now)
                for key in hashes:
                    windows[(provider, key, window.name)] = (0, window.limit, end)
        for provider, key, name, count, quota, end in conn.execute(
            """SELECT provider, key_hash, window_name, used, quota_limit, window_end FROM quota_ledger
                WHERE window_start <= %s AND window_end > %s""",
            (now, now),
        ).fetchall():
            windows[(provider, key, name)] = (count, quota, end)
        for labelset, (count, quota, end) in sorted(windows.items()):
            values = list(labelset)
            used.add_metric(values, count)
            limit.add_metric(values, quota)
            remaining.add_metric(values, max(quota - count, 0))
            ends.add_metric(values, end.timestamp())
        spent = GaugeMetricFamily(
            "marketpipe_collect_key_spent",
            "1 while a key rests after a quota refusal",
            labels=["provider", "key"],
        )
        until = GaugeMetricFamily(
            "marketpipe_collect_key_spent_until_timestamp_seconds",
            "When a spent key becomes usable again",
            labels=["provider", "key"],
        )
        for provider, key, spent_until in conn.execute(
            "SELECT provider, key_hash, spent_until FROM quota_key_state"
        ).fetchall():
            spent.add_metric([provider, key], 1 if spent_until > now else 0)
            until.add_metric([provider, key], spent_until.timestamp())
        yield from (used, limit, remaining, ends, spent, until)

    def _runs(self, conn: psycopg.Connection) -> Iterator[Metric]:
        # Run accounting (migration 0153): rows refused by parser/validation, and drifted fields
        # (expected but missing, or seen for the first time) per run.
        extra = ", coalesce(sum(rows_rejected), 0), coalesce(sum(cardinality(drift_missing) + cardinality(drift_new)), 0)"
        runs = CounterMetricFamily(
            "marketpipe_collect_runs", "Finished runs by outcome", labels=["dataset", "status"]
        )
        for dataset, status, count in conn.execute(
            """SELECT dataset, status, count(*) FROM collect_runs WHERE status <> 'running'
                GROUP BY dataset, status ORDER BY dataset, status"""
        ).fetchall():
            runs.add_metric([dataset, status], count)
        yield runs

        rows = CounterMetricFamily(
            "marketpipe_collect_rows",
            "Rows merged by runs (inserted, updated, rejected)",
            labels=["dataset", "action"],
        )
        duration = SummaryMetricFamily(
            "marketpipe_collect_run_duration_seconds", "Duration of finished runs", labels=["dataset"]
        )
        drifts = CounterMetricFamily(
            "marketpipe_collect_drift",
            "Replies whose shape drifted from what the parser needs",
            labels=["dataset"],
        )
        for record in conn.execute(
            f"""SELECT dataset, count(*), coalesce(sum(extract(epoch FROM ended_at - started_at)), 0),
                       coalesce(sum(rows_inserted), 0), coalesce(sum(rows_updated), 0){extra}
                  FROM collect_runs WHERE ended_at IS NOT NULL GROUP BY dataset ORDER BY dataset"""
        ).fetchall():
            dataset, count, seconds, inserted, updated, rejected, drifted = record
            duration.add_metric([dataset], count_value=count, sum_value=float(seconds))
            rows.add_metric([dataset, "inserted"], inserted)
            rows.add_metric([dataset, "updated"], updated)
            rows.add_metric([dataset, "rejected"], rejected)
            drifts.add_metric([dataset], drifted)
        yield rows
        yield duration
        yield drifts

        last_status = GaugeMetricFamily(
            "marketpipe_collect_last_run_status",
            "1 for the status of the latest run",
            labels=["dataset", "status"],
        )
        last_duration = GaugeMetricFamily(
            "marketpipe_collect_last_run_duration_seconds", "Duration of the latest run", labels=["dataset"]
        )
        last_end = GaugeMetricFamily(
            "marketpipe_collect_last_run_end_timestamp_seconds",
            "When the latest run ended",
            labels=["dataset"],
        )
        items = GaugeMetricFamily(
            "marketpipe_collect_last_run_items",
            "Items of the latest run: done, failed, pending (still due)",
            labels=["dataset", "state"],
        )
        for dataset, status, started, ended, done, failed, pending in conn.execute(
            """SELECT DISTINCT ON (dataset) dataset, status, started_at, ended_at, items_done, items_failed,
                      items_pending
                 FROM collect_runs WHERE ended_at IS NOT NULL ORDER BY dataset, run_id DESC"""
        ).fetchall():
            for candidate in ("ok", "partial", "failed"):
                last_status.add_metric([dataset, candidate], 1 if status == candidate else 0)
            last_duration.add_metric([dataset], (ended - started).total_seconds())
            last_end.add_metric([dataset], ended.timestamp())
            items.add_metric([dataset, "done"], done)
            items.add_metric([dataset, "failed"], failed)
            items.add_metric([dataset, "pending"], pending)
        yield from (last_status, last_duration, last_end, items)

    def _freshness(self, conn: psycopg.Connection, now: datetime) -> Iterator[Metric]:
        rows = dataset_freshness(conn, now, self._datasets)
        state = GaugeMetricFamily(
            "marketpipe_dataset_freshness", "1 for the dataset's freshness state", labels=["dataset", "state"]
        )
        age = GaugeMetricFamily(
            "marketpipe_dataset_age_seconds", "Age of the newest data", labels=["dataset"]
        )
        missed = GaugeMetricFamily(
            "marketpipe_dataset_missed_runs",
            "Scheduled runs owed since the newest data (capped at 2)",
            labels=["dataset"],
        )
        next_at = GaugeMetricFamily(
            "marketpipe_dataset_next_run_timestamp_seconds", "Next scheduled run", labels=["dataset"]
        )
        resumes = GaugeMetricFamily(
            "marketpipe_dataset_resumes_at_timestamp_seconds",
            "When a quota-stopped dataset's keys come back",
            labels=["dataset"],
        )
        for row in rows:
            for candidate in STATES:
                state.add_metric([row.dataset, candidate], 1 if row.state == candidate else 0)
            if row.age_s is not None:
                age.add_metric([row.dataset], row.age_s)
            missed.add_metric([row.dataset], row.missed_runs)
            if row.next_run_at is not None:
                next_at.add_metric([row.dataset], row.next_run_at.timestamp())
            if row.resumes_at is not None:
                resumes.add_metric([row.dataset], row.resumes_at.timestamp())
        yield from (state, age, missed, next_at, resumes)


def collector_for_settings(settings: Any, now: Now = _utc_now) -> CollectionCollector:
    """A collector on the settings' database, reporting the settings' key pools."""
    from marketpipe.config import PROVIDERS
    from marketpipe.db import connect, database_dsn
    from marketpipe.providers import get_provider
    from marketpipe.redaction import key_hash

    dsn = database_dsn(settings)
    keys: dict[str, list[str]] = {
        p: [key_hash(k.get_secret_value()) for k in settings.keys(p)] for p in PROVIDERS if settings.keys(p)
    }
    windows: dict[str, Sequence[Any]] = {p: get_provider(p).windows for p in keys}
    return CollectionCollector(
        lambda: connect(dsn, autocommit=True), now=now, configured_keys=keys, windows=windows
    )
