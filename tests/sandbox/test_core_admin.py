"""The admin API: health, clock, counters, reset, quota switches, key lists, world membership."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx

from marketpipe.sandbox.counters import key_id

KEY = "admin-test-key"


def _overview(sandbox, key: str = KEY, symbol: str = "MSFT") -> httpx.Response:
    params = {"function": "OVERVIEW", "symbol": symbol, "apikey": key}
    return httpx.get(sandbox.base_url("alpha_vantage") + "/query", params=params, timeout=10)


def test_health_lists_the_providers_and_the_seed(sandbox) -> None:
    health = sandbox.admin.health()
    assert health["status"] == "ok" and health["seed"] == 42
    assert {"alpha_vantage", "sp500_list"} <= set(health["providers"])


def test_clock_can_be_read_advanced_frozen_and_set(sandbox) -> None:
    start = sandbox.admin.now()
    assert start - datetime(2026, 11, 16, 15, 0, tzinfo=UTC) < timedelta(minutes=5)
    moved = sandbox.admin.advance(days=1, hours=2)
    assert moved - start >= timedelta(days=1, hours=2)
    frozen = sandbox.admin.set_clock(datetime(2027, 3, 1, 12, 0, tzinfo=UTC), rate=0)
    assert sandbox.admin.now() == frozen == datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    assert sandbox.admin.clock()["rate"] == 0
    sandbox.admin.reset(counters=False, clock=True)
    assert sandbox.admin.now() - datetime(2026, 11, 16, 15, 0, tzinfo=UTC) < timedelta(minutes=1)


def test_counters_per_provider_key_and_endpoint_name_keys_only_by_id(sandbox) -> None:
    sandbox.admin.set_quotas(False)
    for _ in range(3):
        _overview(sandbox)
    _overview(sandbox, key="second-key")
    _overview(sandbox, key="")
    rows = sandbox.admin.counters("alpha_vantage")["rows"]
    by_key = {(r["key_id"], r["endpoint"]): r for r in rows}
    assert by_key[(key_id(KEY), "OVERVIEW")]["calls"] == 3
    assert by_key[(key_id(KEY), "OVERVIEW")]["served"] == 3
    assert by_key[(key_id("second-key"), "OVERVIEW")]["calls"] == 1
    assert by_key[("-", "OVERVIEW")]["auth_failed"] == 1
    assert KEY not in str(rows)
    assert sandbox.admin.calls("alpha_vantage") == 5
    assert sandbox.admin.calls("alpha_vantage", key=KEY, endpoint="OVERVIEW") == 3
    sandbox.admin.reset()
    assert sandbox.admin.calls() == 0


def test_quotas_switch_off_globally_per_provider_and_take_overrides(sandbox) -> None:
    one_a_day = [{"name": "day", "limit": 1, "seconds": 86400}]
    sandbox.admin.set_provider_quota("alpha_vantage", windows=one_a_day)
    assert "Symbol" in _overview(sandbox).json()
    assert "25 requests per day" in _overview(sandbox).json()["Information"]
    assert sandbox.admin.refused("alpha_vantage", key=KEY) == 1
    sandbox.admin.set_provider_quota("alpha_vantage", enabled=False)
    assert "Symbol" in _overview(sandbox).json()
    sandbox.admin.set_provider_quota("alpha_vantage", enabled=True)
    assert "Information" in _overview(sandbox).json()
    sandbox.admin.set_quotas(False)
    assert "Symbol" in _overview(sandbox).json()
    quotas = sandbox.admin.quotas()
    assert quotas["enabled"] is False
    assert quotas["providers"]["alpha_vantage"]["windows"][0]["limit"] == 1
    sandbox.admin.set_quotas(True)
    sandbox.admin.set_provider_quota("alpha_vantage", default=True)
    windows = sandbox.admin.quotas()["providers"]["alpha_vantage"]["windows"]
    assert {(w["name"], w["limit"]) for w in windows} == {("day", 25), ("burst", 5)}


def test_explicit_key_list_accepts_only_those_keys(sandbox) -> None:
    sandbox.admin.set_quotas(False)
    sandbox.admin.set_keys("alpha_vantage", valid=["only-this-one"])
    assert "Error Message" in _overview(sandbox).json()
    assert "Symbol" in _overview(sandbox, key="only-this-one").json()
    sandbox.admin.set_keys("alpha_vantage", valid=None)
    assert "Symbol" in _overview(sandbox).json()
    assert "Error Message" in _overview(sandbox, key="invalid-key").json()  # open mode convention


def test_membership_changes_by_admin_are_dated_and_undone_by_reset(sandbox) -> None:
    today = sandbox.admin.now().date()
    before = sandbox.admin.constituents()
    made = sandbox.admin.change_membership(
        remove="MMM", add={"symbol": "ZZZQ", "name": "Zed Corp", "sector": "Industrials"}
    )
    assert {(m["action"], m["symbol"]) for m in made} == {("removed", "MMM"), ("added", "ZZZQ")}
    after = sandbox.admin.constituents()
    assert "MMM" not in after and "ZZZQ" in after and len(after) == len(before)
    assert "MMM" in sandbox.admin.constituents(today - timedelta(days=1))
    sandbox.admin.reset()
    assert sandbox.admin.constituents() == before


def test_scheduled_rebalance_swaps_one_member_on_the_third_friday(sandbox) -> None:
    before = set(sandbox.admin.constituents(date(2026, 12, 17)))
    after = set(sandbox.admin.constituents(date(2026, 12, 18)))
    assert len(before - after) == 1 and len(after - before) == 1
    changes = httpx.get(f"{sandbox.url}/_admin/world/membership", params={"until": "2026-12-31"}).json()
    assert {c["day"] for c in changes} == {"2026-09-18", "2026-12-18"}


def test_world_quote_matches_what_the_admin_reports_over_time(sandbox) -> None:
    sandbox.admin.freeze()
    first = sandbox.admin.quote("AAPL")
    assert first == sandbox.admin.quote("AAPL")  # frozen clock → same snapshot
    sandbox.admin.advance(hours=1)
    later = sandbox.admin.quote("AAPL")
    assert later["ts"] == first["ts"] + 3600 and later["prev_close"] == first["prev_close"]
    assert later["low"] <= later["price"] <= later["high"]
