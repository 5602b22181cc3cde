"""Stream sink benchmark: marketpipe's batch sink vs a seed-style per-message consumer, on real services.

Everything runs locally on fresh services: a real Apache Kafka 4.1 broker (KRaft), an embedded
PostgreSQL 16 with default durability settings (fsync on), and a real Redis 6.2.

1. Pre-fill a 3-partition topic with ``--messages`` (default 1,000,000) trade messages over 500 symbols.
2. Throughput, same run, same topic:
   (a) marketpipe's sink (batches: COPY + offsets in one transaction, one Redis pipeline per batch),
       one process; and as deployed (``--workers 3``: one process per partition, one consumer
       group, like the Kubernetes Deployment's 3 replicas) — on this machine's 2 cores;
   (b) a seed-style consumer, as the seed README describes it: per message one INSERT with a commit
       and one Redis SET, with the server's default durability; and once more flattered with
       ``synchronous_commit=off`` (what our sink may use safely). Both are measured on the first
       ``--seed-messages`` messages (at their pace, 1M would take many minutes); msgs/s is compared.
3. Latency: a producer at a steady ``--rate`` (2,000 msgs/s) with trade timestamp = send time, counted
   after ``--warmup-seconds`` (5; a fresh broker JIT-compiles its paths — printed apart); the
   sink records, for every message, the time it became visible in Redis; prints p50/p99.
4. Redis memory per symbol for 5 days of history: the seed's key-per-tick layout
   (``realtime:stocks:sp500:{sym}:{ts}`` JSON strings with a 5-day TTL) against marketpipe's layout
   (hash field + latest key + ONE sorted set per symbol), measured with real writes and extrapolated
   to the seed README's tick rate.

Before/after in one run: ``--compare REF`` (a git ref, e.g. ``main``) also runs the one-process sink of
``src/marketpipe`` as it is at REF (``git archive`` into a temporary folder, imported only by this
bench's child processes) alternately with the current tree (ABBA order, ``--rounds`` pairs) on the same
pre-filled topic and services; ``--compare-only`` skips everything else.

Usage: ``.venv/bin/python bench/stream_sink.py [--messages 1000000] [--seed-messages 20000]``
Targets: sink ≥ 100,000 msgs/s, ≥ 50× the seed-style consumer, p99 ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson
import psycopg
import redis
from confluent_kafka import TopicPartition
from rich.console import Console
from rich.table import Table

from marketpipe.config import Settings
from marketpipe.db import migrate
from marketpipe.runtime.kafka import ApacheKafkaBroker, ensure_jars, free_port
from marketpipe.runtime.postgres import PostgresService
from marketpipe.runtime.redis import redis_server_binary
from marketpipe.stream import codec
from marketpipe.stream.bus import make_consumer, make_producer
from marketpipe.stream.kinds import SP500
from marketpipe.stream.redis_writer import InstrumentUpdate, RedisWriter
from marketpipe.stream.settings import StreamSettings
from marketpipe.stream.sink import Sink
from marketpipe.stream.topics import TopicSpec, ensure_topics
from marketpipe.stream.workers import WorkerSpec, run_workers

REPO = Path(__file__).resolve().parents[1]
SYMBOLS = [f"SYM{i:03d}" for i in range(500)]
console = Console()


# -- services ---------------------------------------------------------------------------------------


class Services:
    """Fresh Kafka, PostgreSQL and Redis for the run, removed at the end."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mp-bench-"))
        self.root.chmod(0o755)  # embedded PostgreSQL runs as an unprivileged user when we are root
        self.pg = PostgresService(Settings(_env_file=None, data_dir=self.root))  # type: ignore[call-arg]
        libs = ensure_jars(REPO / ".marketpipe" / "kafka" / "libs")
        self.kafka = ApacheKafkaBroker(work_dir=self.root / "kafka", libs_dir=libs, heap="1g")
        port = free_port()
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        self.redis_proc: subprocess.Popen[bytes] | None = None
        self._redis_cmd = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
                           "--save", "", "--appendonly", "no", "--dir", str(self.root)]  # fmt: skip

    def start(self) -> None:
        self.dsn = self.pg.start()
        with psycopg.connect(self.dsn) as conn:
            migrate(conn)
        self.bootstrap = self.kafka.start()
        self.redis_proc = subprocess.Popen(self._redis_cmd, stdout=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.redis_url)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)

    def stop(self) -> None:
        self.kafka.stop()
        if self.redis_proc:
            self.redis_proc.kill()
            self.redis_proc.wait(10)
        self.pg.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def reset_tables(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("TRUNCATE sp500_websocket_trades, stream_offsets, stream_dead_letters")


# -- producing ----------------------------------------------------------------------------------------


def prefill(bootstrap: str, topic: str, n: int) -> float:
    """Produce ``n`` trade messages; returns seconds taken."""
    producer = make_producer(bootstrap, **{"linger.ms": 20})
    rng = random.Random(42)
    clock = {s: 1_764_000_000_000 for s in SYMBOLS}
    seq: dict[str, int] = {}
    started = time.perf_counter()
    for i in range(n):
        symbol = SYMBOLS[rng.randrange(500)]
        if rng.random() < 0.7:
            clock[symbol] += rng.randint(1, 50)
            seq[symbol] = 0
        else:
            seq[symbol] = seq.get(symbol, -1) + 1
        value = codec.encode_trade(
            symbol, round(rng.uniform(10, 900), 2), clock[symbol], float(rng.randint(1, 300)),
            seq=seq[symbol], conditions=["1", "12"], shard=rng.randrange(10), shards=10,
        )  # fmt: skip
        while True:
            try:
                producer.produce(topic, key=symbol.encode(), value=value)
                break
            except BufferError:
                producer.poll(0.01)
        if i % 20000 == 0:
            producer.poll(0)
    assert producer.flush(120) == 0
    return time.perf_counter() - started


# -- (a) marketpipe sink --------------------------------------------------------------------------------


def lean_schema(dsn: str) -> None:
    """The schema proposal measured in this bench's throwaway database only (not a migration):
    identity with CACHE 1000, and no secondary btrees (the PK serves per-symbol time queries)."""
    with psycopg.connect(dsn) as conn:
        conn.execute("TRUNCATE sp500_websocket_trades, stream_offsets, stream_dead_letters, trade_candles")
        conn.execute("ALTER TABLE sp500_websocket_trades ALTER COLUMN id SET CACHE 1000")
        conn.execute("DROP INDEX IF EXISTS idx_sp500_trades_symbol_created")
        conn.execute("DROP INDEX IF EXISTS idx_sp500_trades_created")
        conn.execute("CREATE INDEX ON sp500_websocket_trades USING brin (created_at)")


def run_marketpipe(
    svc: Services, topic: str, n: int, group: str = "bench-marketpipe"
) -> tuple[float, dict[str, float]]:
    settings = StreamSettings(_env_file=None, batch_size=10000, history_len=2000)  # type: ignore[call-arg]
    sink = Sink(SP500.with_topic(topic), bootstrap=svc.bootstrap, dsn=svc.dsn, redis_url=svc.redis_url,
                settings=settings, group_id=group)  # fmt: skip
    started = time.perf_counter()
    metrics = sink.run(max_messages=n, idle_exit_s=30)
    # Steady state: from the first batch (after joining the group) to the last row committed.
    elapsed = time.perf_counter() - (sink.first_batch_at or started)
    console.print(f"  (start-up before the first batch: {(sink.first_batch_at or started) - started:.2f} s)")
    with psycopg.connect(svc.dsn) as conn:
        rows = conn.execute("SELECT count(*) FROM sp500_websocket_trades").fetchone()[0]  # type: ignore[index]
    assert rows == n, f"sink wrote {rows} rows for {n} messages"
    return elapsed, metrics.totals


def run_marketpipe_workers(svc: Services, topic: str, n: int, workers: int, group: str) -> float:
    """``marketpipe stream sink --workers N`` (the product's code path); returns msgs/s.

    Timed from the first committed batch to the last one (PostgreSQL ``stream_offsets``), so
    process start-up and the group join are excluded, like the one-process figure.
    """
    settings = StreamSettings(_env_file=None, batch_size=10000, history_len=2000)  # type: ignore[call-arg]
    spec = WorkerSpec(kind="trades", topic=topic, bootstrap=svc.bootstrap, dsn=svc.dsn, redis_url=svc.redis_url,
                      settings=settings.model_dump(), group_id=group, dlq_topic="marketpipe.dlq", idle_exit_s=5)  # fmt: skip
    runner = threading.Thread(target=run_workers, args=(spec, workers), daemon=True)
    first: tuple[float, int] | None = None
    with psycopg.connect(svc.dsn, autocommit=True) as conn:
        runner.start()
        while True:
            row = conn.execute(
                "SELECT coalesce(sum(next_offset), 0)::bigint FROM stream_offsets WHERE consumer_group = %s",
                (group,),
            ).fetchone()
            done, now = int(row[0]) if row else 0, time.perf_counter()
            if done and first is None:
                first = (now, done)
            if done >= n:
                break
            time.sleep(0.01)
        rows = conn.execute("SELECT count(*) FROM sp500_websocket_trades").fetchone()[0]  # type: ignore[index]
    assert rows == n, f"sink workers wrote {rows} rows for {n} messages"
    runner.join(60)
    assert first is not None
    return (n - first[1]) / (now - first[0])


# -- before/after in one run -------------------------------------------------------------------------------


def extract_ref(ref: str, into: Path) -> Path:
    """``src/marketpipe`` as it is at git ``ref``, unpacked under ``into``; returns the ``src`` folder."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref, "src/marketpipe"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def run_sink_child(svc: Services, src: Path, topic: str, n: int, group: str) -> tuple[float, str]:
    """The one-process sink of the tree at ``src`` in a child process; returns (msgs/s, its sink module)."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.run(
        [sys.executable, __file__, "--run-sink", svc.bootstrap, svc.dsn, svc.redis_url, topic, str(n), group],
        env=env, check=True, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return float(result["rate"]), str(result["module"])


def child_run_sink(bootstrap: str, dsn: str, redis_url: str, topic: str, n: int, group: str) -> None:
    """``--run-sink``: what :func:`run_marketpipe` measures, printed as one JSON line."""
    import marketpipe.stream.sink as sink_module

    settings = StreamSettings(_env_file=None, batch_size=10000, history_len=2000)  # type: ignore[call-arg]
    sink = Sink(SP500.with_topic(topic), bootstrap=bootstrap, dsn=dsn, redis_url=redis_url,
                settings=settings, group_id=group)  # fmt: skip
    started = time.perf_counter()
    sink.run(max_messages=n, idle_exit_s=30)
    elapsed = time.perf_counter() - (sink.first_batch_at or started)
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT count(*) FROM sp500_websocket_trades").fetchone()[0]  # type: ignore[index]
    assert rows == n, f"sink wrote {rows} rows for {n} messages"
    print(json.dumps({"rate": n / elapsed, "module": sink_module.__file__}))


def run_compare(svc: Services, topic: str, n: int, ref: str, rounds: int) -> list[tuple[str, float]]:
    """Alternate the sink at ``ref`` and the current one (ABBA); returns [(which, msgs/s)] in run order."""
    with tempfile.TemporaryDirectory(prefix="mp-bench-ref-") as folder:
        trees = {f"at {ref}": extract_ref(ref, Path(folder)), "current": REPO / "src"}
        order: list[str] = []
        for i in range(rounds):
            pair = [f"at {ref}", "current"]
            order += pair if i % 2 == 0 else pair[::-1]
        out = []
        for i, which in enumerate(order):
            reset_tables(svc.dsn)
            redis.Redis.from_url(svc.redis_url).flushall()
            rate, module = run_sink_child(svc, trees[which], topic, n, f"bench-compare-{i}")
            console.print(f"  {which}: {rate:,.0f} msgs/s  ({module})")
            out.append((which, rate))
        return out


# -- (b) seed-style consumer ------------------------------------------------------------------------------


def run_seed_style(svc: Services, topic: str, n: int, *, async_commit: bool) -> float:
    """One INSERT + commit and one Redis SET per message, as the seed's consumers do.

    ``async_commit=False`` is the seed as it is (server defaults: every commit waits for the WAL
    flush); ``async_commit=True`` flatters it with ``synchronous_commit=off`` like our sink uses (safe
    only for us: our offsets commit in the same transaction; the seed's auto-committed Kafka offsets
    would skip rows lost that way).
    """
    consumer = make_consumer(svc.bootstrap, f"bench-seed-{async_commit}", **{"enable.auto.commit": True})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
    conn = psycopg.connect(svc.dsn)
    if async_commit:
        conn.execute("SET synchronous_commit = off")
        conn.commit()
    client = redis.Redis.from_url(svc.redis_url)
    done = 0
    started = time.perf_counter()
    while done < n:
        msg = consumer.poll(1.0)  # the seed iterates message by message
        if msg is None or msg.error() is not None:
            continue
        data = orjson.loads(msg.value())
        conn.execute(
            "INSERT INTO sp500_websocket_trades (symbol, price, volume_exact, timestamp_ms, seq, trade_conditions, "
            "pod_index, source) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (data["symbol"], data["price"], data["volume"], data["timestamp_ms"], data.get("seq", 0),
             data.get("conditions"), data.get("shard"), "finnhub_sp500_websocket"),
        )  # fmt: skip
        conn.commit()
        redis_data = orjson.dumps(
            {"symbol": data["symbol"], "price": data["price"], "volume": data["volume"],
             "pod_index": data.get("shard"), "timestamp": data["timestamp_ms"], "source": "sp500_websocket"}
        )  # fmt: skip
        client.set(f"latest:stocks:sp500:{data['symbol']}", redis_data, ex=432000)
        done += 1
    elapsed = time.perf_counter() - started
    consumer.close()
    conn.close()
    return elapsed


