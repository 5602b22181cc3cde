"""Tick table maintenance: day partitions ahead, roll-up into candles, retention (migration 0155).

Hourly, at the run's clock: see :mod:`marketpipe.timeseries.partitions` for the steps and why the
sink can never fail for a missing partition. What was done lands in ``tick_maintenance_log`` (one
row per table, partition and action). Retention and days ahead are per table in ``tick_retention``
(``UPDATE tick_retention SET retention_days = 90 WHERE table_name = 'sp500_websocket_trades'``).
"""

from __future__ import annotations

from datetime import UTC

from marketpipe.engine.registry import DERIVED, DatasetSpec, Row, RunContext
from marketpipe.timeseries import partitions


def derive(ctx: RunContext, item: str) -> list[Row]:
    today = ctx.now().astimezone(UTC).date()
    return [action.row(ctx.run_id) for action in partitions.maintain(ctx.query, today)]


DATASET = DatasetSpec(
    name="tick_partitions",
    table="tick_maintenance_log",
    group="derived",
    schedule="17 * * * *",
    providers=(),
    description="Tick tables: day partitions a week ahead, candles rolled up, days past retention dropped",
    key=("table_name", "partition_name", "action"),
    fetch={DERIVED: derive},
    touch="ran_at",
)
