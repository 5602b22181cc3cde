"""``marketpipe metrics serve|show`` and ``marketpipe check``."""

from __future__ import annotations

import threading

import typer
from prometheus_client import CollectorRegistry
from rich.console import Console

from marketpipe.config import get_settings

metrics_app = typer.Typer(help="Collection metrics for Prometheus (read from the PostgreSQL ledgers).")
console = Console()


def _registry() -> CollectorRegistry:

    from marketpipe.ops.metrics import collector_for_settings

    registry = CollectorRegistry()
    registry.register(collector_for_settings(get_settings()))
    return registry


@metrics_app.command("serve")
def metrics_serve(
    port: int = typer.Option(9108, "--port", "-p", min=1, max=65535, help="Port of /metrics."),
    host: str = typer.Option("0.0.0.0", "--host", help="Address to bind."),
) -> None:
    """Serve collection metrics on http://HOST:PORT/metrics until interrupted (the long-running exporter)."""
    from prometheus_client import start_http_server

    server, thread = start_http_server(port, addr=host, registry=_registry())
    console.print(f"collection metrics on http://{host}:{port}/metrics")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        thread.join(timeout=5)


@metrics_app.command("show")
def metrics_show() -> None:
    """Print one scrape in the Prometheus text format."""
    from prometheus_client import generate_latest

    typer.echo(generate_latest(_registry()).decode(), nl=False)


def check_command(
    provider: list[str] = typer.Option(None, "--provider", "-p", help="Only these providers (repeatable)."),
    skip: list[str] = typer.Option(None, "--skip", "-s", help="Skip these providers (repeatable)."),
    timeout: float | None = typer.Option(None, "--timeout", min=0.1, help="Seconds per call."),
) -> None:
    """One cheapest call per configured provider and key; exit 1 on a refused key, drift or outage."""
    from marketpipe.ops.check import FAILING, check_table, run_check

    try:
        results = run_check(get_settings(), providers=provider or None, skip=skip or (), timeout_s=timeout)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    console.print(check_table(results))
    if any(r.verdict in FAILING for r in results):
        raise typer.Exit(1)
