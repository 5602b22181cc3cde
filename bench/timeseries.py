"""Cost as data grows: the day-partitioned tick table at 0, 10M and 50M rows, side by side.

On a fresh embedded PostgreSQL 16 (default durability: fsync on, synchronous_commit on), migrated to
the shipped schema (sp500_websocket_trades partitioned by UTC day, migration 0155):

1. **sink write path** — the sink's database transaction without Kafka/Redis (those do not depend on
   the table's size): batches of ``--batch`` trades encoded by the sink's own COPY encoder
   (:data:`marketpipe.stream.kinds.SP500`), ``COPY`` into the table plus the candle merge
   (:mod:`marketpipe.stream.candles`) in one transaction, trades timestamped today;
2. **merge path** — :func:`marketpipe.db.merge_rows` with ``DO NOTHING`` (the sink's fallback and
   replay path), half the rows already present;
3. **latest per symbol** — the sink's Redis rehydration query (``SP500.latest_sql``: loose index
   scan, one probe per symbol) and **candle query** — one symbol's 1-minute candles of one session
   plus :func:`marketpipe.timeseries.gaps.gaps_between`, the query API's pair; p50/p99 over
   ``--queries`` random symbols/days;
4. **disk bytes per trading day** of ticks — one full day partition, indexes included.

Between sizes the table is filled with ``generate_series`` over ``--days`` past sessions (500
symbols, session hours), and ``trade_candles`` with the matching 1 m / 5 m / 1 h candles. Every
figure is printed next to the empty-table figure of the same run (ratio).

Usage: ``.venv/bin/python bench/timeseries.py [--sizes 0,10M,50M] [--days 20]``
Targets (issue 13): sink throughput at 50M ≥ 90 % of the empty-table figure; candle query p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table

from marketpipe.config import Settings
from marketpipe.db import merge_rows, migrate, with_database
from marketpipe.runtime.postgres import PostgresService
from marketpipe.stream import candles, codec
from marketpipe.stream.kinds import SP500
from marketpipe.timeseries.gaps import gaps_between

console = Console(width=150)
SYMBOLS = 500
SESSION_OPEN_MS = (14 * 3600 + 30 * 60) * 1000
SESSION_MS = 390 * 60 * 1000
DAY_MS = 86_400_000


def parse_size(text: str) -> int:
    text = text.strip().upper()
    factor = 1_000_000 if text.endswith("M") else 1_000 if text.endswith("K") else 1
    return int(float(text.rstrip("MK")) * factor)


def day_ms(day: date) -> int:
    return (day - date(1970, 1, 1)).days * DAY_MS


@dataclass
class Figures:
    rows: int
    sink_rows_s: float = 0.0
    merge_rows_s: float = 0.0
    latest_ms: list[float] = field(default_factory=list)
    candle_ms: list[float] = field(default_factory=list)
    day_bytes: int = 0
    day_rows: int = 0
    total_bytes: int = 0


class Bench:
    def __init__(self, days: int, batch: int, sink_rows: int, queries: int) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mp-bench-ts-"))
        self.root.chmod(0o755)
        self.pg = PostgresService(Settings(_env_file=None, data_dir=self.root))  # type: ignore[call-arg]
        self.days = days
        self.batch = batch
        self.sink_rows = sink_rows
        self.queries = queries
        self.today = datetime.now(UTC).date()
        # Past sessions (weekdays) that hold the generated history, oldest first.
        sessions: list[date] = []
        day = self.today - timedelta(days=1)
        while len(sessions) < days:
            if day.weekday() < 5:
                sessions.append(day)
            day -= timedelta(days=1)
        self.sessions = sorted(sessions)
        self.filled = 0
        self.round = 0
        self.per_session = self.step = 0
        self.session_rows: list[int] = []

    def start(self) -> str:
        url = self.pg.start()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS bench_ts")
            conn.execute("CREATE DATABASE bench_ts")
        self.dsn = with_database(url, "bench_ts")
        with psycopg.connect(self.dsn) as conn:
            migrate(conn)
            with conn.transaction():
                for day in self.sessions:
                    conn.execute(
                        "SELECT mp_ensure_day_partition('sp500_websocket_trades', 'timestamp_ms', %s)", (day,)
                    )
        return self.dsn

    def stop(self) -> None:
        self.pg.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- preparation ------------------------------------------------------------------------------
    def plan(self, max_rows: int) -> None:
        """Sessions are filled one after another at the density of the largest size."""
        self.per_session = max(1, -(-max_rows // len(self.sessions)))
        self.step = max(1, SESSION_MS // -(-self.per_session // SYMBOLS))
        self.session_rows = [0] * len(self.sessions)

    def fill_to(self, target: int) -> float:
        """Add rows until the table holds ``target`` (generate_series, one session at a time); seconds.

        The two secondary indexes are dropped for the load and rebuilt after it (faster than
        maintaining them row by row); candles: 1 m from the ticks, 5 m and 1 h from the 1 m ones.
        """
        start = time.perf_counter()
        remaining = target - self.filled
        changed: list[date] = []
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute("SET synchronous_commit = off")  # preparation only; measurements use the default
            conn.execute("SET maintenance_work_mem = '512MB'")
            conn.execute("DROP INDEX idx_sp500_trades_symbol_created, idx_sp500_trades_created_brin")
            for index, day in enumerate(self.sessions):
                have = self.session_rows[index]
                add = min(self.per_session - have, remaining)
                if add <= 0:
                    continue
                base = day_ms(day) + SESSION_OPEN_MS
                conn.execute(
                    f"""INSERT INTO sp500_websocket_trades
                              (symbol, price, volume, timestamp_ms, seq, trade_conditions, pod_name, source, pod_index,
                               created_at)
                        SELECT 'SYM' || lpad((g % {SYMBOLS})::text, 3, '0'),
                               100 + (g % 977) / 100.0, 1 + g % 300,
                               {base} + (g / {SYMBOLS}) * {self.step}, 0, ARRAY['1', '12'], 'bench-0',
                               'finnhub_sp500_websocket', 0,
                               to_timestamp(({base} + (g / {SYMBOLS}) * {self.step}) / 1000.0)
                          FROM generate_series({have}, {have + add - 1}) g"""
                )
                self.session_rows[index] += add
                self.filled += add
                remaining -= add
                changed.append(day)
                console.print(
                    f"  {day}: +{add:,} ticks ({time.perf_counter() - start:.0f} s)", highlight=False
                )
            conn.execute(
                "CREATE INDEX idx_sp500_trades_symbol_created ON sp500_websocket_trades (symbol, created_at DESC)"
            )
            conn.execute(
                "CREATE INDEX idx_sp500_trades_created_brin ON sp500_websocket_trades USING brin (created_at)"
            )
            console.print(f"  indexes rebuilt ({time.perf_counter() - start:.0f} s)", highlight=False)
            for day in changed:
                lo, hi = day_ms(day), day_ms(day) + DAY_MS
                conn.execute(
                    """INSERT INTO trade_candles AS c (stream, symbol, interval_s, bucket_start, open, high, low,
                                                       close, volume, trades, open_key, close_key)
                       SELECT 'trades', symbol, 60, to_timestamp((timestamp_ms - timestamp_ms %% 60000) / 1000.0),
                              min(price), max(price), min(price), max(price), sum(volume), count(*),
                              min(timestamp_ms) * 32768, max(timestamp_ms) * 32768
                         FROM sp500_websocket_trades WHERE timestamp_ms >= %s AND timestamp_ms < %s
                        GROUP BY 1, 2, 3, 4
                       ON CONFLICT (stream, symbol, interval_s, bucket_start) DO UPDATE
                          SET volume = EXCLUDED.volume, trades = EXCLUDED.trades""",
                    (lo, hi),
                )
                for interval in (300, 3600):
                    conn.execute(
                        f"""INSERT INTO trade_candles AS c (stream, symbol, interval_s, bucket_start, open, high, low,
                                                           close, volume, trades, open_key, close_key)
                            SELECT stream, symbol, {interval},
                                   to_timestamp(floor(extract(epoch FROM bucket_start) / {interval}) * {interval}),
                                   min(open), max(high), min(low), max(close), sum(volume), sum(trades),
                                   min(open_key), max(close_key)
                              FROM trade_candles
                             WHERE interval_s = 60 AND bucket_start >= to_timestamp(%s / 1000.0)
                               AND bucket_start < to_timestamp(%s / 1000.0)
                             GROUP BY 1, 2, 3, 4
                            ON CONFLICT (stream, symbol, interval_s, bucket_start) DO UPDATE
                               SET volume = EXCLUDED.volume, trades = EXCLUDED.trades""",
                        (lo, hi),
                    )
            console.print(f"  candles ({time.perf_counter() - start:.0f} s)", highlight=False)
            conn.execute("VACUUM (ANALYZE) sp500_websocket_trades")
            conn.execute("VACUUM (ANALYZE) trade_candles")
        return time.perf_counter() - start

    def warm_up(self) -> None:
        """One round of every measurement on a throw-away day, so the first size is not a cold start."""
        self.sink_throughput()
        self.merge_throughput()
        self.query_latency()
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM sp500_websocket_trades")
            conn.execute("DELETE FROM trade_candles")
            conn.execute("VACUUM (ANALYZE) sp500_websocket_trades")

    # -- measurements ----------------------------------------------------------------------------
    def _trades(self, n: int, offset_ms: int) -> list[codec.TradeV1]:
        base = day_ms(self.today) + offset_ms
        out = []
        for i in range(n):
            raw = codec.encode(
                "trade",
                {
                    "symbol": f"SYM{i % SYMBOLS:03d}", "price": 100 + (i % 977) / 100, "volume": 1 + i % 300,
                    "timestamp_ms": base + (i // SYMBOLS) * 7, "seq": 0, "conditions": ["1", "12"],
                    "shard": 0, "shards": 1, "pod_name": "bench-0", "source": "finnhub_sp500_websocket",
                    "received_ms": base,
                },
            )  # fmt: skip
            out.append(codec.decode_trade_struct(raw))
        return out

    def sink_throughput(self) -> float:
        self.round += 1
        trades = self._trades(self.sink_rows, self.round * 3_600_000)
        lines = [SP500.encode(t)[0] for t in trades]
        copy_sql = f"COPY {SP500.table} ({', '.join(SP500.columns)}) FROM STDIN"
        with psycopg.connect(self.dsn) as conn:
            start = time.perf_counter()
            for lo in range(0, len(trades), self.batch):
                with conn.transaction():
                    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
                        copy.write("\n".join(lines[lo : lo + self.batch]) + "\n")
                    candles.merge(conn, "trades", candles.aggregate(trades[lo : lo + self.batch]))
            elapsed = time.perf_counter() - start
        return len(trades) / elapsed

    def merge_throughput(self) -> float:
        self.round += 1
        fresh = self._trades(self.sink_rows // 4, self.round * 3_600_000)
        seen = self._trades(self.sink_rows // 4, (self.round - 1) * 3_600_000)  # the previous round's rows
        rows = [
            {"symbol": t.symbol, "price": Decimal(repr(t.price)), "volume": Decimal(repr(t.volume)),
             "timestamp_ms": t.timestamp_ms, "seq": t.seq, "source": t.source, "pod_name": "bench-0"}
            for pair in zip(fresh, seen, strict=True) for t in pair
        ]  # fmt: skip
        with psycopg.connect(self.dsn) as conn:
            start = time.perf_counter()
            for lo in range(0, len(rows), self.batch):
                with conn.transaction():
                    merge_rows(
                        conn,
                        SP500.table,
                        rows[lo : lo + self.batch],
                        SP500.conflict_key,
                        on_conflict="nothing",
                    )
            elapsed = time.perf_counter() - start
        return len(rows) / elapsed

    def query_latency(self) -> tuple[list[float], list[float]]:
        rng = random.Random(13)
        latest, candle = [], []
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            for _ in range(3):
                start = time.perf_counter()
                conn.execute(SP500.latest_sql).fetchall()
                latest.append((time.perf_counter() - start) * 1000)
            for _ in range(self.queries):
                symbol = f"SYM{rng.randrange(SYMBOLS):03d}"
                day = rng.choice(
                    [d for d, n in zip(self.sessions, self.session_rows, strict=True) if n] or self.sessions
                )
                lo = datetime.fromtimestamp((day_ms(day) + SESSION_OPEN_MS) / 1000, UTC)
                hi = lo + timedelta(minutes=390)
                start = time.perf_counter()
                conn.execute(
                    """SELECT bucket_start, open, high, low, close, volume, trades FROM trade_candles
                        WHERE stream = 'trades' AND symbol = %s AND interval_s = 60
                          AND bucket_start >= %s AND bucket_start < %s ORDER BY bucket_start""",
                    (symbol, lo, hi),
                ).fetchall()
                gaps_between(conn, "trades", symbol, lo, hi)
                candle.append((time.perf_counter() - start) * 1000)
        return latest, candle

    def disk(self) -> tuple[int, int, int]:
        day = max(zip(self.session_rows, self.sessions, strict=True))[1]  # a full session
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            part = f"sp500_websocket_trades_p{day:%Y%m%d}"
            size = int(conn.execute("SELECT pg_total_relation_size(%s)", (part,)).fetchone()[0])
            rows = int(conn.execute(f"SELECT count(*) FROM {part}").fetchone()[0])
            total = int(
                conn.execute(
                    """SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits
                        WHERE inhparent = 'sp500_websocket_trades'::regclass"""
                ).fetchone()[0]
            )
        return size, rows, total

    def measure(self) -> Figures:
        figures = Figures(rows=self.filled)
        figures.sink_rows_s = self.sink_throughput()
        figures.merge_rows_s = self.merge_throughput()
        figures.latest_ms, figures.candle_ms = self.query_latency()
        if self.filled:
            figures.day_bytes, figures.day_rows, figures.total_bytes = self.disk()
        return figures


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="0,10M,50M")
    parser.add_argument("--days", type=int, default=20, help="past sessions the history is spread over")
    parser.add_argument("--batch", type=int, default=5000, help="trades per sink transaction")
    parser.add_argument("--sink-rows", type=int, default=200_000, help="trades written per measurement")
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    sizes = sorted(parse_size(s) for s in args.sizes.split(","))

    bench = Bench(args.days, args.batch, args.sink_rows, args.queries)
    bench.plan(max(sizes))
    bench.start()
    bench.warm_up()
    results: list[Figures] = []
    try:
        for size in sizes:
            if size > bench.filled:
                console.print(f"[bold]preparing {size:,} rows[/bold]")
                took = bench.fill_to(size)
                console.print(f"  {bench.filled:,} rows in {took:.0f} s")
            console.print(f"[bold]measuring at {bench.filled:,} rows[/bold]")
            results.append(bench.measure())
    finally:
        bench.stop()

    base = results[0]
    table = Table(title="sp500_websocket_trades (day partitions), same run")
    table.add_column("rows in table", justify="right")
    table.add_column("sink write rows/s (×empty)", justify="right")
    table.add_column("merge rows/s (×empty)", justify="right")
    table.add_column("latest/symbol ms (median of 3)", justify="right")
    table.add_column("candle query p50 / p99 ms", justify="right")
    table.add_column("bytes per trading day", justify="right")
    for f in results:
        per_day = (
            f"{f.day_bytes / 1e6:,.0f} MB ({f.day_rows:,} ticks, {f.day_bytes / max(f.day_rows, 1):.0f} B/tick)"
            if f.day_rows
            else "—"
        )
        table.add_row(
            f"{f.rows:,}",
            f"{f.sink_rows_s:,.0f} ({f.sink_rows_s / base.sink_rows_s:.2f})",
            f"{f.merge_rows_s:,.0f} ({f.merge_rows_s / base.merge_rows_s:.2f})",
            f"{statistics.median(f.latest_ms):.1f}",
            f"{pct(f.candle_ms, 0.5):.2f} / {pct(f.candle_ms, 0.99):.2f}",
            per_day,
        )
    console.print(table)
    last = results[-1]
    console.print(
        f"sink at {last.rows:,} rows = {last.sink_rows_s / base.sink_rows_s:.0%} of the empty table (target ≥ 90 %); "
        f"candle p99 {pct(last.candle_ms, 0.99):.1f} ms (target < 50 ms)"
    )


if __name__ == "__main__":
    main()
