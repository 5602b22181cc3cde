"""``marketpipe demo``: the whole system, offline, on embedded services and the provider sandbox.

1. start PostgreSQL, Redis, the sandbox and a Kafka broker (Apache Kafka when Java is available,
   else the in-memory Tansu broker) and apply the schema;
2. collect every dataset from the sandbox, with free-tier quotas enforced;
3. stream for ``--seconds``: sharded Finnhub trade producers and the Bithumb ticker poller into Kafka,
   and the sinks from Kafka into PostgreSQL and Redis;
4. print what landed, then stop everything it started (unless ``--keep``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import orjson
import psycopg
import redis
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from marketpipe.config import PROVIDERS, Settings, get_settings
from marketpipe.redaction import redact_url
from marketpipe.runtime.base import LocalService

# Wide enough for the summary tables even when the output is a pipe or a CI log.
console = Console(width=None if sys.stdout.isatty() else 150)

#: How many sandbox keys the demo invents per provider when none are configured (any key works
#: there). Finnhub allows one WebSocket per key and ~50 symbols each: 12 keys let two producer shards
#: stream the whole S&P 500.
DEMO_KEYS_PER_PROVIDER = 3
DEMO_KEYS = {"finnhub": 12}


def _demo_environment(kafka_flavour: str) -> dict[str, str]:
    """Environment for the demo and its child processes: sandbox mode, demo keys, chosen broker."""
    env = {"MARKETPIPE_SANDBOX": "true", "MARKETPIPE_KAFKA_FLAVOUR": kafka_flavour}
    for provider in PROVIDERS:
        var = f"MARKETPIPE_{provider.upper()}_KEYS"
        if provider not in ("bithumb", "sp500_list") and not os.environ.get(var):
            count = DEMO_KEYS.get(provider, DEMO_KEYS_PER_PROVIDER)
            env[var] = ",".join(_demo_key(provider, i) for i in range(1, count + 1))
    return env


def _demo_key(provider: str, index: int) -> str:
    """A made-up key the sandbox accepts (FRED checks the real format: 32 lower-case alphanumerics)."""
    if provider == "fred":
        return hashlib.md5(f"demo-fred-{index}".encode(), usedforsecurity=False).hexdigest()
    return f"demo-{provider}-{index}"


def _pick_kafka(requested: str) -> str:
    if requested != "auto":
        return requested
    # Apache Kafka needs Java, and Maven to fetch its jars once (`make test` does that too).
    return "apache" if shutil.which("java") and shutil.which("mvn") else "tansu"


def service_label(service: LocalService, url: str) -> str:
    """How the demo names a service it uses: the embedded PostgreSQL's socket URL is noise, a configured
    server is shown (password hidden) so nobody mistakes it for a throw-away one."""
    if service.configured_url() is not None:
        return f"external {redact_url(url)}"
    return "embedded" if service.name == "postgres" else redact_url(url)


def _start_services(settings: Settings) -> list[str]:
    from marketpipe.db import connect, migrate
    from marketpipe.runtime import services

    started = []
    for service in services(settings, kafka=True, sandbox=True):
        with console.status(f"starting {service.name}…"):
            url = service.start()
        started.append(service.name)
        console.print(f"[green]✓[/] {service.name:9} {service_label(service, url)}")
    with connect(settings=settings) as conn:
        applied = migrate(conn)
    console.print(
        f"[green]✓[/] schema    {len(applied)} migration(s) applied"
        if applied
        else "[green]✓[/] schema    up to date"
    )
    return started


def av_demo_share(settings: Settings, specs: list[Any]) -> int:
    """Items per Alpha Vantage dataset so that every one of them gets calls from today's free budget.

    Alpha Vantage allows 25 calls per key per day. Run in plain priority order, the one-call refreshes
    and ``market_news_sentiment``'s 25 planned queries, then ``company_overview`` and the statement
    sweeps spend the whole budget before ``earnings_history`` gets a call. The demo gives every
    multi-item AV dataset an equal share instead (the one-call ones need one each); the universe is
    swept alphabetically, so AAPL is among the first symbols of every share.
    """
    from marketpipe.engine.registry import single_item
    from marketpipe.providers.alpha_vantage import PROVIDER

    per_key = min(w.limit for w in PROVIDER.windows if w.seconds == 86_400)
    budget = per_key * max(1, len(settings.keys("alpha_vantage")))
    av = [s for s in specs if s.providers and s.providers[0] == "alpha_vantage"]
    single = [s for s in av if s.items is single_item]
    multi = len(av) - len(single)
    return max(1, (budget - len(single)) // max(1, multi))


def _collect(settings: Settings, limit: int) -> bool:
    from marketpipe.engine.cli import collect_many, summary_table
    from marketpipe.engine.registry import all_datasets
    from marketpipe.engine.runner import RunOptions

    console.rule("collecting every dataset from the sandbox (free-tier quotas on)")
    # The progress bars and the summary table say it all; keep per-run log lines for warnings only.
    logging.getLogger("marketpipe").setLevel(logging.WARNING)
    options = RunOptions.from_env(universe_limit=limit)
    specs = all_datasets()
    # Alpha Vantage's datasets (and what derives from them) run second, each with its share of the day.
    av_names = {s.name for s in specs if s.providers and s.providers[0] == "alpha_vantage"}
    changed = True
    while changed:
        grown = {s.name for s in specs if av_names & set(s.depends_on) and not s.providers}
        changed = not grown <= av_names
        av_names |= grown
    first = [s for s in specs if s.name not in av_names]
    second = [s for s in specs if s.name in av_names]
    share = av_demo_share(settings, second)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        results = collect_many(first, settings=settings, options=options, progress=progress)
        results += collect_many(
            second, settings=settings, options=replace(options, max_items=share), progress=progress
        )
    console.print(summary_table(results))
    return not any(r.status == "failed" for r in results)


def _stream(settings: Settings, seconds: int, env: dict[str, str]) -> None:
    console.rule(f"streaming for {seconds} s: Finnhub WebSocket (2 shards + ETFs) + Bithumb → Kafka → sinks")
    child_env = {**os.environ, **env}
    log_dir = settings.run_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    commands = {
        "sink-trades": ["stream", "sink", "trades"],
        "sink-crypto": ["stream", "sink", "crypto"],
        "sink-etf": ["stream", "sink", "etf"],
        "finnhub-0": ["stream", "produce", "finnhub", "--shard", "0", "--shards", "2"],
        "finnhub-1": ["stream", "produce", "finnhub", "--shard", "1", "--shards", "2"],
        "finnhub-etf": ["stream", "produce", "finnhub", "--universe", "etf", "--shard", "0", "--shards", "1"],
        "bithumb": ["stream", "produce", "bithumb", "--interval", "1"],
    }
    # Finnhub drops both connections when two share a key: the ETF producer gets a key of its own, as
    # it must in production (README: "a key of its own").
    own_env = {"finnhub-etf": {"MARKETPIPE_FINNHUB_KEYS": _demo_key("finnhub", DEMO_KEYS["finnhub"] + 1)}}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    for name, args in commands.items():
        with open(log_dir / f"demo-{name}.log", "wb") as log:
            processes[name] = subprocess.Popen(
                [sys.executable, "-m", "marketpipe", *args],
                env={**child_env, **own_env.get(name, {})},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
    from marketpipe.db import connect

    redis_client = redis.Redis.from_url(_redis_url(settings))
    conn = connect(settings=settings, autocommit=True)  # one connection for the whole progress loop
    try:
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
        ) as progress:
            task = progress.add_task("streaming", total=seconds)
            started = time.monotonic()
            while (elapsed := time.monotonic() - started) < seconds:
                trades = _count(conn, "sp500_websocket_trades")
                tickers = _count(conn, "bithumb_ticker")
                symbols = redis_client.hlen("sp500_realtime_data")
                progress.update(
                    task,
                    completed=elapsed,
                    description=f"trades {trades:,} · tickers {tickers:,} · live symbols {symbols}",
                )
                dead = [n for n, p in processes.items() if p.poll() is not None]
                if dead:
                    console.print(f"[red]stopped early: {', '.join(dead)} (logs in {log_dir})")
                    break
                time.sleep(1)  # a progress refresh, not a wait on the system
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        redis_client.close()
        conn.close()


def _redis_url(settings: Settings) -> str:
    from marketpipe.runtime import RedisService

    return RedisService(settings).start()


def _count(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # table names are ours
    return int(row[0]) if row else 0


def _report(settings: Settings) -> None:
    from marketpipe.db import connect

    console.rule("what landed")
    table = Table(title="rows per table (non-empty)")
    table.add_column("table")
    table.add_column("rows", justify="right")
    with connect(settings=settings) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            ).fetchall()
        ]
        for name in names:
            count = _count(conn, f'"{name}"')
            if count:
                table.add_row(name, f"{count:,}")
    console.print(table)
    client = redis.Redis.from_url(_redis_url(settings))
    try:
        latest = Table(title="Redis: latest prices (sp500_realtime_data, first 8)")
        for column in ("symbol", "price", "volume", "trade time (ms)"):
            latest.add_column(column)
        for symbol, raw in sorted(client.hgetall("sp500_realtime_data").items())[:8]:
            value = orjson.loads(raw)
            latest.add_row(
                symbol.decode() if isinstance(symbol, bytes) else str(symbol),
                str(value.get("price")),
                str(value.get("volume")),
                str(value.get("timestamp")),
            )
        console.print(latest)
        console.print(
            f"Redis hashes: sp500_realtime_data={client.hlen('sp500_realtime_data')} symbols, "
            f"etf_realtime_data={client.hlen('etf_realtime_data')} ETFs, "
            f"crypto_realtime_data={client.hlen('crypto_realtime_data')} markets"
        )
    finally:
        client.close()


def demo_command(
    seconds: Annotated[int, typer.Option(help="How long to stream.")] = 30,
    limit: Annotated[
        int, typer.Option(help="Symbols per progressive sweep (the full universe is ~500).")
    ] = 40,
    kafka: Annotated[str, typer.Option(help="Broker: auto | apache | tansu.")] = "auto",
    keep: Annotated[bool, typer.Option(help="Leave the services running (then `marketpipe serve`).")] = False,
    data_dir: Annotated[Path | None, typer.Option(help="Where the demo keeps its data.")] = None,
) -> None:
    """Run the whole system offline: services, collection, streaming, a report; then stop."""
    env = _demo_environment(_pick_kafka(kafka))
    if data_dir is not None:
        env["MARKETPIPE_DATA_DIR"] = str(data_dir)
    os.environ.update(env)
    get_settings.cache_clear()
    settings = get_settings()
    ok = True
    console.rule("marketpipe demo: embedded services + provider sandbox")
    try:
        _start_services(settings)
        ok = _collect(settings, limit)
        _stream(settings, seconds, env)
        _report(settings)
    except psycopg.Error as exc:
        console.print(f"[red]database error: {exc}")
        ok = False
    finally:
        if keep:
            console.print("services left running: try `marketpipe serve` and open http://127.0.0.1:8000/")
        else:
            from marketpipe.runtime import services

            for service in reversed(services(settings, kafka=True, sandbox=True)):
                service.stop()
            console.print("services stopped (data kept in the data directory; `make clean` removes it)")
    if not ok:
        raise typer.Exit(1)
