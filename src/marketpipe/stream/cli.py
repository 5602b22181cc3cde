"""``marketpipe stream …``: create topics, run a sink (and the producers, mounted from producers/)."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

app = typer.Typer(help="Kafka streaming: topics, sinks (and producers).", no_args_is_help=True)


def _mount_producers() -> None:
    # K2's producers live in their own module; mount them when present.
    try:
        from marketpipe.stream.producers.cli import app as produce_app
    except ImportError:
        return
    app.add_typer(
        produce_app, name="produce", help="Run a producer (Finnhub WS shards, Bithumb, top gainers)."
    )


def _parse_partitions(values: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        name, sep, count = value.partition("=")
        if not sep or not count.isdigit():
            raise typer.BadParameter(f"expected NAME=N, got {value!r}")
        out[name] = int(count)
    return out


@app.command()
def topics(
    bootstrap: Annotated[
        str | None, typer.Option(help="Kafka bootstrap; default: settings / local broker.")
    ] = None,
    partitions: Annotated[list[str], typer.Option("--partitions", "-p", help="NAME=N override.")] = [],  # noqa: B006
    replication: Annotated[
        int | None, typer.Option(help="Replication factor (default from settings).")
    ] = None,
) -> None:
    """Create the standard topics (idempotent; grows partitions, never shrinks)."""
    from marketpipe.config import get_settings
    from marketpipe.runtime.kafka import bootstrap as resolve_bootstrap
    from marketpipe.stream.settings import StreamSettings
    from marketpipe.stream.topics import default_specs, ensure_topics, partition_counts

    stream = StreamSettings()
    servers = bootstrap or resolve_bootstrap(get_settings())
    specs = default_specs(
        {**stream.partitions, **_parse_partitions(partitions)}, replication or stream.replication_factor
    )
    created = ensure_topics(servers, specs)
    counts = partition_counts(servers, [s.name for s in specs])
    for spec in specs:
        state = "created" if spec.name in created else "exists"
        plural = "partition" if counts[spec.name] == 1 else "partitions"
        typer.echo(f"{spec.name}: {counts[spec.name]} {plural} ({state})")


@app.command()
def sink(
    kind: Annotated[
        str, typer.Argument(help="trades (sp500-websocket-trades) | topgainers | crypto | etf (etf-trades)")
    ] = "trades",
    bootstrap: Annotated[
        str | None, typer.Option(help="Kafka bootstrap; default: settings / local broker.")
    ] = None,
    topic: Annotated[
        str | None, typer.Option(help="Read another topic than the kind's standard one.")
    ] = None,
    group: Annotated[
        str | None, typer.Option(help="Consumer group (default marketpipe-sink.<kind>).")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Messages per batch at most.")] = None,
    metrics_port: Annotated[int | None, typer.Option(help="Serve Prometheus /metrics on this port.")] = None,
    max_messages: Annotated[int | None, typer.Option(help="Exit after this many messages.")] = None,
    idle_exit: Annotated[float | None, typer.Option(help="Exit after this many idle seconds.")] = None,
    dlq_topic: Annotated[str | None, typer.Option(help="Dead-letter topic (default marketpipe.dlq).")] = None,
    create_topics: Annotated[bool, typer.Option(help="Create the topics first if missing.")] = True,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Sink processes sharing the topic's partitions (one consumer group; at most one per partition).",
        ),
    ] = 1,
) -> None:
    """Run the sink: Kafka → PostgreSQL (+offsets) → Redis, until SIGTERM/Ctrl-C."""
    from marketpipe.config import get_settings
    from marketpipe.db import connect, database_dsn, migrate
    from marketpipe.runtime.kafka import bootstrap as resolve_bootstrap
    from marketpipe.runtime.redis import RedisService
    from marketpipe.stream.kinds import KINDS
    from marketpipe.stream.settings import StreamSettings
    from marketpipe.stream.sink import Sink, SinkError
    from marketpipe.stream.topics import DLQ, TopicSpec, default_specs, ensure_topics

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if kind not in KINDS:
        raise typer.BadParameter(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    if workers > 1 and max_messages is not None:
        raise typer.BadParameter("--max-messages counts one process's messages: use it with --workers 1")
    settings = get_settings()
    stream = StreamSettings()
    updates: dict[str, object] = {}
    if batch_size is not None:
        updates["batch_size"] = batch_size
    if metrics_port is not None:
        updates["metrics_port"] = metrics_port
    if updates:
        stream = stream.model_copy(update=updates)
    servers = bootstrap or resolve_bootstrap(settings)
    chosen = KINDS[kind] if topic is None else KINDS[kind].with_topic(topic)
    dlq = dlq_topic or DLQ
    if create_topics:
        specs = [
            s
            for s in default_specs(stream.partitions, stream.replication_factor)
            if s.name in (chosen.topic, dlq)
        ]
        known = {s.name for s in specs}
        specs += [TopicSpec(n, 1, stream.replication_factor) for n in (chosen.topic, dlq) if n not in known]
        ensure_topics(servers, specs)
    redis_url = RedisService(settings).start()
    dsn = database_dsn(settings)
    with connect(dsn) as conn:
        migrate(conn)  # idempotent: the sink's tables and its offsets table exist before it starts
    if workers > 1:
        from marketpipe.stream.workers import WorkerSpec, run_workers

        spec = WorkerSpec(
            kind=kind, topic=chosen.topic, bootstrap=servers, dsn=dsn, redis_url=redis_url,
            settings=stream.model_dump(), group_id=group, dlq_topic=dlq, idle_exit_s=idle_exit,
        )  # fmt: skip
        raise typer.Exit(run_workers(spec, workers))
    runner = Sink(
        chosen,
        bootstrap=servers,
        dsn=dsn,
        redis_url=redis_url,
        settings=stream,
        group_id=group,
        dlq_topic=dlq,
    )
    runner.install_signal_handlers()
    try:
        metrics = runner.run(max_messages=max_messages, idle_exit_s=idle_exit)
    except SinkError as exc:
        # Fatal for this process (fenced, schema problem...): a clear line and a non-zero exit, so the
        # orchestrator restarts or alerts instead of a sink that runs and does nothing.
        logging.getLogger("marketpipe.stream.sink").error("sink %s stopped: %s", kind, exc)
        typer.echo(f"error: sink {kind}: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"sink {kind}: {int(metrics.totals.get('messages_in', 0))} messages, "
        f"{int(metrics.totals.get('rows_written', 0))} rows, {int(metrics.totals.get('dlq', 0))} to the DLQ"
    )


_mount_producers()

if __name__ == "__main__":
    sys.exit(app())
