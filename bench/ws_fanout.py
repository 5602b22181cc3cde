"""WebSocket fan-out benchmark: up to 1,000 concurrent clients on loopback while trades stream, deltas vs snapshots.

Everything is real and local: an Apache Kafka broker, embedded PostgreSQL and Redis, the sink
(``marketpipe stream sink trades``, its own process), the API (``marketpipe serve``'s app and uvicorn
configuration, its own process so its CPU and memory are its own) and a steady producer
(``--rate`` trades/s over 500 symbols, trade time = send time).

Then, for each client count in ``--clients`` (e.g. ``100,500,1000``), in the same run and against the
same API process:

1. that many WebSocket clients (spread over ``--client-procs`` processes) in the default mode: a
   snapshot, then paced deltas;
2. the same number of clients in ``?mode=snapshot``: every push is the whole feed (the seed
   backend's behaviour) — the baseline.

A phase starts measuring once every client has its first snapshot. For each: pushes delivered per
second (all clients, and per client next to the API's feed refreshes per second: equal means every
client got every refresh, none coalesced), MB/s, delivery lag from the sink's commit (the
``committed_ms`` every push carries: the sink's clock after its PostgreSQL commit, of the oldest change
in the push; same host, same clock) to the client's receipt, p50/p99/max, the API process's CPU (% of
one core) and peak RSS, and where the rest of the 2 cores went (the clients, the sink, Kafka, the
producer, everything else on the host). Target: p99 ≤ 250 ms with 1,000 delta clients.

Clients: ``--client lean`` (default) is a minimal WebSocket client on a raw asyncio protocol (handshake,
frame parsing, pong replies; reads ``version`` and ``committed_ms`` from the head of each message, does
not parse the rows unless ``--parse``), so that the load generator takes as little as possible of the
cores the server needs; ``--client websockets`` uses the websockets library (what the tests use; it
offers permessage-deflate, which the API accepts only with ``--compression``).

Usage: ``PYTHONPATH=src .venv/bin/python bench/ws_fanout.py [--clients 100,500,1000] [--seconds 20] [--rate 500]``
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import psutil
import psycopg
import redis
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
console = Console(width=200)


# -- the API process ---------------------------------------------------------------------------------


def serve(port: int, dsn: str, redis_url: str, interval: float) -> None:
    import uvicorn

    from marketpipe.serve.app import create_app
    from marketpipe.serve.cli import uvicorn_config
    from marketpipe.serve.settings import ApiSettings

    # Other knobs (MARKETPIPE_API_WS_COMPRESSION, …) come from the environment.
    api = ApiSettings(_env_file=None, push_interval_s=interval)  # type: ignore[call-arg]
    uvicorn.Server(
        uvicorn_config(create_app(dsn, redis_url, api), "127.0.0.1", port, api, log_level="warning")
    ).run()


# -- clients -----------------------------------------------------------------------------------------

_HEAD = re.compile(rb'"version":(\d+),"committed_ms":(\d+)')


class Stats:
    """What the clients of one process saw inside the measuring window."""

    def __init__(self) -> None:
        self.start_at = float("inf")
        self.end_at = float("inf")
        self.messages = self.bytes = self.connected = self.failed = self.closed = 0
        self.version_span = 0  # sum over clients of (last − first version seen in the window)
        self.lags: list[int] = []
        self.errors: set[str] = set()

    def seen(self, payload: bytes, first: list[int]) -> None:
        """One message: ``first`` is the client's [first, last] version in the window."""
        now = time.time()
        if not self.start_at <= now < self.end_at:
            return
        self.messages += 1
        self.bytes += len(payload)
        m = _HEAD.search(payload, 0, 300)
        if m is None:
            self.errors.add(f"no version/committed_ms in {payload[:80]!r}")
            return
        version, committed = int(m[1]), int(m[2])
        self.lags.append(int(now * 1000) - committed)
        if first[0] < 0:
            first[0] = version
        first[1] = version

    def result(self, spans: list[list[int]]) -> dict[str, Any]:
        return {
            "messages": self.messages, "bytes": self.bytes, "connected": self.connected,
            "failed": self.failed, "closed": self.closed, "lags": self.lags, "errors": sorted(self.errors),
            "version_span": sum(b - a for a, b in spans if a >= 0),
        }  # fmt: skip


