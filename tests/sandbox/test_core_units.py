"""Pure logic of the sandbox core: clock, quota windows, fault registry, schema drift, counters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from marketpipe.sandbox.clock import SimClock
from marketpipe.sandbox.counters import Counters, key_id
from marketpipe.sandbox.faults import HTTP_KINDS, WS_KINDS, FaultRegistry, FaultSpec, drift
from marketpipe.sandbox.quota import QuotaLedger, QuotaWindow, per_day, per_month, per_second

START = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)


class FakeMonotonic:
    """A hand-driven monotonic clock (unit tests of pure logic only)."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


def test_clock_follows_real_time_at_its_rate_and_jumps_on_advance_and_set() -> None:
    mono = FakeMonotonic()
    clock = SimClock(START, rate=2.0, monotonic=mono)
    mono.value += 10
    assert clock.now() == datetime(2026, 11, 16, 15, 0, 20, tzinfo=UTC)
    assert clock.advance(86400).date().isoformat() == "2026-11-17"
    clock.set(datetime(2027, 1, 1, tzinfo=UTC), rate=0)
    mono.value += 500
    assert clock.now() == datetime(2027, 1, 1, tzinfo=UTC)  # frozen
    assert clock.snapshot()["rate"] == 0


def test_daily_window_resets_at_utc_midnight_and_refusals_consume_nothing() -> None:
    ledger = QuotaLedger()
    windows = (per_day(2),)
    t = START.timestamp()
    assert ledger.hit("p", "k", windows, t).remaining == 1
    assert ledger.hit("p", "k", windows, t).remaining == 0
    refused = ledger.hit("p", "k", windows, t)
    assert not refused.allowed and refused.window == "day"
    assert refused.reset_ts == datetime(2026, 11, 17, tzinfo=UTC).timestamp()
    assert ledger.hit("p", "other-key", windows, t).allowed  # per key
    assert ledger.hit("p", "k", windows, refused.reset_ts).allowed  # next day
    assert ledger.usage("p")[0]["used"] == 1


def test_tightest_window_is_reported_and_any_full_window_refuses() -> None:
    ledger = QuotaLedger()
    windows = (per_day(25), per_second(2, name="burst"))
    t = START.timestamp()
    first = ledger.hit("p", "k", windows, t)
    assert (first.window, first.remaining) == ("burst", 1)
    ledger.hit("p", "k", windows, t)
    assert ledger.hit("p", "k", windows, t).window == "burst"
    assert ledger.hit("p", "k", windows, t + 1).allowed
    day = next(row for row in ledger.usage("p") if row["window"] == "day")
    assert day["used"] == 3  # the refused call consumed nothing


def test_month_window_spans_the_calendar_month() -> None:
    window = per_month(10)
    index, start, end = window.bounds(datetime(2026, 12, 31, 23, 59, tzinfo=UTC).timestamp())
    assert datetime.fromtimestamp(start, UTC) == datetime(2026, 12, 1, tzinfo=UTC)
    assert datetime.fromtimestamp(end, UTC) == datetime(2027, 1, 1, tzinfo=UTC)
    assert window.bounds(end)[0] == index + 1


def test_window_offset_moves_the_reset_time() -> None:
    window = QuotaWindow(name="day", limit=1, seconds=86400, offset_s=9 * 3600)
    _, start, _ = window.bounds(datetime(2026, 11, 16, 8, 0, tzinfo=UTC).timestamp())
    assert datetime.fromtimestamp(start, UTC) == datetime(2026, 11, 15, 9, 0, tzinfo=UTC)


def test_fault_count_probability_route_and_key_matching() -> None:
    registry = FaultRegistry(seed=7)
    registry.add(FaultSpec(provider="p", kind="server_error", route="OVERVIEW", count=2), None)
    assert registry.take("p", "EARNINGS") is None
    assert registry.take("p", "OVERVIEW") is not None
    assert registry.take("p", "OVERVIEW") is not None
    assert registry.take("p", "OVERVIEW") is None  # count used up: gone
    assert registry.list() == []

    registry.add(FaultSpec(provider="p", kind="slow", route="/quote*"), key_id("k1"))
    assert registry.take("p", "x", "/quote", key_id("k2")) is None
    assert registry.take("p", "x", "/quote", key_id("k1")) is not None  # matched by sub-path and key

    registry.clear()
    registry.add(FaultSpec(provider="p", kind="empty_body", probability=0.3), None)
    fired = [registry.take("p", "e") is not None for _ in range(400)]
    again = FaultRegistry(seed=7)
    again.add(FaultSpec(provider="p", kind="empty_body", probability=0.3), None)
    assert fired == [again.take("p", "e") is not None for _ in range(400)]  # seeded
    assert 80 < sum(fired) < 160


def test_websocket_kinds_are_only_taken_by_websocket_servers() -> None:
    registry = FaultRegistry()
    registry.add(FaultSpec(provider="finnhub_ws", kind="ws_duplicate", count=1), None)
    assert registry.take("finnhub_ws", "trades", kinds=HTTP_KINDS) is None
    fault = registry.take("finnhub_ws", "trades", kinds=WS_KINDS)
    assert fault is not None and fault.kind == "ws_duplicate"


def test_schema_drift_default_renames_nulls_drops_and_adds() -> None:
    payload = {"a": 1, "b": 2, "c": 3, "d": [{"x": 1, "y": 2, "z": 3}]}
    drifted = drift(payload, {})
    assert drifted == {
        "a_v2": 1,
        "b": None,
        "d": [{"x_v2": 1, "y": None, "sandboxExtraField": "drift"}],
        "sandboxExtraField": "drift",
    }
    explicit = drift(
        {"Symbol": "IBM", "Name": "x", "PERatio": "1"},
        {"rename": {"Symbol": "symbol"}, "drop": ["Name"], "null": ["PERatio"], "extra": {"new": 1}},
    )
    assert explicit == {"symbol": "IBM", "PERatio": None, "new": 1}


def test_counters_never_hold_the_key_itself() -> None:
    counters = Counters()
    counters.add("p", key_id("secret-key"), "E", "calls")
    counters.add("p", key_id("secret-key"), "E", "served")
    rows = counters.rows()
    assert "secret-key" not in repr(rows)
    assert rows[0]["calls"] == 1 and rows[0]["served"] == 1
    assert key_id(None) == "-" and len(key_id("k")) == 12


@pytest.mark.parametrize("kind", sorted(HTTP_KINDS | WS_KINDS))
def test_every_fault_kind_is_accepted_by_the_spec_model(kind: str) -> None:
    assert FaultSpec(provider="p", kind=kind).kind == kind  # type: ignore[arg-type]