# -- latency ----------------------------------------------------------------------------------------------


def steady_producer(bootstrap: str, topic: str, rate: int, seconds: float) -> None:
    """Produce ``rate`` msgs/s for ``seconds`` with trade time = send time (runs in its own process)."""
    producer = make_producer(bootstrap, **{"linger.ms": 1})
    # Warm-up: the first idempotent produce waits for a producer id; do not time that.
    producer.produce(f"{topic}-warmup", value=b"{}")
    producer.flush(120)
    rng = random.Random(7)
    last_ms: dict[str, int] = {}
    total = int(rate * seconds)
    started = time.perf_counter()
    for i in range(total):
        ahead = started + i / rate - time.perf_counter()  # message i leaves at started + i/rate
        if ahead > 0:
            time.sleep(ahead)
        symbol = SYMBOLS[rng.randrange(500)]
        now_ms = int(time.time() * 1000)
        seq = 0 if last_ms.get(symbol) != now_ms else 1 + rng.randrange(1000)
        last_ms[symbol] = now_ms
        producer.produce(topic, key=symbol.encode(),
                         value=codec.encode_trade(symbol, 100.0 + i % 50, now_ms, 10.0, seq=seq))  # fmt: skip
        producer.poll(0)
    producer.flush(30)


def run_latency(
    svc: Services, topic: str, rate: int, seconds: float, warmup: float
) -> tuple[list[int], list[int]]:
    """The sink in this process; the steady producer in another (as producers run in production).

    The producer runs ``warmup + seconds``; returns (latencies of the warm-up, of the steady state).
    Messages are produced at a steady pace and the sink records them in the order it writes them,
    so the first ``rate * warmup`` samples are the warm-up (a fresh broker's JIT, new connections).
    """
    seconds += warmup
    settings = StreamSettings(_env_file=None, batch_size=5000, batch_timeout_s=0.005)  # type: ignore[call-arg]
    sink = Sink(SP500.with_topic(topic), bootstrap=svc.bootstrap, dsn=svc.dsn, redis_url=svc.redis_url,
                settings=settings, group_id="bench-latency", record_latency=True)  # fmt: skip
    total = int(rate * seconds)
    runner = threading.Thread(target=sink.run, kwargs={"max_messages": total, "idle_exit_s": 30}, daemon=True)
    runner.start()
    time.sleep(3)  # let the sink join its group and reach the (empty) log end before timing
    subprocess.run(
        [sys.executable, __file__, "--steady-producer", svc.bootstrap, topic, str(rate), str(seconds)],
        check=True, timeout=seconds + 180,
    )  # fmt: skip
    runner.join(60)
    assert sink.latencies_ms is not None
    cut = int(rate * warmup)
    return sink.latencies_ms[:cut], sink.latencies_ms[cut:]


