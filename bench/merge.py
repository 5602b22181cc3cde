"""Bulk merge throughput: marketpipe's COPY + one INSERT … ON CONFLICT vs the seed's row-at-a-time upsert.

Runs against a fresh embedded PostgreSQL with default durability settings (fsync on), into the wide
``balance_sheet`` table (39 columns). The seed's pattern is one ``INSERT … ON CONFLICT DO UPDATE`` per
row with autocommit (the seed even opens a new connection per row; we give it one connection, which
flatters it). Both are measured in the same run; the ratio is what matters.

    python bench/merge.py [--rows 100000] [--seed-rows 10000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

from marketpipe.config import Settings
from marketpipe.db import merge_rows, migrate, table_columns
from marketpipe.runtime import PostgresService

KEY = ("symbol", "fiscaldateending")


def make_rows(count: int, bump: int = 0) -> list[dict[str, Any]]:
    """``count`` balance-sheet rows: 4 quarters per symbol, 36 numeric fields each."""
    rng = random.Random(42 + bump)
    numeric_fields = [
        c
        for c in [
            "totalassets",
            "totalcurrentassets",
            "cashandcashequivalentsatcarryingvalue",
            "cashandshortterminvestments",
            "inventory",
            "currentnetreceivables",
            "totalnoncurrentassets",
            "propertyplantequipment",
            "accumulateddepreciationamortizationppe",
            "intangibleassets",
            "intangibleassetsexcludinggoodwill",
            "goodwill",
            "investments",
            "longterminvestments",
            "shortterminvestments",
            "othercurrentassets",
            "othernoncurrentassets",
            "totalliabilities",
            "totalcurrentliabilities",
            "currentaccountspayable",
            "deferredrevenue",
            "currentdebt",
            "shorttermdebt",
            "totalnoncurrentliabilities",
            "capitalleaseobligations",
            "longtermdebt",
            "currentlongtermdebt",
            "longtermdebtnoncurrent",
            "shortlongtermdebttotal",
            "othercurrentliabilities",
            "othernoncurrentliabilities",
            "totalshareholderequity",
            "treasurystock",
            "retainedearnings",
            "commonstock",
            "commonstocksharesoutstanding",
        ]
    ]
    rows = []
    for i in range(count):
        row: dict[str, Any] = {
            "symbol": f"S{i // 4:06d}",
            "fiscaldateending": date(2025, 3, 31) - timedelta(days=91 * (i % 4)),
            "reportedcurrency": "USD",
        }
        for field in numeric_fields:
            row[field] = Decimal(rng.randrange(10**6, 10**12))
        rows.append(row)
    return rows


def seed_style(conn: psycopg.Connection, rows: list[dict[str, Any]]) -> None:
    """The seed's store loop: one upsert statement per row, each its own autocommitted transaction."""
    columns = list(rows[0])
    statement = sql.SQL(
        "INSERT INTO balance_sheet ({cols}) VALUES ({vals}) ON CONFLICT (symbol, fiscaldateending) "
        "DO UPDATE SET {sets}, fetched_at = now()"
    ).format(
        cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
        vals=sql.SQL(", ").join(sql.Placeholder(c) for c in columns),
        sets=sql.SQL(", ").join(
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in columns if c not in KEY
        ),
    )
    for row in rows:
        conn.execute(statement, row)


def timed(label: str, func: Any, *args: Any) -> float:
    started = time.perf_counter()
    func(*args)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed-rows", type=int, default=10_000, help="rows for the (slow) seed pattern")
    args = parser.parse_args()
    console = Console()

    with tempfile.TemporaryDirectory(prefix="mpbench") as tmp:
        service = PostgresService(Settings(_env_file=None, data_dir=Path(tmp)))  # type: ignore[call-arg]
        url = service.start()
        try:
            with psycopg.connect(url) as conn:
                migrate(conn)
                table_columns(conn, "balance_sheet")
                fresh, changed = make_rows(args.rows), make_rows(args.rows, bump=1)

                def merge(rows: list[dict[str, Any]]) -> None:
                    with conn.transaction():
                        merge_rows(conn, "balance_sheet", rows, KEY, touch="fetched_at")

                with console.status("marketpipe merge: new keys…"):
                    t_new = timed("new", merge, fresh)
                with console.status("marketpipe merge: updates…"):
                    t_upd = timed("update", merge, changed)
                conn.execute("TRUNCATE balance_sheet")
                conn.commit()

            with psycopg.connect(url, autocommit=True) as conn:
                sample = make_rows(args.seed_rows)
                with console.status(f"seed pattern: {args.seed_rows:,} row-at-a-time upserts…"):
                    t_seed = timed("seed", seed_style, conn, sample)
        finally:
            service.stop()

    new_rate, upd_rate, seed_rate = args.rows / t_new, args.rows / t_upd, args.seed_rows / t_seed
    table = Table(title="bulk merge into balance_sheet (39 columns), embedded PostgreSQL 16, fsync on")
    table.add_column("writer")
    table.add_column("rows", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("rows/s", justify="right")
    table.add_column("vs seed", justify="right")
    table.add_row(
        "marketpipe merge_rows, new keys",
        f"{args.rows:,}",
        f"{t_new:.2f}",
        f"{new_rate:,.0f}",
        f"{new_rate / seed_rate:.1f}×",
    )
    table.add_row(
        "marketpipe merge_rows, all changed",
        f"{args.rows:,}",
        f"{t_upd:.2f}",
        f"{upd_rate:,.0f}",
        f"{upd_rate / seed_rate:.1f}×",
    )
    table.add_row(
        "seed: 1 upsert per row, autocommit",
        f"{args.seed_rows:,}",
        f"{t_seed:.2f}",
        f"{seed_rate:,.0f}",
        "1.0×",
    )
    console.print(table)
    console.print(
        f"targets: ≥ 100,000 rows/s for new keys ({'met' if new_rate >= 100_000 else 'NOT met'}), "
        f"≥ 30× the seed pattern ({'met' if new_rate / seed_rate >= 30 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
