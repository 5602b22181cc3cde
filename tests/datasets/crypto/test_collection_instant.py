"""The collection instant of periodic snapshots (pure: a fake context)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from marketpipe.datasets.crypto._instant import collection_instant
from marketpipe.engine.clock import SYSTEM_CLOCK
from marketpipe.engine.runner import data_interval


@dataclass
class _Ctx:
    logical_date: date
    at: datetime
    slot: timedelta = timedelta(days=1)

    def now(self) -> datetime:
        return self.at

    @property
    def data_interval_start(self) -> datetime:
        """What the engine hands a run without an explicit interval (see runner.data_interval)."""
        return data_interval(
            _Spec(self.slot),
            self.at if self.at.date() == self.logical_date else self.logical_date,
            SYSTEM_CLOCK,
        )[0]


@dataclass
class _Spec:
    slot: timedelta | None


def test_six_hour_periods_floor_to_the_boundary_on_the_logical_day():
    ctx = _Ctx(date(2026, 11, 16), datetime(2026, 11, 16, 13, 7, 55, tzinfo=UTC), timedelta(hours=6))
    assert collection_instant(ctx, timedelta(hours=6)) == datetime(2026, 11, 16, 12, 0, tzinfo=UTC)  # type: ignore[arg-type]


def test_daily_and_backfilled_runs_use_the_logical_midnight():
    ctx = _Ctx(date(2026, 11, 10), datetime(2026, 11, 16, 13, 7, tzinfo=UTC))
    midnight = datetime(2026, 11, 10, tzinfo=UTC)
    assert collection_instant(ctx, timedelta(days=1)) == midnight  # type: ignore[arg-type]
    assert collection_instant(ctx, timedelta(hours=6)) == midnight  # type: ignore[arg-type]