# -- Redis memory -----------------------------------------------------------------------------------------


def redis_memory(url: str, ticks_sample: int = 20000) -> dict[str, float]:
    """Bytes per tick of the seed's key-per-tick layout and of marketpipe's one-set-per-symbol layout."""
    client = redis.Redis.from_url(url)
    client.flushall()
    client.config_set("maxmemory-policy", "noeviction")
    base = int(client.info("memory")["used_memory"])
    pipe = client.pipeline(transaction=False)
    ts0 = 1_764_000_000_000
    for i in range(ticks_sample):
        ts = ts0 + i * 250
        value = orjson.dumps({"symbol": "AAPL", "price": 189.52, "volume": 100, "pod_index": 3,
                              "timestamp": ts, "source": "sp500_websocket"})  # fmt: skip
        pipe.set(f"realtime:stocks:sp500:AAPL:{ts}", value, ex=432000)
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    seed_per_tick = (int(client.info("memory")["used_memory"]) - base) / ticks_sample
    client.flushall()

    writer = RedisWriter(client, SP500.redis, history_len=ticks_sample)
    update = InstrumentUpdate()
    for i in range(ticks_sample):
        ts = ts0 + i * 250
        update.history += [ts, f"{ts}:0:189.52:100.0"]
    update.event_ms = ts0 + (ticks_sample - 1) * 250
    update.snapshot = {"symbol": "AAPL", "price": 189.52, "volume": 100, "timestamp": update.event_ms,
                       "source": "finnhub_ws", "pod_index": 3}  # fmt: skip
    writer.apply({"AAPL": update}, publish=False)
    zset = int(client.memory_usage("history:stocks:sp500:AAPL") or 0)
    fixed = (
        sum(int(client.memory_usage(k) or 0) for k in ("latest:stocks:sp500:AAPL",)) + 200
    )  # hash field + ts field: ~100 bytes each in listpack/hashtable
    client.flushall()
    return {"seed_per_tick": seed_per_tick, "zset_per_tick": zset / ticks_sample, "fixed": float(fixed)}


