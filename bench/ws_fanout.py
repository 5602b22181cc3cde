"""WebSocket fan-out benchmark: 1,000 concurrent clients on loopback while trades stream, deltas vs snapshots.

Everything is real and local: an Apache Kafka broker, embedded PostgreSQL and Redis, the sink
(``marketpipe stream sink trades``, its own process), the API (``marketpipe serve``'s app and uvicorn
configuration, its own process so its CPU and memory are its own) and a steady producer
(``--rate`` trades/s over 500 symbols, trade time = send time).

Then, in the same run and against the same API process:

1. ``--clients`` WebSocket clients (spread over ``--client-procs`` processes) in the default mode:
   a snapshot, then paced deltas;
2. the same number of clients in ``?mode=snapshot``: every push is the whole feed (the seed
   backend's behaviour) — the baseline.

For each: messages delivered per second (all clients), per client, MB/s, delivery lag from the sink's
commit (the ``committed_ms`` every push carries: the sink's clock after its PostgreSQL commit, of the
oldest change in the push) to the client's receipt, p50/p99/max, and the API process's CPU (% of one
core) and RSS. Target: p99 ≤ 250 ms with 1,000 delta clients.

Usage: ``PYTHONPATH=src .venv/bin/python bench/ws_fanout.py [--clients 1000] [--seconds 20] [--rate 500]``
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import psycopg
import redis
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
console = Console(width=170)


# -- the API process ---------------------------------------------------------------------------------


def serve(port: int, dsn: str, redis_url: str, interval: float) -> None:
    import uvicorn

    from marketpipe.serve.app import create_app
    from marketpipe.serve.cli import uvicorn_config
    from marketpipe.serve.settings import ApiSettings

    api = ApiSettings(_env_file=None, push_interval_s=interval)  # type: ignore[call-arg]
    uvicorn.Server(
        uvicorn_config(create_app(dsn, redis_url, api), "127.0.0.1", port, api, log_level="warning")
    ).run()


# -- clients -----------------------------------------------------------------------------------------


def _committed_ms(text: str) -> int | None:
    head = text[:400]
    at = head.find('"committed_ms":')
    if at < 0:
        return None
    rest = head[at + 15 :]
    end = 0
    while end < len(rest) and rest[end].isdigit():
        end += 1
    return int(rest[:end]) if end else None


async def _clients(url: str, n: int, start_at: float, end_at: float) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    lags: list[int] = []
    counts = {"messages": 0, "bytes": 0, "connected": 0, "failed": 0, "closed": 0}
    gate = asyncio.Semaphore(50)  # handshakes in flight

    async def one() -> None:
        try:
            async with gate:
                ws = await connect(url, max_size=None, open_timeout=60, ping_interval=None)
                await asyncio.wait_for(ws.recv(), 60)  # the snapshot on connect
            counts["connected"] += 1
        except Exception:
            counts["failed"] += 1
            return
        try:
            while True:
                left = end_at - time.time()
                if left <= 0:
                    break
                try:
                    text = await asyncio.wait_for(ws.recv(), left)
                except TimeoutError:
                    break
                now = time.time()
                if now < start_at:
                    continue
                counts["messages"] += 1
                counts["bytes"] += len(text)
                committed = _committed_ms(text)  # type: ignore[arg-type]
                if committed is not None:
                    lags.append(int(now * 1000) - committed)
        except Exception as exc:
            counts["closed"] += 1
            counts.setdefault("error", repr(exc)[:200])  # type: ignore[arg-type]
        finally:
            await ws.close()

    await asyncio.gather(*[one() for _ in range(n)])
    return {**counts, "lags": lags}


def client_proc(url: str, n: int, start_at: float, end_at: float, out: Any) -> None:
    out.put(asyncio.run(_clients(url, n, start_at, end_at)))


# -- one phase ---------------------------------------------------------------------------------------


def phase(
    api_pid: int, url: str, clients: int, procs: int, connect_s: float, seconds: float
) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + connect_s
    end_at = start_at + seconds
    workers = [
        ctx.Process(
            target=client_proc, args=(url, clients // procs + (i < clients % procs), start_at, end_at, out)
        )
        for i in range(procs)
    ]
    for w in workers:
        w.start()
    api = psutil.Process(api_pid)
    time.sleep(max(0.0, start_at - time.time()))
    cpu0 = sum(api.cpu_times()[:2])
    wall0 = time.monotonic()
    rss_peak = 0
    while time.time() < end_at:
        rss_peak = max(rss_peak, api.memory_info().rss)
        time.sleep(0.5)
    cpu = (sum(api.cpu_times()[:2]) - cpu0) / (time.monotonic() - wall0)
    results = [out.get(timeout=300) for _ in workers]
    errors = {r.get("error") for r in results if r.get("error")}
    if errors:
        console.print(f"client errors: {errors}")
    for w in workers:
        w.join(60)
    lags = sorted(lag for r in results for lag in r["lags"])
    total = {k: sum(r[k] for r in results) for k in ("messages", "bytes", "connected", "failed", "closed")}
    return {**total, "lags": lags, "cpu": cpu, "rss": rss_peak, "seconds": seconds}


def pct(values: list[int], q: float) -> float:
    return float(values[min(len(values) - 1, int(q * len(values)))]) if values else float("nan")


# -- main --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--connect-seconds", type=float, default=40.0, help="Time allowed for the clients to connect."
    )
    parser.add_argument("--rate", type=int, default=500, help="Trades per second streamed meanwhile.")
    parser.add_argument("--interval", type=float, default=None, help="push_interval_s (default: the API's).")
    parser.add_argument(
        "--serve", nargs=4, metavar=("PORT", "DSN", "REDIS", "INTERVAL"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1], args.serve[2], float(args.serve[3]))
        return

    from marketpipe.config import Settings
    from marketpipe.runtime.kafka import ApacheKafkaBroker, ensure_jars, free_port
    from marketpipe.runtime.postgres import PostgresService
    from marketpipe.runtime.redis import RedisService
    from marketpipe.serve.settings import ApiSettings
    from marketpipe.stream.topics import TopicSpec, ensure_topics

    interval = args.interval if args.interval is not None else ApiSettings(_env_file=None).push_interval_s  # type: ignore[call-arg]
    root = Path(tempfile.mkdtemp(prefix="mp-wsbench-"))
    root.chmod(0o755)
    settings = Settings(_env_file=None, data_dir=root)  # type: ignore[call-arg]
    pg, rds = PostgresService(settings), RedisService(settings)
    libs = ensure_jars(
        Path(os.environ.get("MARKETPIPE_KAFKA_LIBS") or REPO / ".marketpipe" / "kafka" / "libs")
    )
    kafka = ApacheKafkaBroker(work_dir=root / "kafka", libs_dir=libs, heap="512m")
    procs: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    try:
        console.print("starting PostgreSQL, Redis, Kafka…")
        from marketpipe.db import migrate

        dsn, redis_url = pg.start(), rds.start()
        with psycopg.connect(dsn) as conn:
            migrate(conn)
        bootstrap = kafka.start(timeout=240)
        topic = "sp500-websocket-trades"
        ensure_topics(
            bootstrap, [TopicSpec(topic, 3), TopicSpec("marketpipe.dlq", 1), TopicSpec(f"{topic}-warmup", 1)]
        )
        sink_log = open(Path(tempfile.gettempdir()) / "ws_fanout_sink.log", "wb")  # noqa: SIM115
        sink_env = {**env, "MARKETPIPE_DATABASE_URL": dsn, "MARKETPIPE_REDIS_URL": redis_url,
                    "MARKETPIPE_DATA_DIR": str(root / "data"), "MARKETPIPE_STREAM_LOG_EVERY_S": "3600"}  # fmt: skip
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "marketpipe", "stream", "sink", "trades", "--bootstrap", bootstrap, "--no-create-topics"],
            env=sink_env, stdout=subprocess.DEVNULL, stderr=sink_log))  # fmt: skip
        port = free_port()
        api = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port), dsn, redis_url, str(interval)], env=env
        )
        procs.append(api)
        total_s = 2 * (args.connect_seconds + args.seconds) + 60
        procs.append(subprocess.Popen(
            [sys.executable, str(REPO / "bench" / "stream_sink.py"), "--steady-producer", bootstrap, topic,
             str(args.rate), str(total_s)], env=env, stdout=subprocess.DEVNULL))  # fmt: skip
        client = redis.Redis.from_url(redis_url)
        deadline = time.monotonic() + 180
        while client.hlen("sp500_realtime_data") < 450:  # the sink has seen (nearly) every symbol
            if time.monotonic() > deadline:
                raise SystemExit("the sink did not fill Redis within 180 s")
            time.sleep(0.5)
        url = f"ws://127.0.0.1:{port}/api/v1/ws/sp500"
        console.print(
            f"{args.clients} clients, {args.rate} trades/s, push interval {interval:.3f} s, {args.seconds:.0f} s each"
        )
        results = {}
        import httpx

        def counters() -> str:
            with psycopg.connect(dsn) as conn:
                rows = conn.execute("SELECT count(*) FROM sp500_websocket_trades").fetchone()[0]  # type: ignore[index]
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
            refreshes = [
                ln.rsplit(" ", 1)[1]
                for ln in text.splitlines()
                if ln.startswith("marketpipe_api_ws_refreshes_total{")
            ]
            return f"rows={rows} refreshes={refreshes}"

        for mode, suffix in (("delta", ""), ("snapshot (baseline)", "?mode=snapshot")):
            console.print(f"phase: {mode} ({counters()})")
            results[mode] = phase(
                api.pid, url + suffix, args.clients, args.client_procs, args.connect_seconds, args.seconds
            )

        table = Table(
            title=f"WebSocket fan-out, {args.clients} clients on loopback, {args.rate} trades/s (2-core host)"
        )
        for col in ("mode", "connected", "msgs/s (all)", "msgs/s/client", "MB/s", "lag p50 ms", "lag p99 ms",
                    "lag max ms", "API CPU %", "API RSS MiB"):  # fmt: skip
            table.add_column(col, justify="right")
        for mode, r in results.items():
            lags, s = r["lags"], r["seconds"]
            table.add_row(
                mode, f"{r['connected']}/{args.clients}", f"{r['messages'] / s:,.0f}",
                f"{r['messages'] / s / max(1, r['connected']):.2f}", f"{r['bytes'] / s / 1e6:.1f}",
                f"{pct(lags, 0.5):.0f}", f"{pct(lags, 0.99):.0f}", f"{lags[-1] if lags else float('nan'):.0f}",
                f"{100 * r['cpu']:.0f}", f"{r['rss'] / 2**20:.0f}",
            )  # fmt: skip
        console.print(f"after: {counters()}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        console.print(table)
        for mode, r in results.items():
            console.print(f"{mode}: failed to connect {r['failed']}, dropped while reading {r['closed']}")
        pushes = [line for line in httpx.get(f"http://127.0.0.1:{port}/metrics").text.splitlines()
                  if line.startswith(("marketpipe_api_ws_pushes_total", "marketpipe_api_ws_refreshes_total",
                                      "marketpipe_api_ws_dropped_total"))]  # fmt: skip
        console.print("API counters: " + "; ".join(pushes))
        d, b = results["delta"], results["snapshot (baseline)"]
        if b["bytes"] and d["bytes"]:
            console.print(
                f"delta vs snapshot: {b['bytes'] / d['bytes']:.1f}× fewer bytes, p99 lag "
                f"{pct(d['lags'], 0.99):.0f} ms vs {pct(b['lags'], 0.99):.0f} ms, API CPU "
                f"{100 * d['cpu']:.0f} % vs {100 * b['cpu']:.0f} %; target p99 ≤ 250 ms: "
                f"{'met' if pct(d['lags'], 0.99) <= 250 else 'NOT met'}"
            )
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        kafka.stop()
        rds.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
