"""Airflow's pendulum instants at the task boundary (found by `marketpipe airflow deployed`: every
run of marketpipe_crypto_every_6h_m00 failed with AttributeError '_to_microseconds')."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pendulum
from hypothesis import given
from hypothesis import strategies as st

from marketpipe.datasets.crypto._instant import collection_instant
from marketpipe.orchestration.airflow_tasks import task_instants


@dataclass
class _Interval:
    data_interval_start: datetime


PERIODS = st.sampled_from([timedelta(minutes=10), timedelta(hours=6), timedelta(hours=12), timedelta(days=1)])
INSTANTS = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


@given(INSTANTS, PERIODS)
def test_a_pendulum_interval_start_gives_the_same_slot_as_a_stdlib_one(
    start: datetime, period: timedelta
) -> None:
    as_pendulum = pendulum.instance(start)
    slot = collection_instant(_Interval(as_pendulum), period)
    assert slot == collection_instant(_Interval(start), period)
    assert slot <= start < slot + period


@given(INSTANTS)
def test_task_instants_are_plain_stdlib_datetimes_at_the_same_instant(start: datetime) -> None:
    end = start + timedelta(hours=6)
    context = {
        "logical_date": pendulum.instance(start),
        "data_interval_start": pendulum.instance(start).in_timezone("Asia/Seoul"),
        "data_interval_end": pendulum.instance(end),
    }
    values = task_instants(context)
    assert {type(v) for v in values.values()} == {datetime}
    assert values == {"logical_date": start, "data_interval_start": start, "data_interval_end": end}
    # Plain stdlib arithmetic all the way (pendulum's Duration // timedelta raises in pendulum 3).
    assert (values["data_interval_end"] - values["data_interval_start"]) // timedelta(hours=1) == 6


def test_a_manual_run_without_logical_date_uses_run_after_and_dates_pass_through() -> None:
    class DagRun:
        run_after = pendulum.datetime(2026, 12, 4, 18, 0, tz="UTC")

    values = task_instants({"logical_date": None, "dag_run": DagRun()})
    assert type(values["logical_date"]) is datetime and values["logical_date"] == datetime(
        2026, 12, 4, 18, tzinfo=UTC
    )
    assert values["data_interval_start"] is None and values["data_interval_end"] is None
    assert task_instants({"logical_date": date(2026, 12, 4)})["logical_date"] == date(2026, 12, 4)