class LeanClient(asyncio.Protocol):
    """A WebSocket client on a raw protocol: RFC 6455 framing (no extensions), as little CPU as may be."""

    def __init__(self, host: str, path: str, stats: Stats, parse: bool) -> None:
        self.host, self.path, self.stats, self.parse = host, path, stats, parse
        self.buf = bytearray()
        self.open = False
        self.first: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.versions = [-1, -1]
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(  # type: ignore[union-attr]
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self._fail(bytes(buf[:40]).decode("latin-1"))
                return
            del buf[: end + 4]
            self.open = True
        pos = 0
        while len(buf) - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            n, off = b1 & 0x7F, pos + 2
            if n == 126:
                if len(buf) - pos < 4:
                    break
                n, off = int.from_bytes(buf[pos + 2 : pos + 4], "big"), pos + 4
            elif n == 127:
                if len(buf) - pos < 10:
                    break
                n, off = int.from_bytes(buf[pos + 2 : pos + 10], "big"), pos + 10
            if len(buf) < off + n:
                break
            payload = bytes(buf[off : off + n])
            pos = off + n
            opcode = b0 & 0x0F
            if b1 & 0x80 or not b0 & 0x80 or b0 & 0x70:
                self._fail(f"unexpected frame header {b0:#x} {b1:#x} (masked, fragmented or compressed)")
                return
            if opcode == 1:
                self._message(payload)
            elif opcode == 9:  # ping → pong (client frames are masked; a zero mask keeps the bytes)
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)  # type: ignore[union-attr]
            elif opcode == 8:
                self._fail("closed by the server")
                return
        del buf[:pos]

    def _message(self, payload: bytes) -> None:
        if not self.first.done():
            self.first.set_result(None)  # the snapshot on connect
            return
        if self.parse:
            orjson.loads(payload)
        self.stats.seen(payload, self.versions)

    def _fail(self, why: str) -> None:
        if not self.first.done():
            self.first.set_exception(ConnectionError(why))
        else:
            self.stats.closed += 1
            self.stats.errors.add(why)
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.first.done():
            self.first.set_exception(ConnectionError(repr(exc)))


async def _lean_clients(url: str, n: int, stats: Stats, parse: bool, ready: Any, go: Any, times: Any) -> None:
    host_port, _, path = url.removeprefix("ws://").partition("/")
    host, _, port = host_port.partition(":")
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(50)  # handshakes in flight
    clients: list[LeanClient] = []

    async def one() -> None:
        try:
            async with gate:
                _, proto = await loop.create_connection(
                    lambda: LeanClient(host_port, "/" + path, stats, parse), host, int(port)
                )
                await asyncio.wait_for(proto.first, 60)
            clients.append(proto)
            stats.connected += 1
        except Exception as exc:
            stats.failed += 1
            stats.errors.add(repr(exc)[:200])

    await asyncio.gather(*[one() for _ in range(n)])
    ready.put((stats.connected, stats.failed))
    await loop.run_in_executor(None, go.wait)
    stats.start_at, stats.end_at = times[0], times[1]
    await asyncio.sleep(max(0.0, stats.end_at - time.time()) + 0.5)
    spans = [c.versions for c in clients]
    for c in clients:
        if c.transport is not None:
            c.transport.abort()
    stats.spans = spans  # type: ignore[attr-defined]


