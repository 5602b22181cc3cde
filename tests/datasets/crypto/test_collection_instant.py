"""The collection instant of periodic snapshots (pure: a fake context)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from marketpipe.datasets.crypto._instant import collection_instant


@dataclass
class _Ctx:
    logical_date: date
    at: datetime

    def now(self) -> datetime:
        return self.at


def test_six_hour_periods_floor_to_the_boundary_on_the_logical_day():
    ctx = _Ctx(date(2026, 11, 16), datetime(2026, 11, 16, 13, 7, 55, tzinfo=UTC))
    assert collection_instant(ctx, timedelta(hours=6)) == datetime(2026, 11, 16, 12, 0, tzinfo=UTC)  # type: ignore[arg-type]


def test_daily_and_backfilled_runs_use_the_logical_midnight():
    ctx = _Ctx(date(2026, 11, 10), datetime(2026, 11, 16, 13, 7, tzinfo=UTC))
    midnight = datetime(2026, 11, 10, tzinfo=UTC)
    assert collection_instant(ctx, timedelta(days=1)) == midnight  # type: ignore[arg-type]
    assert collection_instant(ctx, timedelta(hours=6)) == midnight  # type: ignore[arg-type]