# -- main -------------------------------------------------------------------------------------------------


def pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


def print_compare(compared: list[tuple[str, float]], n: int) -> None:
    table = Table(title=f"one-process sink, before/after in one run ({n:,} messages per run, ABBA order)")
    table.add_column("tree")
    table.add_column("runs (msgs/s, in order)", justify="right")
    table.add_column("median (msgs/s)", justify="right")
    for which in dict.fromkeys(w for w, _ in compared):
        rates = [r for w, r in compared if w == which]
        ordered = sorted(rates)
        mid = len(ordered) // 2
        median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
        table.add_row(which, ", ".join(f"{r:,.0f}" for r in rates), f"{median:,.0f}")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--seed-messages", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--latency-seconds", type=float, default=15.0)
    parser.add_argument(
        "--warmup-seconds", type=float, default=5.0, help="Steady producing before latency counts."
    )
    parser.add_argument("--latency-only", action="store_true", help="Skip the throughput part.")
    parser.add_argument(
        "--compare", metavar="REF", help="Also run the sink at git REF, same run (e.g. main)."
    )
    parser.add_argument("--rounds", type=int, default=2, help="--compare: ABBA pairs of runs.")
    parser.add_argument("--compare-only", action="store_true", help="--compare, and nothing else.")
    parser.add_argument("--steady-producer", nargs=4, metavar=("BOOTSTRAP", "TOPIC", "RATE", "SECONDS"),
                        help=argparse.SUPPRESS)  # fmt: skip
    parser.add_argument("--run-sink", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steady_producer:
        bootstrap, topic, rate, seconds = args.steady_producer
        steady_producer(bootstrap, topic, int(rate), float(seconds))
        return
    if args.run_sink:
        bootstrap, dsn, redis_url, topic, count, group = args.run_sink
        child_run_sink(bootstrap, dsn, redis_url, topic, int(count), group)
        return
    if args.compare_only and not args.compare:
        parser.error("--compare-only needs --compare REF")
    os.environ.setdefault("MARKETPIPE_STREAM_LOG_EVERY_S", "10")

    svc = Services()
    console.print("[bold]starting Apache Kafka, PostgreSQL, Redis…[/bold]")
    svc.start()
    try:
        mp_rate = workers_rate = seed_rate = flat_rate = lean_rate = float("nan")
        if args.compare:
            topic = "bench-trades"
            ensure_topics(svc.bootstrap, [TopicSpec(topic, 3)])
            produce_s = prefill(svc.bootstrap, topic, args.messages)
            console.print(f"pre-filled {args.messages:,} messages in {produce_s:.1f} s")
            console.print(f"[bold]before/after, same run[/bold] (load: {os.getloadavg()[0]:.2f})")
            compared = run_compare(svc, topic, args.messages, args.compare, args.rounds)
            console.print(f"  (load after: {os.getloadavg()[0]:.2f})")
            if args.compare_only:
                print_compare(compared, args.messages)
                return
            reset_tables(svc.dsn)
            redis.Redis.from_url(svc.redis_url).flushall()
        if not args.latency_only:
            topic = "bench-trades"
            if not args.compare:
                ensure_topics(svc.bootstrap, [TopicSpec(topic, 3)])
                produce_s = prefill(svc.bootstrap, topic, args.messages)
                console.print(f"pre-filled {args.messages:,} messages in {produce_s:.1f} s")

            mp_s, totals = run_marketpipe(svc, topic, args.messages)
            mp_rate = args.messages / mp_s
            console.print(
                f"marketpipe sink: {args.messages:,} msgs in {mp_s:.2f} s ({totals.get('batches', 0):.0f} batches)"
            )

            reset_tables(svc.dsn)
            redis.Redis.from_url(svc.redis_url).flushall()
            workers_rate = run_marketpipe_workers(svc, topic, args.messages, 3, "bench-marketpipe-workers")
            console.print(f"marketpipe sink, 3 worker processes: {workers_rate:,.0f} msgs/s")

            reset_tables(svc.dsn)
            seed_s = run_seed_style(svc, topic, args.seed_messages, async_commit=False)
            seed_rate = args.seed_messages / seed_s
            console.print(f"seed-style consumer: {args.seed_messages:,} msgs in {seed_s:.2f} s")
            reset_tables(svc.dsn)
            flat_s = run_seed_style(svc, topic, args.seed_messages, async_commit=True)
            flat_rate = args.seed_messages / flat_s
            console.print(
                f"seed-style consumer, synchronous_commit=off: {args.seed_messages:,} msgs in {flat_s:.2f} s"
            )
            lean_schema(svc.dsn)
            redis.Redis.from_url(svc.redis_url).flushall()
            lean_s, _ = run_marketpipe(svc, topic, args.messages, group="bench-marketpipe-lean")
            lean_rate = args.messages / lean_s
            console.print(f"marketpipe sink, lean table: {args.messages:,} msgs in {lean_s:.2f} s")

        reset_tables(svc.dsn)
        redis.Redis.from_url(svc.redis_url).flushall()
        latency_topic = "bench-latency"
        ensure_topics(svc.bootstrap, [TopicSpec(latency_topic, 3), TopicSpec(f"{latency_topic}-warmup", 1)])
        warm, latencies = run_latency(
            svc, latency_topic, args.rate, args.latency_seconds, args.warmup_seconds
        )
        memory = redis_memory(svc.redis_url)
    finally:
        svc.stop()

    if args.compare:
        print_compare(compared, args.messages)
    table = Table(title="stream sink benchmark (real Apache Kafka 4.1, PostgreSQL 16, Redis 6.2; 2 cores)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_row("marketpipe sink, one process (msgs/s)", f"{mp_rate:,.0f}", "≥ 100,000")
    table.add_row(
        "marketpipe sink, 3 workers = partitions, as deployed (msgs/s)", f"{workers_rate:,.0f}", "≥ 100,000"
    )
    table.add_row("seed-style consumer, as the seed runs (msgs/s)", f"{seed_rate:,.0f}", "")
    table.add_row("ratio vs seed-style, one process", f"{mp_rate / seed_rate:,.1f}×", "≥ 50×")
    table.add_row("ratio vs seed-style, 3 workers", f"{workers_rate / seed_rate:,.1f}×", "≥ 50×")
    table.add_row("seed-style with synchronous_commit=off (msgs/s)", f"{flat_rate:,.0f}", "")
    table.add_row("ratio vs that flattered baseline", f"{mp_rate / flat_rate:,.1f}×", "")
    table.add_row("marketpipe sink, lean table: PK + BRIN, id CACHE 1000 (msgs/s)", f"{lean_rate:,.0f}", "")
    table.add_row("lean ratio vs seed-style", f"{lean_rate / seed_rate:,.1f}×", "")
    table.add_row(f"latency p50 at {args.rate:,} msgs/s (ms)", f"{pct(latencies, 0.50):.1f}", "")
    table.add_row(f"latency p99 at {args.rate:,} msgs/s (ms)", f"{pct(latencies, 0.99):.1f}", "≤ 50")
    table.add_row("latency samples (steady state)", f"{len(latencies):,}", "")
    table.add_row(
        f"latency p99 in the first {args.warmup_seconds:g} s (warm-up, not counted)",
        f"{pct(warm, 0.99):.1f}",
        "",
    )
    console.print(table)

    # 5 days of history at the seed README's rate: 500–1,000 msgs/s over 500 symbols → ~1.5 ticks/s per
    # symbol during 6.5 market hours a day.
    ticks = int(1.5 * 6.5 * 3600 * 5)
    seed_bytes = memory["seed_per_tick"] * ticks
    mp_full = memory["zset_per_tick"] * ticks + memory["fixed"]
    mp_capped = memory["zset_per_tick"] * 2000 + memory["fixed"]
    mem = Table(title=f"Redis memory per symbol, 5 days of history (~{ticks:,} ticks/symbol)")
    mem.add_column("layout")
    mem.add_column("bytes/tick", justify="right")
    mem.add_column("per symbol", justify="right")
    mem.add_column("500 symbols", justify="right")
    mem.add_row("seed: key per tick (SET EX JSON, 5-day TTL)", f"{memory['seed_per_tick']:.0f}",
                f"{seed_bytes / 2**20:,.1f} MiB", f"{seed_bytes * 500 / 2**30:,.2f} GiB")  # fmt: skip
    mem.add_row("marketpipe: one sorted set, full 5 days", f"{memory['zset_per_tick']:.0f}",
                f"{mp_full / 2**20:,.1f} MiB", f"{mp_full * 500 / 2**30:,.2f} GiB")  # fmt: skip
    mem.add_row("marketpipe: as configured (newest 2,000)", f"{memory['zset_per_tick']:.0f}",
                f"{mp_capped / 2**10:,.0f} KiB", f"{mp_capped * 500 / 2**20:,.0f} MiB")  # fmt: skip
    console.print(mem)


if __name__ == "__main__":
    main()