async def _websockets_clients(
    url: str, n: int, stats: Stats, parse: bool, ready: Any, go: Any, times: Any
) -> None:
    from websockets.asyncio.client import connect

    gate = asyncio.Semaphore(50)
    conns: list[Any] = []
    spans: list[list[int]] = []
    readers: list[asyncio.Task[None]] = []

    async def read(ws: Any) -> None:  # from the connect on: nothing piles up before the window
        versions = [-1, -1]
        spans.append(versions)
        try:
            while True:
                text = await ws.recv(decode=False)
                if parse:
                    orjson.loads(text)
                stats.seen(text, versions)
        except Exception as exc:
            if time.time() < stats.end_at:
                stats.closed += 1
                stats.errors.add(repr(exc)[:200])

    async def one() -> None:
        try:
            async with gate:
                ws = await connect(url, max_size=None, open_timeout=60, ping_interval=None)
                await asyncio.wait_for(ws.recv(), 60)
            conns.append(ws)
            readers.append(asyncio.create_task(read(ws)))
            stats.connected += 1
        except Exception as exc:
            stats.failed += 1
            stats.errors.add(repr(exc)[:200])

    await asyncio.gather(*[one() for _ in range(n)])
    ready.put((stats.connected, stats.failed))
    await asyncio.get_running_loop().run_in_executor(None, go.wait)
    stats.start_at, stats.end_at = times[0], times[1]
    await asyncio.sleep(max(0.0, stats.end_at - time.time()) + 0.5)
    for ws in conns:
        ws.transport.abort()
    for task in readers:
        task.cancel()
    stats.spans = spans  # type: ignore[attr-defined]


def client_proc(kind: str, url: str, n: int, parse: bool, ready: Any, go: Any, times: Any, out: Any) -> None:
    stats = Stats()
    run = _lean_clients if kind == "lean" else _websockets_clients
    asyncio.run(run(url, n, stats, parse, ready, go, times))
    out.put(stats.result(stats.spans))  # type: ignore[attr-defined]


# -- one phase ---------------------------------------------------------------------------------------


