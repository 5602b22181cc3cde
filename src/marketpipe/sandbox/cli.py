"""``marketpipe sandbox``: serve the provider simulator in the foreground."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from marketpipe.sandbox.config import SandboxConfig
from marketpipe.sandbox.server import serve

app = typer.Typer(help="Local simulator of every external provider (HTTP + WebSocket, quotas, faults).")


@app.callback(invoke_without_command=True)
def run(
    ctx: typer.Context,
    host: str = typer.Option(
        "127.0.0.1", envvar="MARKETPIPE_SANDBOX_HOST", help="Interface to bind (keep loopback)."
    ),
    port: int = typer.Option(8765, envvar="MARKETPIPE_SANDBOX_PORT", help="TCP port."),
    seed: int = typer.Option(42, envvar="MARKETPIPE_SANDBOX_SEED", help="Seed of the simulated world."),
    quotas: bool = typer.Option(
        True, "--quotas/--no-quotas", envvar="MARKETPIPE_SANDBOX_QUOTAS", help="Enforce the published quotas."
    ),
    start: datetime | None = typer.Option(
        None, envvar="MARKETPIPE_SANDBOX_START", help="Simulated start time (UTC); default: now."
    ),
    clock_rate: float = typer.Option(
        1.0, envvar="MARKETPIPE_SANDBOX_CLOCK_RATE", help="Simulated seconds per real second (0 = frozen)."
    ),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
) -> None:
    """Serve the sandbox until interrupted (admin API under /_admin)."""
    if ctx.invoked_subcommand is not None:
        return
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    config = SandboxConfig(seed=seed, quotas_enabled=quotas, start_time=start, clock_rate=clock_rate)
    typer.echo(f"sandbox on http://{host}:{port} (seed {seed}, quotas {'on' if quotas else 'off'})")
    serve(config, host=host, port=port, log_level=log_level)
