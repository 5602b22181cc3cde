"""Producer throughput: Finnhub trades WebSocket → normalise/dedupe/seq/encode → Kafka (acks=all, idempotent).

The sandbox runs in its own process; a real Apache Kafka broker is started in a temp dir (or pass
``--bootstrap``). The producer runs in this process exactly as ``marketpipe stream produce finnhub``
does, with one connection per key (50 symbols each), and asks the sandbox for ``--rate`` trades/s per
connection. Reported: trades/s received, produced, and acknowledged by the broker; the ratio is
acknowledged / requested. A second row measures the producer's CPU-only path (parse a frame, drop
duplicates, number, encode) on pre-built frames — the ceiling one producer process can reach.

    python bench/producers.py [--seconds 8] [--rate 20000] [--connections 1] [--bootstrap HOST:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from marketpipe.stream import codec
from marketpipe.stream.producers.finnhub import (
    FinnhubProducer,
    FinnhubProducerConfig,
    TradeSequencer,
    trade_payload,
)
from marketpipe.stream.producers.finnhub_ws import RecentTrades, TradesFrame, parse_frame
from marketpipe.stream.producers.sharding import Shard
from marketpipe.stream.topics import TopicSpec, ensure_topics


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(port: int) -> None:
    from marketpipe.sandbox.config import SandboxConfig
    from marketpipe.sandbox.server import serve

    serve(SandboxConfig(start_time=datetime(2026, 11, 16, 15, 0, tzinfo=UTC)), port=port, log_level="error")


def _wait_for_sandbox(root: str) -> list[str]:
    deadline = time.monotonic() + 30
    while True:
        try:
            return list(httpx.get(f"{root}/_admin/world/constituents", timeout=2).json()["symbols"])
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise SystemExit("the sandbox did not start") from None
            time.sleep(0.1)  # polling the server's start-up


async def _run_producer(producer: FinnhubProducer, seconds: float) -> tuple[dict[str, int], float]:
    """Counter increments over a ``seconds`` window that starts once every symbol is subscribed."""
    stop = asyncio.Event()
    task = asyncio.create_task(producer.run(stop))
    while producer.subscribed != set(producer.symbols):  # subscriptions are paced: measure after them
        await asyncio.sleep(0.05)
    before = producer.stats.snapshot()
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    after = producer.stats.snapshot()
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    return {k: v - before.get(k, 0) for k, v in after.items()}, elapsed


def _cpu_only(frames: list[str]) -> tuple[int, float]:
    recent, sequencer, shard = RecentTrades(), TradeSequencer(), Shard(0, 1)
    count = 0
    started = time.perf_counter()
    for raw in frames:
        frame = parse_frame(raw)
        assert isinstance(frame, TradesFrame)
        kept, _ = recent.filter_frame(frame.trades)
        for trade in kept:
            seq = sequencer.assign(trade.symbol, trade.timestamp_ms)
            codec.encode(
                "trade",
                trade_payload(
                    trade, seq=seq or 0, shard=shard, pod_name="bench", source="finnhub_ws", received_ms=0
                ),
            )
            count += 1
    return count, time.perf_counter() - started


def _frames(symbols: list[str], n_frames: int, per_frame: int) -> list[str]:
    t0 = 1_794_841_200_000
    return [
        orjson.dumps(
            {"type": "trade", "data": [
                {"s": symbols[(f + i) % len(symbols)], "p": 100.0 + i * 0.01, "t": t0 + f * 50 + i // 4,
                 "v": 1 + i % 300, "c": ["1", "12"]}
                for i in range(per_frame)
            ]}
        ).decode()
        for f in range(n_frames)
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rate", type=float, default=20_000, help="trades/s per connection")
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--bootstrap", default=None, help="use this Kafka instead of starting one")
    args = parser.parse_args()

    broker = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        from marketpipe.runtime.kafka import ApacheKafkaBroker, ensure_jars

        broker = ApacheKafkaBroker(
            work_dir=Path(tempfile.mkdtemp(prefix="bench-kafka-")),
            libs_dir=ensure_jars(Path(".marketpipe/kafka/libs")),
        )
        bootstrap = broker.start(timeout=120)
    port = _free_port()
    root = f"http://127.0.0.1:{port}"
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(port,), daemon=True)
    server.start()
    try:
        universe = sorted(_wait_for_sandbox(root))[: 50 * args.connections]
        topic = f"bench-producer-{int(time.time())}"
        ensure_topics(bootstrap, [TopicSpec(topic, 3)])
        producer = FinnhubProducer(
            FinnhubProducerConfig(
                bootstrap=bootstrap,
                ws_url=f"ws://127.0.0.1:{port}/finnhub/ws?rate={args.rate}",
                tokens=[SecretStr(f"bench-{i}") for i in range(args.connections)],
                universe=universe,
                topic=topic,
                pod_name="bench",
                subscribe_rate=200.0,
            )
        )
        stats, elapsed = asyncio.run(_run_producer(producer, args.seconds))
        requested = args.rate * args.connections

        table = Table(title="Finnhub producer → Kafka (acks=all, idempotent, lz4)")
        for column in (
            "path",
            "requested/s",
            "received/s",
            "produced/s",
            "acked/s",
            "dupes",
            "garbage",
            "ratio",
        ):
            table.add_column(column, justify="right")
        acked = stats.get("delivered", 0) / elapsed
        table.add_row(
            f"sandbox WS → Kafka ({args.connections} conn)",
            f"{requested:,.0f}",
            f"{stats.get('received', 0) / elapsed:,.0f}",
            f"{stats.get('produced', 0) / elapsed:,.0f}",
            f"{acked:,.0f}",
            str(stats.get("duplicates", 0)),
            str(stats.get("garbage", 0)),
            f"{acked / requested:.2f}",
        )
        count, cpu_s = _cpu_only(_frames(universe, 400, 500))
        table.add_row(
            "CPU only: parse+dedupe+seq+encode", "-", f"{count / cpu_s:,.0f}", "-", "-", "-", "-", "-"
        )
        Console(width=150).print(table)
    finally:
        server.terminate()
        server.join(timeout=10)
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    main()
