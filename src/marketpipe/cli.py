"""The ``marketpipe`` command line: services, schema, collection, streaming, the sandbox, Airflow."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from marketpipe.config import Settings, get_settings
from marketpipe.runtime import LocalService, ServiceError, services

app = typer.Typer(
    name="marketpipe",
    help="Open data backbone for an investment assistant: scheduled collection and real-time streams.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # never print locals: they may hold keys
)
console = Console()


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail.")] = False,
) -> None:
    from marketpipe.logsetup import configure_logging

    configure_logging(logging.DEBUG if verbose else logging.INFO)


def _status_table(settings: Settings, chosen: list[LocalService]) -> Table:
    table = Table(title="marketpipe services")
    table.add_column("service")
    table.add_column("mode")
    table.add_column("state")
    table.add_column("url")
    for service in chosen:
        status = service.status()
        state = (
            "[green]answering"
            if status.answering
            else ("[yellow]not answering" if status.running else "stopped")
        )
        table.add_row(status.name, "embedded" if status.embedded else "external", state, status.url or "-")
    return table


@app.command()
def up(
    kafka: Annotated[bool, typer.Option("--kafka", help="Also start a local Kafka broker.")] = False,
    sandbox: Annotated[bool, typer.Option("--sandbox", help="Also start the provider simulator.")] = False,
) -> None:
    """Start PostgreSQL and Redis (embedded unless URLs are configured) and apply the schema."""
    from marketpipe.db import connect, migrate

    settings = get_settings()
    chosen = services(settings, kafka=kafka, sandbox=sandbox)
    for service in chosen:
        with console.status(f"starting {service.name}…"):
            try:
                service.start()
            except ServiceError as exc:
                console.print(f"[red]{exc}")
                raise typer.Exit(1) from exc
    with connect(settings=settings) as conn:
        applied = migrate(conn)
    console.print(f"schema: {len(applied)} migration(s) applied" if applied else "schema: up to date")
    console.print(_status_table(settings, chosen))


@app.command()
def down() -> None:
    """Stop every embedded service marketpipe started (data stays in the data directory)."""
    settings = get_settings()
    for service in reversed(services(settings, kafka=True, sandbox=True)):
        if service.stop():
            console.print(f"stopped {service.name}")


@app.command()
def status() -> None:
    """Show each service, where it is and whether it answers; then every dataset's freshness."""
    from marketpipe.ops.freshness import print_status_freshness

    settings = get_settings()
    console.print(_status_table(settings, services(settings, kafka=True, sandbox=True)))
    print_status_freshness(console, settings)


@app.command("migrate")
def migrate_command() -> None:
    """Apply pending schema migrations (a no-op when up to date)."""
    from marketpipe.db import connect, migrate

    with connect(settings=get_settings()) as conn:
        applied = migrate(conn)
    for name in applied:
        console.print(f"applied {name}")
    console.print(f"{len(applied)} migration(s) applied" if applied else "schema is up to date")


#: Command groups that live next to the code they drive: (command, module, attribute, kind).
SUBCOMMANDS: tuple[tuple[str, str, str, str], ...] = (
    ("sandbox", "marketpipe.sandbox.cli", "app", "group"),
    ("stream", "marketpipe.stream.cli", "app", "group"),
    ("airflow", "marketpipe.orchestration.airflow_cli", "app", "group"),
    ("collect", "marketpipe.engine.cli", "collect_command", "command"),
    ("runs", "marketpipe.engine.cli", "runs_command", "command"),
    ("serve", "marketpipe.serve.cli", "serve_command", "command"),
    ("mcp", "marketpipe.mcp.cli", "mcp_command", "command"),
    ("demo", "marketpipe.demo", "demo_command", "command"),
    ("metrics", "marketpipe.ops.cli", "metrics_app", "group"),
    ("check", "marketpipe.ops.cli", "check_command", "command"),
)


def _mount_subcommands() -> None:
    for name, module_name, attribute, kind in SUBCOMMANDS:
        if importlib.util.find_spec(module_name) is None:
            continue  # tests/test_cli.py asserts every group is mounted in a full build
        target = getattr(importlib.import_module(module_name), attribute)
        if kind == "group":
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)


_mount_subcommands()


def main() -> None:
    """The ``marketpipe`` command: :data:`app`, with configuration errors as one clear line (exit 2)
    instead of a traceback. Settings errors never echo their input (``hide_input_in_errors``)."""
    import sys

    from pydantic import ValidationError

    from marketpipe.stream.bus import KafkaConfigError

    try:
        app()
    except ValidationError as exc:
        # A validation error of a settings model is the user's configuration, not a bug. (Imported
        # here: the API's settings module loads the whole API.)
        from marketpipe.serve.settings import ApiSettings
        from marketpipe.stream.settings import StreamSettings

        models = (Settings, StreamSettings, ApiSettings)
        prefixes = {model.__name__: model.model_config.get("env_prefix", "") for model in models}
        if exc.title not in prefixes:
            raise
        for error in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(part) for part in error["loc"])
            where = (prefixes[exc.title] + where.upper()) if where else ""
            message = str(error["msg"]).removeprefix("Value error, ")
            print(f"error: configuration: {where + ': ' if where else ''}{message}", file=sys.stderr)
        raise SystemExit(2) from None
    except KafkaConfigError as exc:
        print(f"error: configuration: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
