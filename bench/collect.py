"""Benchmark of the collection engine against the sandbox (this issue's datasets).

Part 1 — quotas off (sandbox and engine): one full collection of every dataset over the whole S&P 500
universe; prints wall time, calls, rows and rows per call per dataset and in total.

Part 2 — free-tier quotas on: a fresh database, N simulated days (sandbox clock and engine clock move
together); every day runs ``collect --all``. Prints, per day and provider, the day's budget, the calls
served, calls the provider refused (wasted), and the share of the budget that produced new data
(target 100 %, zero wasted calls). FMP needs 5 calls a month (its budget share is naturally small);
Alpha Vantage is the bottleneck whose budget must be fully used. Its published safe pace of 1 call/s
is raised to 2/s (under the sandbox's 5/s burst) so a simulated day takes seconds; the daily windows
are the published ones.

Usage: ``.venv/bin/python bench/collect.py [--days 4]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from pydantic import SecretStr

from marketpipe.config import Settings
from marketpipe.db import connect, migrate
from marketpipe.engine.cli import collect_many
from marketpipe.engine.clock import ManualClock
from marketpipe.engine.registry import DatasetSpec, all_datasets
from marketpipe.engine.runner import RunOptions, RunResult
from marketpipe.http.types import per_day, per_second
from marketpipe.runtime.postgres import PostgresService
from marketpipe.sandbox.admin_client import AdminClient
from marketpipe.sandbox.config import SandboxConfig
from marketpipe.sandbox.server import ThreadedSandbox

START = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)  # a Monday, before the 06:00 schedules
DAILY_BUDGET = {"alpha_vantage": 25, "fmp": 250}
# 2/s: never 5 inside one sandbox second, even though the two clocks' second boundaries differ.
BENCH_WINDOWS = {"alpha_vantage": (per_day(25), per_second(2))}
ISSUE_GROUPS = ("stocks", "fundamentals", "calendars", "macro")


def issue_datasets() -> list[DatasetSpec]:
    """The datasets of this benchmark (the stocks, fundamentals, calendars and macro groups)."""
    return [spec for spec in all_datasets() if spec.group in ISSUE_GROUPS]


def _settings(data_dir: Path, database_url: str, port: int) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=data_dir,
        database_url=database_url,
        sandbox=True,
        sandbox_port=port,
        alpha_vantage_keys=[SecretStr("bench-av-1")],
        fred_keys=[SecretStr("benchfredkey00000000000000000001")],
        fmp_keys=[SecretStr("bench-fmp-1")],
    )


def _fresh_database(server_dsn: str, name: str) -> str:
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, query = server_dsn.partition("?")
    dsn = base.rsplit("/", 1)[0] + "/" + name + (("?" + query) if query else "")
    with psycopg.connect(dsn) as conn:
        migrate(conn)
    return dsn


def _table_rows(settings: Settings, tables: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    with connect(settings=settings) as conn:
        for table in tables:
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # our own table names
            counts[table] = int(row[0]) if row else 0
    return counts


def part_quotas_off(settings: Settings, admin: AdminClient) -> None:
    admin.reset()
    admin.set_quotas(False)
    clock = ManualClock(admin.now(), real_sleep=True)
    specs = issue_datasets()
    started = time.perf_counter()
    results = collect_many(specs, settings=settings, options=RunOptions(clock=clock, quotas=False))
    wall = time.perf_counter() - started
    rows = _table_rows(settings, [s.table for s in specs])
    print("\n== quotas off: one full collection (503-symbol universe) ==")
    print(f"{'dataset':20} {'status':8} {'calls':>6} {'rows':>7} {'rows/call':>9}")
    for r in results:
        per_call = rows[get_table(r.dataset)] / r.calls if r.calls else float("nan")
        print(f"{r.dataset:20} {r.status:8} {r.calls:6d} {rows[get_table(r.dataset)]:7d} {per_call:9.1f}")
    calls, total = sum(r.calls for r in results), sum(rows.values())
    print(f"{'total':20} {'':8} {calls:6d} {total:7d} {total / max(calls, 1):9.1f}")
    print(f"wall time {wall:.1f} s, {calls / wall:.0f} calls/s, {total / wall:.0f} rows/s")


def get_table(dataset: str) -> str:
    return next(s.table for s in all_datasets() if s.name == dataset)


def part_quotas_on(settings: Settings, admin: AdminClient, days: int) -> None:
    admin.reset()
    admin.set_clock(START)
    clock = ManualClock(START, real_sleep=True)
    options = RunOptions(clock=clock, quotas=True, quota_windows=BENCH_WINDOWS, max_wait_s=5.0)
    print(f"\n== free-tier quotas on: {days} simulated days, `collect --all` once a day ==")
    print(
        f"{'day':10} {'provider':14} {'budget':>6} {'served':>6} {'refused':>7} {'new-data':>8}"
        f" {'budget share':>12} {'wasted':>6}"
    )
    for _ in range(days):
        before = admin.counters()["rows"]
        results = collect_many(
            issue_datasets(), settings=settings, options=options, logical_date=clock.now().date()
        )
        after = admin.counters()["rows"]
        served: dict[str, int] = defaultdict(int)
        refused: dict[str, int] = defaultdict(int)
        for row in after:
            served[row["provider"]] += row["served"]
            refused[row["provider"]] += row["refused_quota"]
        for row in before:
            served[row["provider"]] -= row["served"]
            refused[row["provider"]] -= row["refused_quota"]
        useful = _useful_calls(results)
        for provider in sorted(DAILY_BUDGET):
            budget = DAILY_BUDGET[provider]
            wasted = refused[provider] + served[provider] - useful[provider]
            print(
                f"{clock.now():%Y-%m-%d} {provider:14} {budget:6d} {served[provider]:6d} {refused[provider]:7d}"
                f" {useful[provider]:8d} {useful[provider] / budget:12.0%} {wasted:6d}"
            )
        covered = _table_rows(settings, ["company_overview", "balance_sheet"])
        with connect(settings=settings) as conn:
            symbols = conn.execute(
                "SELECT count(DISTINCT symbol) FROM company_overview UNION ALL "
                "SELECT count(DISTINCT symbol) FROM balance_sheet"
            ).fetchall()
        print(
            f"{'':10} so far: overview {symbols[0][0]} symbols ({covered['company_overview']} rows), "
            f"balance sheets {symbols[1][0]} symbols ({covered['balance_sheet']} rows)"
        )
        admin.advance(days=1)
        clock.advance(timedelta(days=1))


def _useful_calls(results: list[RunResult]) -> dict[str, int]:
    """Calls that stored new data: all calls minus wasted ones (engine count) and failed items."""
    useful: dict[str, int] = defaultdict(int)
    for r in results:
        if r.provider:
            failed_items = sum(n for cls, n in r.errors.items() if cls != "TransientError")
            useful[r.provider] += r.calls - r.wasted_calls - failed_items
    return useful


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mp-bench-") as tmp:
        data_dir = Path(tmp)
        server_dsn = PostgresService(Settings(_env_file=None, data_dir=data_dir)).start()
        sandbox = ThreadedSandbox(SandboxConfig(seed=42, start_time=START))
        url = sandbox.start()
        admin = AdminClient(url)
        try:
            part_quotas_off(
                _settings(data_dir, _fresh_database(server_dsn, "bench_off"), sandbox.port), admin
            )
            part_quotas_on(
                _settings(data_dir, _fresh_database(server_dsn, "bench_on"), sandbox.port), admin, args.days
            )
        finally:
            admin.close()
            sandbox.stop()
            PostgresService(Settings(_env_file=None, data_dir=data_dir)).stop()


if __name__ == "__main__":
    main()
