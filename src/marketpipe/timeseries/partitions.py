"""Day partitions of the tick tables (migration 0155): the maintenance steps, in Python order.

Every step is one SQL function of migration 0155, called with ``SELECT`` so it runs through any
query callable (a dataset's ``ctx.query`` or a psycopg connection) and, on an autocommit connection,
commits on its own — one partition at a time, never a long transaction over the sink's tables.

Per table of ``tick_retention``, at the run's clock (UTC days):

1. **ahead** — partitions for yesterday … today + ``ahead_days`` (default 7), moving any row of
   those days that sits in the default partition into its day;
2. **retention** — each day partition older than ``retention_days`` (default 30) is first rolled up
   into ``trade_candles`` (1 m / 5 m / 1 h candles the sink did not already keep), then dropped;
3. **strays** — default-partition rows older than the retention are rolled up and deleted.

Why a default partition *and* creation ahead: the sink COPYs into the parent table and must never
fail for a missing day (a failed COPY would stall a Kafka partition). Creating a week ahead means the
default partition stays empty while maintenance runs at least weekly; if it stops longer, or a
producer sends a far-future/ancient timestamp, rows land in the default partition instead of
failing, and the next run moves them into their day (or purges them once past the retention).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

Query = Callable[[str, "Sequence[Any] | Mapping[str, Any]"], list[tuple[Any, ...]]]


@dataclass(frozen=True)
class TickTable:
    table: str
    key: str
    candle_stream: str | None
    retention_days: int
    ahead_days: int


@dataclass(frozen=True)
class Action:
    table_name: str
    partition_name: str
    action: str  # created | moved | rolled_up | dropped | purged
    rows: int

    def row(self, run_id: int | None = None) -> dict[str, Any]:
        return {
            "table_name": self.table_name,
            "partition_name": self.partition_name,
            "action": self.action,
            "rows": self.rows,
            "run_id": run_id,
        }


def day_ms(day: date) -> int:
    return (day - date(1970, 1, 1)).days * 86_400_000


def partition_name(table: str, day: date) -> str:
    return f"{table}_p{day:%Y%m%d}"


def tick_tables(query: Query) -> list[TickTable]:
    rows = query(
        "SELECT table_name, partition_column, candle_stream, retention_days, ahead_days"
        " FROM tick_retention ORDER BY table_name",
        (),
    )
    return [TickTable(*row) for row in rows]


def day_partitions(query: Query, table: str) -> list[tuple[str, date]]:
    """The day partitions of ``table`` (default excluded), oldest first."""
    rows = query(
        """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = %s::regclass AND c.relname ~ '_p[0-9]{8}$' ORDER BY c.relname""",
        (table,),
    )
    out = []
    for (name,) in rows:
        stamp = name[-8:]
        out.append((name, date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:]))))
    return sorted(out, key=lambda item: item[1])


def ensure_ahead(query: Query, spec: TickTable, today: date) -> list[Action]:
    actions = []
    for offset in range(-1, spec.ahead_days + 1):
        day = today + timedelta(days=offset)
        moved = int(query("SELECT mp_ensure_day_partition(%s, %s, %s)", (spec.table, spec.key, day))[0][0])
        if moved >= 0:
            actions.append(Action(spec.table, partition_name(spec.table, day), "created", 0))
        if moved > 0:
            actions.append(Action(spec.table, partition_name(spec.table, day), "moved", moved))
    return actions


def apply_retention(query: Query, spec: TickTable, today: date) -> list[Action]:
    """Roll up, then drop, every day partition older than the retention; purge old default rows."""
    cutoff = today - timedelta(days=spec.retention_days)
    actions = []
    for name, day in day_partitions(query, spec.table):
        if day >= cutoff:
            break
        candles = int(
            query(
                "SELECT mp_rollup_ticks(%s, %s, %s, %s, %s)",
                (name, spec.key, spec.candle_stream, day_ms(day), day_ms(day + timedelta(days=1))),
            )[0][0]
        )
        actions.append(Action(spec.table, name, "rolled_up", candles))
        rows = int(query("SELECT mp_drop_day_partition(%s, %s)", (spec.table, name))[0][0])
        actions.append(Action(spec.table, name, "dropped", rows))
    purged = int(
        query(
            "SELECT mp_purge_default(%s, %s, %s, %s)",
            (spec.table, spec.key, spec.candle_stream, day_ms(cutoff)),
        )[0][0]
    )
    if purged:
        actions.append(Action(spec.table, f"{spec.table}_default", "purged", purged))
    return actions


def maintain(query: Query, today: date) -> list[Action]:
    """Every step for every tick table (see the module docstring)."""
    actions: list[Action] = []
    for spec in tick_tables(query):
        actions += ensure_ahead(query, spec, today)
        actions += apply_retention(query, spec, today)
    return actions