class CpuMeter:
    """CPU seconds of named process groups and of the whole host over a window."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = {name: [psutil.Process(pid) for pid in pids] for name, pids in groups.items()}

    def _sample(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, procs in self.groups.items():
            total = 0.0
            for p in procs:
                try:
                    for q in [p, *p.children(recursive=True)]:
                        t = q.cpu_times()
                        total += t.user + t.system
                except psutil.NoSuchProcess:
                    pass
            out[name] = total
        host = psutil.cpu_times()
        out["host"] = (
            host.user + host.system + host.nice + getattr(host, "softirq", 0) + getattr(host, "irq", 0)
        )
        return out

    def start(self) -> None:
        self.t0, self.s0 = time.monotonic(), self._sample()

    def stop(self) -> dict[str, float]:
        s1, wall = self._sample(), time.monotonic() - self.t0
        return {name: (s1[name] - self.s0[name]) / wall for name in s1}


def refreshes(port: int) -> float:
    import httpx

    for line in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text.splitlines():
        if line.startswith('marketpipe_api_ws_refreshes_total{feed="sp500"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def phase(
    api_pid: int, port: int, url: str, clients: int, procs: int, seconds: float, args: Any,
    others: dict[str, list[int]],
) -> dict[str, Any]:  # fmt: skip
    ctx = multiprocessing.get_context("spawn")
    out, ready, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    times = ctx.Array("d", [0.0, 0.0], lock=False)
    counts = [clients // procs + (i < clients % procs) for i in range(procs)]
    workers = [
        ctx.Process(
            target=client_proc, args=(args.client, url, n, args.parse, ready, go, times, out), daemon=True
        )
        for n in counts
        if n
    ]
    for w in workers:
        w.start()
    connected = failed = 0
    for _ in workers:
        c, f = ready.get(timeout=args.connect_seconds)
        connected, failed = connected + c, failed + f
    start_at = time.time() + 1.0
    times[0], times[1] = start_at, start_at + seconds
    go.set()
    meter = CpuMeter({"api": [api_pid], "clients": [w.pid for w in workers if w.pid], **others})
    api = psutil.Process(api_pid)
    time.sleep(max(0.0, start_at - time.time()))
    meter.start()
    refreshes0 = refreshes(port)
    load0 = os.getloadavg()[0]
    rss_peak = 0
    while time.time() < start_at + seconds:
        rss_peak = max(rss_peak, api.memory_info().rss)
        time.sleep(0.5)
    cpu = meter.stop()
    ticks = (refreshes(port) - refreshes0) / seconds
    results = [out.get(timeout=300) for _ in workers]
    for w in workers:
        w.join(60)
    errors = {e for r in results for e in r["errors"]}
    if errors:
        console.print(f"client errors: {sorted(errors)[:5]}")
    lags = sorted(lag for r in results for lag in r["lags"])
    total = {k: sum(r[k] for r in results) for k in ("messages", "bytes", "closed", "version_span")}
    return {
        **total, "connected": connected, "failed": failed, "lags": lags, "cpu": cpu, "rss": rss_peak,
        "seconds": seconds, "ticks": ticks, "load": (load0, os.getloadavg()[0]),
    }  # fmt: skip


def pct(values: list[int], q: float) -> float:
    return float(values[min(len(values) - 1, int(q * len(values)))]) if values else float("nan")


# -- main --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--clients", default="1000", help="Client counts, comma-separated (e.g. 100,500,1000)."
    )
    parser.add_argument("--client-procs", type=int, default=2, help="Processes the clients are spread over.")
    parser.add_argument("--client", choices=("lean", "websockets"), default="lean")
    parser.add_argument("--parse", action="store_true", help="Clients parse every message's JSON.")
    parser.add_argument("--seconds", type=float, default=20.0, help="Measuring window per phase.")
    parser.add_argument(
        "--connect-seconds", type=float, default=120.0, help="Time allowed for the clients to connect."
    )
    parser.add_argument("--rate", type=int, default=500, help="Trades per second streamed meanwhile.")
    parser.add_argument("--interval", type=float, default=None, help="push_interval_s (default: the API's).")
    parser.add_argument(
        "--compression", action="store_true", help="The API offers permessage-deflate (ws_compression)."
    )
    parser.add_argument(
        "--api-pythonpath",
        default=None,
        help="PYTHONPATH of the API process (to measure another checkout's API under the same load).",
    )
    parser.add_argument(
        "--serve", nargs=4, metavar=("PORT", "DSN", "REDIS", "INTERVAL"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1], args.serve[2], float(args.serve[3]))
        return
    counts = [int(c) for c in args.clients.split(",")]

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
        console.print(f"starting PostgreSQL, Redis, Kafka… (load average {os.getloadavg()[0]:.1f})")
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
        sink = subprocess.Popen(
            [sys.executable, "-m", "marketpipe", "stream", "sink", "trades", "--bootstrap", bootstrap, "--no-create-topics"],
            env=sink_env, stdout=subprocess.DEVNULL, stderr=sink_log)  # fmt: skip
        procs.append(sink)
        port = free_port()
        api_env = {**env, "MARKETPIPE_API_WS_COMPRESSION": "true" if args.compression else "false"}
        if args.api_pythonpath:
            api_env["PYTHONPATH"] = args.api_pythonpath
        api = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port), dsn, redis_url, str(interval)], env=api_env
        )
        procs.append(api)
        producer = subprocess.Popen(
            [sys.executable, str(REPO / "bench" / "stream_sink.py"), "--steady-producer", bootstrap, topic,
             str(args.rate), "86400"], env=env, stdout=subprocess.DEVNULL)  # fmt: skip
        procs.append(producer)
        client = redis.Redis.from_url(redis_url)
        deadline = time.monotonic() + 180
        while client.hlen("sp500_realtime_data") < 450:  # the sink has seen (nearly) every symbol
            if time.monotonic() > deadline:
                raise SystemExit("the sink did not fill Redis within 180 s")
            time.sleep(0.5)
        url = f"ws://127.0.0.1:{port}/api/v1/ws/sp500"
        others = {
            "sink": [sink.pid],
            "kafka": [kafka.proc.pid] if kafka.proc else [],
            "producer": [producer.pid],
        }
        console.print(
            f"clients {counts} ({args.client} client in {args.client_procs} processes"
            f"{', parsing every message' if args.parse else ''}), {args.rate} trades/s, push interval "
            f"{interval:.3f} s, compression {'on' if args.compression else 'off'}, {args.seconds:.0f} s per phase; "
            f"{os.cpu_count()} cores"
        )
        results: dict[tuple[int, str], dict[str, Any]] = {}
        for n in counts:
            for mode, suffix in (("delta", ""), ("snapshot", "?mode=snapshot")):
                r = results[(n, mode)] = phase(
                    api.pid, port, url + suffix, n, args.client_procs, args.seconds, args, others
                )
                console.print(
                    f"  {n} {mode}: p99 {pct(r['lags'], 0.99):.0f} ms, load average "
                    f"{r['load'][0]:.1f} → {r['load'][1]:.1f}"
                )

        table = Table(
            title=f"WebSocket fan-out on loopback, {args.rate} trades/s, push interval {interval:.2f} s "
            f"({os.cpu_count()}-core host; CPU in % of one core)"
        )
        cols = ("clients", "mode", "connected", "pushes/s (all)", "per client", "refreshes/s", "MB/s",
                "lag p50 ms", "p99 ms", "max ms", "API CPU", "API RSS MiB", "clients CPU", "sink+kafka+prod",
                "rest of host", "load")  # fmt: skip
        for col in cols:
            table.add_column(col, justify="right")
        for (n, mode), r in results.items():
            lags, s, cpu = r["lags"], r["seconds"], r["cpu"]
            pipeline = cpu["sink"] + cpu["kafka"] + cpu["producer"]
            rest = cpu["host"] - cpu["api"] - cpu["clients"] - pipeline
            table.add_row(
                str(n), mode, f"{r['connected']}/{n}", f"{r['messages'] / s:,.0f}",
                f"{r['messages'] / s / max(1, r['connected']):.2f}", f"{r['ticks']:.2f}",
                f"{r['bytes'] / s / 1e6:.1f}", f"{pct(lags, 0.5):.0f}", f"{pct(lags, 0.99):.0f}",
                f"{lags[-1] if lags else float('nan'):.0f}", f"{100 * cpu['api']:.0f} %",
                f"{r['rss'] / 2**20:.0f}", f"{100 * cpu['clients']:.0f} %", f"{100 * pipeline:.0f} %",
                f"{100 * rest:.0f} %", f"{r['load'][1]:.1f}",
            )  # fmt: skip
        console.print(table)
        for (n, mode), r in results.items():
            span = r["version_span"]
            coalesced = 1 - r["messages"] / span if span else 0.0
            console.print(
                f"{n} {mode}: failed to connect {r['failed']}, dropped while reading {r['closed']}, "
                f"versions coalesced into fewer pushes {100 * max(0.0, coalesced):.1f} %"
            )
        import httpx

        pushes = [line for line in httpx.get(f"http://127.0.0.1:{port}/metrics").text.splitlines()
                  if line.startswith(("marketpipe_api_ws_pushes_total", "marketpipe_api_ws_dropped_total"))]  # fmt: skip
        console.print("API counters: " + "; ".join(pushes))
        for n in counts:
            d, b = results[(n, "delta")], results[(n, "snapshot")]
            if b["bytes"] and d["bytes"]:
                console.print(
                    f"{n} clients, delta vs snapshot: {b['bytes'] / d['bytes']:.1f}× fewer bytes, p99 lag "
                    f"{pct(d['lags'], 0.99):.0f} ms vs {pct(b['lags'], 0.99):.0f} ms, API CPU "
                    f"{100 * d['cpu']['api']:.0f} % vs {100 * b['cpu']['api']:.0f} %"
                    + (f"; target p99 ≤ 250 ms: {'met' if pct(d['lags'], 0.99) <= 250 else 'NOT met'}"
                       if n >= 1000 else "")
                )  # fmt: skip
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
