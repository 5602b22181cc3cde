"""``marketpipe stream produce {finnhub,bithumb,topgainers}`` — the producer commands.

Mounted by :mod:`marketpipe.stream.cli` as ``produce``. Each command runs until SIGINT/SIGTERM (or
``--max-seconds``), then flushes Kafka and prints its final counters.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from pydantic import SecretStr

from marketpipe.config import Settings, get_settings
from marketpipe.stream import topics
from marketpipe.stream.producers.bithumb import BithumbProducer, BithumbProducerConfig
from marketpipe.stream.producers.finnhub import FinnhubProducer, FinnhubProducerConfig
from marketpipe.stream.producers.finnhub_ws import FINNHUB_SYMBOL_CAP
from marketpipe.stream.producers.publisher import lost
from marketpipe.stream.producers.runner import ProducerMain, run_producer
from marketpipe.stream.producers.sharding import Shard, ShardConfigError, resolve_shard
from marketpipe.stream.producers.stats import ProducerStats, logfmt, serve_metrics
from marketpipe.stream.producers.top_gainers import TopGainersProducer, TopGainersProducerConfig
from marketpipe.stream.producers.universe import (
    UniverseError,
    etf_symbols,
    parse_symbol_list,
    sp500_symbols,
    symbols_from_file,
)

app = typer.Typer(
    help="Run a Kafka producer (Finnhub trades, Bithumb tickers, top-gainers trades).", no_args_is_help=True
)
log = logging.getLogger("marketpipe.stream.producers")

BootstrapOpt = Annotated[
    str | None,
    typer.Option("--bootstrap", help="Kafka bootstrap servers (default: settings / local broker)."),
]
MaxSecondsOpt = Annotated[
    float | None, typer.Option("--max-seconds", help="Stop after this many seconds (demo, smoke tests).")
]
LogIntervalOpt = Annotated[
    float, typer.Option("--log-interval", help="Seconds between rate/error log lines.")
]
LogLevelOpt = Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING, ERROR.")]
MetricsPortOpt = Annotated[
    int,
    typer.Option(
        "--metrics-port", envvar="MARKETPIPE_PRODUCER_METRICS_PORT", help="Prometheus /metrics port; 0 = off."
    ),
]


def _setup_logging(level: str) -> None:
    # The top-level CLI installs a redacting handler; standalone use gets a plain one.
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger().setLevel(level.upper())


def _bootstrap(settings: Settings, explicit: str | None) -> str:
    if explicit:
        return explicit
    from marketpipe.runtime.kafka import bootstrap

    return bootstrap(settings)


#: --universe: where the symbols come from, the topic they go to, the ``source`` of their messages.
UNIVERSES = {
    "sp500": (sp500_symbols, topics.SP500_TRADES, "finnhub_ws"),
    "etf": (etf_symbols, topics.ETF_TRADES, "finnhub_etf_ws"),
}


def finnhub_token(settings: Settings, index: int) -> SecretStr:
    """One Finnhub key for a single-connection producer (top gainers): key ``index`` of the pool."""
    keys = settings.keys("finnhub")
    if keys:
        return keys[index % len(keys)]
    if settings.sandbox:
        return SecretStr(f"sandbox-finnhub-topgainers-{index}")
    raise _fail("no Finnhub key: set MARKETPIPE_FINNHUB_KEYS")


def shard_tokens(settings: Settings, shard: Shard, universe: str = "sp500") -> list[SecretStr]:
    """The keys shard ``i`` of ``N`` owns: pool entries i, i+N, i+2N, … (disjoint across shards).

    Finnhub allows one connection per key — two connections sharing a key are both dropped — so
    shards never share keys (give the top-gainers deployment its own MARKETPIPE_FINNHUB_KEYS). In
    sandbox mode without keys, each shard gets its own placeholders.
    """
    keys = settings.keys("finnhub")
    if keys:
        mine = keys[shard.index :: shard.count]
        if not mine:
            raise _fail(f"{len(keys)} Finnhub key(s) for {shard.count} shards: shard {shard.index} has none")
        return mine
    if settings.sandbox:
        prefix = "sandbox-finnhub" if universe == "sp500" else f"sandbox-finnhub-{universe}"
        return [SecretStr(f"{prefix}-{shard.index}-{j}") for j in range(12)]
    raise _fail("no Finnhub key: set MARKETPIPE_FINNHUB_KEYS (comma separated; at least one per shard)")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _run(
    main: ProducerMain,
    stats: ProducerStats,
    log_interval: float,
    max_seconds: float | None,
    metrics_port: int,
) -> None:
    """Serve metrics if asked, run the producer to the end, print the summary line."""
    if metrics_port:
        serve_metrics(stats, metrics_port)
    asyncio.run(run_producer(main, stats, log, log_interval=log_interval, max_seconds=max_seconds))
    _summary(stats)
    missing = lost(stats)
    if missing:
        # Lost data is a failure: the orchestrator must see it (restart, alert), never a clean exit.
        log.error(
            logfmt({"event": "producer.undelivered", "producer": stats.producer, "undelivered": missing})
        )
        typer.echo(f"error: {missing} messages were not delivered to Kafka", err=True)
        raise typer.Exit(1)


def _summary(stats: ProducerStats) -> None:
    """One final line: ``finished producer=finnhub delivered=... produced=...``."""
    typer.echo("finished " + logfmt({"producer": stats.producer, **dict(sorted(stats.snapshot().items()))}))


@app.command("finnhub")
def finnhub(
    shard: Annotated[
        int | None,
        typer.Option("--shard", help="This shard's index, 0-based (default: env / StatefulSet ordinal)."),
    ] = None,
    shards: Annotated[
        int | None, typer.Option("--shards", help="Number of shards (default: MARKETPIPE_SHARDS or 1).")
    ] = None,
    symbols: Annotated[
        str | None, typer.Option("--symbols", help="Comma-separated universe instead of sp500_companies.")
    ] = None,
    symbols_file: Annotated[
        Path | None, typer.Option("--symbols-file", help="File with the universe, one symbol per line.")
    ] = None,
    universe_name: Annotated[
        str,
        typer.Option(
            "--universe",
            help="sp500 (sp500_companies → sp500-websocket-trades) or etf (etf_basic_info → etf-trades).",
        ),
    ] = "sp500",
    topic: Annotated[str | None, typer.Option("--topic", help="Default: the universe's topic.")] = None,
    max_symbols: Annotated[
        int, typer.Option("--max-symbols", help="Symbol cap per WebSocket connection.")
    ] = FINNHUB_SYMBOL_CAP,
    subscribe_rate: Annotated[
        float, typer.Option("--subscribe-rate", help="Subscribe messages per second.")
    ] = 20.0,
    bootstrap: BootstrapOpt = None,
    max_seconds: MaxSecondsOpt = None,
    log_interval: LogIntervalOpt = 30.0,
    log_level: LogLevelOpt = "INFO",
    metrics_port: MetricsPortOpt = 0,
) -> None:
    """Stream S&P 500 (or ETF) trades of this shard's symbols from the Finnhub WebSocket to Kafka.

    Finnhub allows one connection per key: an ETF producer needs keys of its own (its own
    MARKETPIPE_FINNHUB_KEYS), one per 50 ETFs.
    """
    _setup_logging(log_level)
    settings = get_settings()
    if universe_name not in UNIVERSES:
        raise _fail(f"unknown universe {universe_name!r}; choose from {', '.join(UNIVERSES)}")
    load_universe, default_topic, source = UNIVERSES[universe_name]
    try:
        assigned = resolve_shard(shard, shards)
    except ShardConfigError as exc:
        raise _fail(str(exc)) from None
    # Connection gaps go to stream_gaps in the database the universe comes from (the configured one,
    # or the embedded server the demo runs); a universe given on the command line needs no database.
    gaps_dsn = settings.database_url.get_secret_value() if settings.database_url else None
    if symbols is not None:
        universe = parse_symbol_list(symbols)
    elif symbols_file is not None:
        universe = symbols_from_file(symbols_file)
    else:
        from marketpipe.db import database_dsn

        gaps_dsn = database_dsn(settings)
        try:
            with psycopg.connect(gaps_dsn) as conn:
                universe = load_universe(conn)
        except UniverseError as exc:
            raise _fail(str(exc)) from None
    config = FinnhubProducerConfig(
        bootstrap=_bootstrap(settings, bootstrap),
        ws_url=settings.base_url("finnhub_ws"),
        tokens=shard_tokens(settings, assigned, universe_name),
        universe=universe,
        shard=assigned,
        topic=topic or default_topic,
        source=source,
        pod_name=os.environ.get("HOSTNAME") or f"finnhub-{assigned.index}",
        max_symbols=max_symbols,
        subscribe_rate=subscribe_rate,
        log_interval=log_interval,
        gaps_dsn=gaps_dsn,
    )
    producer = FinnhubProducer(config)
    _run(producer.run, producer.stats, log_interval, max_seconds, metrics_port)


@app.command("bithumb")
def bithumb(
    interval: Annotated[float, typer.Option("--interval", help="Seconds between polls.")] = 1.0,
    markets: Annotated[
        str | None, typer.Option("--markets", help="Comma-separated markets (default: all KRW).")
    ] = None,
    max_chunk: Annotated[
        int | None,
        typer.Option("--max-chunk", help="Most markets per request (default: as many as accepted)."),
    ] = None,
    topic: Annotated[str, typer.Option("--topic")] = topics.BITHUMB_TICKER,
    bootstrap: BootstrapOpt = None,
    max_seconds: MaxSecondsOpt = None,
    log_interval: LogIntervalOpt = 30.0,
    log_level: LogLevelOpt = "INFO",
    metrics_port: MetricsPortOpt = 0,
) -> None:
    """Poll Bithumb tickers of every KRW market and produce the changed ones to Kafka."""
    _setup_logging(log_level)
    settings = get_settings()
    config = BithumbProducerConfig(
        bootstrap=_bootstrap(settings, bootstrap),
        base_url=settings.base_url("bithumb"),
        topic=topic,
        markets=parse_symbol_list(markets) if markets else None,
        interval_s=interval,
        max_chunk=max_chunk,
        http_timeout_s=settings.http_timeout_s,
        log_interval=log_interval,
    )
    producer = BithumbProducer(config)
    _run(producer.run, producer.stats, log_interval, max_seconds, metrics_port)


@app.command("topgainers")
def topgainers(
    topic: Annotated[str, typer.Option("--topic")] = topics.FINNHUB_TRADES,
    key_index: Annotated[int, typer.Option("--key-index", help="Which Finnhub key of the pool to use.")] = 0,
    bootstrap: BootstrapOpt = None,
    max_seconds: MaxSecondsOpt = None,
    log_interval: LogIntervalOpt = 30.0,
    log_level: LogLevelOpt = "INFO",
    metrics_port: MetricsPortOpt = 0,
) -> None:
    """Stream trades of the latest top-gainers batch; follow new batches via LISTEN top_gainers_updated."""
    _setup_logging(log_level)
    settings = get_settings()
    from marketpipe.db import database_dsn

    config = TopGainersProducerConfig(
        bootstrap=_bootstrap(settings, bootstrap),
        ws_url=settings.base_url("finnhub_ws"),
        token=finnhub_token(settings, key_index),
        dsn=database_dsn(settings),
        topic=topic,
        log_interval=log_interval,
    )
    producer = TopGainersProducer(config)
    _run(producer.run, producer.stats, log_interval, max_seconds, metrics_port)


__all__ = ["Shard", "app"]
