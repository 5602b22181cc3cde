"""``marketpipe collect <dataset> | --group g | --all`` and ``marketpipe runs``.

Datasets run in dependency waves; inside a wave, datasets whose first provider differs run
concurrently (one lane per provider, so one provider's keys are never raced by our own lanes).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from marketpipe.config import Settings, get_settings
from marketpipe.db import connect, migrate
from marketpipe.engine.registry import (
    DERIVED,
    DatasetSpec,
    UnknownDatasetError,
    all_datasets,
    datasets_in_group,
    get_dataset,
    groups,
    in_dependency_order,
)
from marketpipe.engine.runner import RunOptions, RunResult, run_dataset
from marketpipe.engine.runs import RunLedger, RunRecord

app = typer.Typer(help="Collect datasets from the providers into PostgreSQL.", no_args_is_help=True)
console = Console()


def select_datasets(dataset: str | None, group: str | None, everything: bool) -> list[DatasetSpec]:
    """The datasets a command line names (typed error for unknown names or groups)."""
    if everything:
        return all_datasets()
    if group:
        found = datasets_in_group(group)
        if not found:
            raise UnknownDatasetError(f"no datasets in group {group!r}; groups: {', '.join(groups())}")
        return found
    if dataset:
        return [get_dataset(dataset)]
    raise UnknownDatasetError("name a dataset, --group GROUP or --all")


def collect_many(
    specs: list[DatasetSpec],
    *,
    settings: Settings,
    logical_date: date | None = None,
    options: RunOptions | None = None,
    progress: Progress | None = None,
) -> list[RunResult]:
    """Run ``specs`` in dependency waves, independent providers concurrently."""
    results: list[RunResult] = []
    for wave in in_dependency_order(specs):
        lanes: dict[str, list[DatasetSpec]] = defaultdict(list)
        # Inside a lane the key budget goes first to one-call refreshes, then to the sweeps whose
        # items go stale soonest (company_overview before balance_sheet).
        for spec in sorted(wave, key=_budget_priority):
            lanes[spec.providers[0] if spec.providers else DERIVED].append(spec)

        def run_lane(lane: list[DatasetSpec]) -> list[RunResult]:
            return [
                run_dataset(
                    spec.name,
                    settings=settings,
                    logical_date=logical_date,
                    progress=progress,
                    options=options,
                )
                for spec in lane
            ]

        with ThreadPoolExecutor(max_workers=max(1, len(lanes)), thread_name_prefix="collect") as pool:
            for lane_results in pool.map(run_lane, lanes.values()):
                results.extend(lane_results)
    return results


def _budget_priority(spec: DatasetSpec) -> tuple[bool, float, str]:
    refresh = spec.refresh_after.total_seconds() if spec.refresh_after else 0.0
    return (spec.progressive, refresh, spec.name)


def drift_cell(missing: list[str] | None, new: list[str] | None) -> str:
    """``-2 +1`` (fields missing / new), or ``0`` without drift."""
    missing, new = missing or [], new or []
    if not missing and not new:
        return "0"
    return " ".join(
        part for part in (f"-{len(missing)}" if missing else "", f"+{len(new)}" if new else "") if part
    )


def summary_table(results: list[RunResult]) -> Table:
    table = Table(title="collection summary")
    for column in (
        "dataset",
        "provider",
        "status",
        "calls",
        "inserted",
        "updated",
        "rejected",
        "drift",
        "done",
        "pending",
        "note",
    ):
        table.add_column(
            column,
            justify="right"
            if column in ("calls", "inserted", "updated", "rejected", "drift", "done", "pending")
            else "left",
        )
    colours = {"ok": "green", "partial": "yellow", "failed": "red"}
    for r in results:
        note = r.message if r.status == "ok" else f"{r.error_class}: {r.message}"
        if r.resume_at:
            note += f" (resume at {r.resume_at:%Y-%m-%d %H:%M} UTC)"
        table.add_row(
            r.dataset,
            r.provider or "-",
            f"[{colours[r.status]}]{r.status}[/]",
            str(r.calls),
            str(r.rows_inserted),
            str(r.rows_updated),
            str(r.rows_rejected),
            drift_cell(r.drift_missing, r.drift_new),
            str(r.items_done),
            str(r.items_pending),
            note[:90],
        )
    return table


def collect_command(
    dataset: str | None = typer.Argument(None, help="Dataset name (see `marketpipe collect --list`)."),
    group: str | None = typer.Option(None, "--group", "-g", help="Every dataset of a group."),
    everything: bool = typer.Option(False, "--all", help="Every dataset."),
    list_only: bool = typer.Option(False, "--list", help="List datasets and exit."),
    force: bool = typer.Option(False, "--force", help="Treat every item as due (ignore freshness)."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N symbols of the universe."),
    logical_date: datetime | None = typer.Option(None, "--date", help="Logical date of the run (plans)."),
    no_quotas: bool = typer.Option(
        False, "--no-quotas", help="Enforce no quota window (sandbox with quotas off)."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log each call."),
) -> None:
    """Collect one dataset, a group, or all datasets; print a summary; exit 1 if any run failed."""
    if list_only:
        table = Table(title="datasets")
        for column in ("name", "group", "schedule", "providers", "description"):
            table.add_column(column)
        for spec in all_datasets():
            table.add_row(
                spec.name, spec.group, spec.schedule, ", ".join(spec.providers) or DERIVED, spec.description
            )
        console.print(table)
        return
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        specs = select_datasets(dataset, group, everything)
    except UnknownDatasetError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    settings = get_settings()
    with connect(settings=settings) as conn:
        migrate(conn)
    overrides: dict[str, object] = {"force": force}
    if limit is not None:
        overrides["universe_limit"] = limit
    if no_quotas:
        overrides["quotas"] = False
    options = RunOptions.from_env(**overrides)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        results = collect_many(
            specs,
            settings=settings,
            logical_date=logical_date.date() if logical_date else None,
            options=options,
            progress=progress,
        )
    console.print(summary_table(results))
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


def _problem(r: RunRecord) -> str:
    if r.error_class:
        return f"{r.error_class} {r.message[:60]}"
    if r.warnings:
        return f"warning: {r.warnings[0][:60]}"
    parts = []
    if r.drift_missing:
        parts.append("missing " + ", ".join(r.drift_missing[:3]))
    if r.drift_new:
        parts.append("new " + ", ".join(r.drift_new[:3]))
    return "; ".join(parts)


def runs_command(
    dataset: str | None = typer.Argument(None, help="Only runs of this dataset."),
    limit: int = typer.Option(20, "--limit", "-n"),
) -> None:
    """Recent runs from the run ledger."""
    with connect(settings=get_settings(), autocommit=True) as conn:
        records = RunLedger(conn).recent(limit, dataset)
    table = Table(title="recent runs")
    for column in (
        "run",
        "dataset",
        "provider",
        "started",
        "status",
        "calls",
        "+rows",
        "~rows",
        "!rows",
        "drift",
        "pending",
        "error / warning",
    ):
        table.add_column(column)
    for r in records:
        table.add_row(
            str(r.run_id),
            r.dataset,
            r.provider or "-",
            f"{r.started_at:%Y-%m-%d %H:%M:%S}",
            r.status,
            str(r.calls),
            str(r.rows_inserted),
            str(r.rows_updated),
            str(r.rows_rejected),
            drift_cell(r.drift_missing, r.drift_new),
            str(r.items_pending),
            _problem(r),
        )
    console.print(table)


app.command("collect")(collect_command)
app.command("runs")(runs_command)

# `python -m marketpipe.engine.cli collect ...` works without the lead's CLI.
if __name__ == "__main__":
    app()
