"""Finnhub trades WebSocket simulator throughput: trades/s a client actually receives.

The sandbox runs in its own process (as with ``marketpipe sandbox``) so server and client do not
share a GIL; the client is an asyncio ``websockets`` reader that decodes every frame with orjson,
like a producer would. Each connection subscribes 50 S&P 500 symbols and asks for ``--rate``
trades/s; the target is 50,000 trades/s in total (the ratio column is achieved / requested).

    python bench/sandbox_ws.py [--seconds 5] [--rate 50000] [--connections 1]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import orjson
import websockets
from rich.console import Console
from rich.table import Table

TARGET_TRADES_PER_S = 50_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(port: int) -> None:
    from marketpipe.sandbox.config import SandboxConfig
    from marketpipe.sandbox.server import serve

    # A Monday during the US session, flowing clock: prices move like in the demo.
    serve(SandboxConfig(start_time=datetime(2026, 11, 16, 15, 0, tzinfo=UTC)), port=port, log_level="error")


@dataclass
class Result:
    trades: int = 0
    frames: int = 0
    bytes: int = 0
    shared_ms: int = 0


async def _reader(
    url: str, symbols: list[str], seconds: float, compression: str | None, result: Result
) -> None:
    async with websockets.connect(url, max_size=None, compression=compression, proxy=None) as ws:
        for symbol in symbols:
            await ws.send(orjson.dumps({"type": "subscribe", "symbol": symbol}).decode())
        warmup_end = time.perf_counter() + 0.5
        while time.perf_counter() < warmup_end:
            await ws.recv()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            raw = await ws.recv()
            message = orjson.loads(raw)
            result.frames += 1
            result.bytes += len(raw)
            if message["type"] == "trade":
                data = message["data"]
                result.trades += len(data)
                result.shared_ms += len(data) - len({trade["t"] for trade in data})


async def _measure(
    root: str, symbols: list[str], rate: float, connections: int, seconds: float, compression: str | None
) -> tuple[Result, float]:
    result = Result()
    ws_root = root.replace("http://", "ws://", 1) + "/finnhub/ws"
    urls = [f"{ws_root}?token=bench-{compression}-{i}&rate={rate}" for i in range(connections)]
    started = time.perf_counter()
    await asyncio.gather(*(_reader(url, symbols, seconds, compression, result) for url in urls))
    return result, time.perf_counter() - started - 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=TARGET_TRADES_PER_S, help="trades/s per connection")
    parser.add_argument("--connections", type=int, default=1)
    args = parser.parse_args()

    port = _free_port()
    root = f"http://127.0.0.1:{port}"
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(port,), daemon=True)
    server.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                symbols = httpx.get(f"{root}/_admin/world/constituents", timeout=2).json()["symbols"][:50]
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise SystemExit("the sandbox did not start") from None
                time.sleep(0.1)  # polling the server's start-up

        table = Table(title="Finnhub WS simulator: received trades/s (50 symbols per connection)")
        for column in ("compression", "connections", "requested/s", "trades/s", "frames/s", "MB/s",
                       "trades/frame", "shared-ms trades", "ratio"):  # fmt: skip
            table.add_column(column, justify="right")
        for compression in (None, "deflate"):
            result, elapsed = asyncio.run(
                _measure(root, symbols, args.rate, args.connections, args.seconds, compression)
            )
            requested = args.rate * args.connections
            achieved = result.trades / elapsed
            table.add_row(
                compression or "none",
                str(args.connections),
                f"{requested:,.0f}",
                f"{achieved:,.0f}",
                f"{result.frames / elapsed:,.1f}",
                f"{result.bytes / elapsed / 1e6:,.2f}",
                f"{result.trades / max(1, result.frames):,.0f}",
                f"{result.shared_ms:,}",
                f"{achieved / requested:.2f}",
            )
        Console(width=150).print(table)
    finally:
        server.terminate()
        server.join(timeout=10)


if __name__ == "__main__":
    main()
