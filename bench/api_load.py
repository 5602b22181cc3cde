"""Query API overhead under load: marketpipe's routes vs a minimal FastAPI endpoint doing the same
Redis read, both measured with ``wrk`` in the same run.

Routes compared (each against its baseline twin on a bare FastAPI app, same Redis, same data):

- latest price of one symbol: ``GET /api/v1/stocks/AAPL/quote`` vs ``GET /q/AAPL`` (one HGET);
- the whole live board: ``GET /api/v1/stocks/sp500`` vs ``GET /all`` (HGETALL of 503 symbols, parsed
  and sorted).

Each server is one uvicorn process (one worker) on embedded Redis/PostgreSQL. Prints requests/s per
route and the overhead ``1 - marketpipe / baseline`` (target: < 20 %).

    python bench/api_load.py [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import redis

SYMBOLS = [f"S{i:03d}" for i in range(502)] + ["AAPL"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def baseline_app(redis_url: str):  # type: ignore[no-untyped-def]
    """The least a FastAPI endpoint can do for the same reads."""
    import redis.asyncio as aioredis
    from fastapi import FastAPI, Response

    app = FastAPI()
    client = aioredis.Redis.from_url(redis_url)

    @app.get("/q/{symbol}")
    async def quote(symbol: str) -> Response:
        raw = await client.hget("sp500_realtime_data", symbol.upper())
        return Response(raw, media_type="application/json")

    @app.get("/all")
    async def board() -> Response:
        rows = [orjson.loads(v) for v in (await client.hgetall("sp500_realtime_data")).values()]
        rows.sort(key=lambda r: r["symbol"])
        return Response(orjson.dumps({"data": rows}), media_type="application/json")

    return app


def serve(kind: str, port: int, dsn: str, redis_url: str) -> None:
    import uvicorn

    from marketpipe.serve import create_app

    app = create_app(dsn, redis_url) if kind == "marketpipe" else baseline_app(redis_url)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def wrk(url: str, seconds: int, connections: int) -> float:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", url], capture_output=True, text=True, check=True
    ).stdout
    if re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        raise SystemExit(f"{url}: errors under load\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise SystemExit(f"cannot read wrk output:\n{out}")
    return float(match.group(1))


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("a server exited before listening")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit("a server did not listen within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--serve", choices=["marketpipe", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    parser.add_argument("--redis", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.dsn, args.redis)
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is required (apt-get install wrk; `make bench` installs it)")

    from marketpipe.config import Settings
    from marketpipe.runtime.postgres import PostgresService
    from marketpipe.runtime.redis import RedisService

    root = Path(tempfile.mkdtemp(prefix="mp-bench-api-"))
    root.chmod(0o755)
    settings = Settings(_env_file=None, data_dir=root)  # type: ignore[call-arg]
    pg, rs = PostgresService(settings), RedisService(settings)
    servers: list[subprocess.Popen[bytes]] = []
    try:
        dsn, redis_url = pg.start(), rs.start()
        client = redis.Redis.from_url(redis_url)
        client.hset(
            "sp500_realtime_data",
            mapping={
                s: orjson.dumps(
                    {"symbol": s, "price": 100.0 + i, "volume": 10, "timestamp": 1_764_000_000_000}
                )
                for i, s in enumerate(SYMBOLS)
            },
        )
        ports = {}
        for kind in ("marketpipe", "baseline"):
            ports[kind] = free_port()
            cmd = [
                sys.executable,
                __file__,
                "--serve",
                kind,
                "--port",
                str(ports[kind]),
                "--dsn",
                dsn,
                "--redis",
                redis_url,
            ]
            servers.append(subprocess.Popen(cmd, env=os.environ.copy()))
            wait_listening(ports[kind], servers[-1])
        pairs = {
            "latest price (one symbol)": ("/api/v1/stocks/AAPL/quote", "/q/AAPL"),
            "live board (503 symbols)": ("/api/v1/stocks/sp500", "/all"),
        }
        print(f"wrk -t2 -c{args.connections} -d{args.seconds}s, one uvicorn worker per server")
        print(f"{'route':28} {'marketpipe req/s':>17} {'baseline req/s':>15} {'overhead':>9}")
        worst = 0.0
        for label, (ours, theirs) in pairs.items():
            wrk(f"http://127.0.0.1:{ports['marketpipe']}{ours}", 2, args.connections)  # warm-up
            wrk(f"http://127.0.0.1:{ports['baseline']}{theirs}", 2, args.connections)
            mp = wrk(f"http://127.0.0.1:{ports['marketpipe']}{ours}", args.seconds, args.connections)
            base = wrk(f"http://127.0.0.1:{ports['baseline']}{theirs}", args.seconds, args.connections)
            overhead = 1 - mp / base
            worst = max(worst, overhead)
            print(f"{label:28} {mp:17,.0f} {base:15,.0f} {overhead:9.1%}")
        print(f"worst overhead {worst:.1%} (target < 20%): {'met' if worst < 0.20 else 'NOT met'}")
    finally:
        for process in servers:
            process.terminate()
            process.wait(timeout=15)
        rs.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
