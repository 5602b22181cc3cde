"""The collection instant of a run of a periodic snapshot dataset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class _HasInterval(Protocol):
    @property
    def data_interval_start(self) -> datetime: ...


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def collection_instant(ctx: _HasInterval, period: timedelta) -> datetime:
    """The start of the schedule period the run belongs to: its data interval's start, floored to
    ``period`` — never the wall clock, so a rerun or a late task of the same interval writes the same
    key. (A run without an explicit interval gets the slot of its logical instant from the engine; a
    backfill by date gets that date's midnight.)"""
    elapsed = ctx.data_interval_start.astimezone(UTC) - _EPOCH
    # A plain timedelta: pendulum's Duration (an Airflow instant minus a datetime) cannot be
    # floor-divided by a timedelta (AttributeError '_to_microseconds' in pendulum 3).
    elapsed = timedelta(days=elapsed.days, seconds=elapsed.seconds, microseconds=elapsed.microseconds)
    return _EPOCH + (elapsed // period) * period
