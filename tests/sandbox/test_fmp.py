"""Financial Modeling Prep simulator against a real sandbox server (docs/providers.md §5)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

KEY = "fmp-test-key"
SPEC_CALENDAR_KEYS = [
    "symbol", "date", "epsActual", "epsEstimated", "revenueActual", "revenueEstimated", "lastUpdated",
]  # fmt: skip
SPEC_CONSTITUENT_KEYS = [
    "symbol",
    "name",
    "sector",
    "subSector",
    "headQuarter",
    "dateFirstAdded",
    "cik",
    "founded",
]
SPEC_PROFILE_KEYS = [
    "symbol", "price", "marketCap", "beta", "lastDividend", "range", "change", "changePercentage", "volume",
    "averageVolume", "companyName", "currency", "cik", "isin", "cusip", "exchangeFullName", "exchange", "industry",
    "website", "description", "ceo", "sector", "country", "fullTimeEmployees", "phone", "address", "city", "state",
    "zip", "image", "ipoDate", "defaultImage", "isEtf", "isActivelyTrading", "isAdr", "isFund",
]  # fmt: skip
LIMIT_REACH = {
    "Error Message": "Limit Reach . Please upgrade your plan or visit our documentation for more details at "
    "https://site.financialmodelingprep.com/"
}


@pytest.fixture
def fmp(sandbox) -> Iterator[httpx.Client]:
    """An FMP client (the plan switches are back at their defaults: the fixture reset the sandbox)."""
    with httpx.Client(base_url=sandbox.base_url("fmp"), timeout=10) as client:
        yield client


def _get(client: httpx.Client, path: str, **params: object) -> httpx.Response:
    return client.get(path, params={"apikey": KEY, **params})


def test_earnings_calendar_shape_window_and_numbers(sandbox, fmp: httpx.Client) -> None:
    today = sandbox.admin.now().date()
    first, last = today - timedelta(days=10), today + timedelta(days=10)
    rows = _get(fmp, "/earnings-calendar", **{"from": first.isoformat(), "to": last.isoformat()}).json()
    assert rows
    for row in rows:
        assert list(row) == SPEC_CALENDAR_KEYS
        assert first <= date.fromisoformat(row["date"]) <= last
        assert row["epsActual"] is None or isinstance(row["epsActual"], float)
        if date.fromisoformat(row["date"]) > today:
            assert row["epsActual"] is None and row["revenueActual"] is None
    assert any("." in row["symbol"] for row in rows), "global symbols with exchange suffixes appear"


def test_earnings_dates_agree_with_finnhub(sandbox, fmp: httpx.Client) -> None:
    window = {"from": "2026-11-01", "to": "2026-11-30"}
    members = set(sandbox.admin.constituents())
    fmp_rows = {
        (r["symbol"], r["date"])
        for r in _get(fmp, "/earnings-calendar", **window).json()
        if r["symbol"] in members
    }
    finnhub = httpx.get(
        sandbox.base_url("finnhub") + "/calendar/earnings", params={"token": "k", **window}, timeout=10
    ).json()["earningsCalendar"]
    assert fmp_rows == {(r["symbol"], r["date"]) for r in finnhub}


def test_earnings_calendar_range_is_clipped_to_90_days(fmp: httpx.Client) -> None:
    rows = _get(fmp, "/earnings-calendar", **{"from": "2026-01-01", "to": "2026-12-31"}).json()
    assert rows and max(r["date"] for r in rows) <= "2026-04-01"
    assert len(rows) <= 4000


def test_company_earnings_history(fmp: httpx.Client) -> None:
    rows = _get(fmp, "/earnings", symbol="AAPL", limit=6).json()
    assert len(rows) == 6 and all(list(r) == SPEC_CALENDAR_KEYS and r["symbol"] == "AAPL" for r in rows)
    assert [r["date"] for r in rows] == sorted((r["date"] for r in rows), reverse=True)
    assert _get(fmp, "/earnings", symbol="NOTREAL").json() == []


def test_sp500_constituents_follow_fmp_conventions(sandbox, fmp: httpx.Client) -> None:
    rows = _get(fmp, "/sp500-constituent").json()
    assert {r["symbol"] for r in rows} == set(sandbox.admin.constituents())
    for row in rows:
        assert list(row) == SPEC_CONSTITUENT_KEYS
        assert len(row["cik"]) == 10 and row["cik"].isdigit()
    sectors = {r["sector"] for r in rows}
    assert "Technology" in sectors and "Information Technology" not in sectors
    history = _get(fmp, "/historical-sp500-constituent").json()
    assert history and {"date", "symbol", "addedSecurity", "removedTicker", "removedSecurity"} <= set(
        history[0]
    )


def test_index_change_made_through_the_admin_shows_up(sandbox, fmp: httpx.Client) -> None:
    sandbox.admin.change_membership(remove="AAPL")
    assert "AAPL" not in {r["symbol"] for r in _get(fmp, "/sp500-constituent").json()}


def test_profile_is_a_one_element_array_with_spec_types(sandbox, fmp: httpx.Client) -> None:
    body = _get(fmp, "/profile", symbol="AAPL").json()
    assert isinstance(body, list) and len(body) == 1
    profile = body[0]
    assert list(profile) == SPEC_PROFILE_KEYS
    assert profile["companyName"] == "Apple Inc." and profile["cik"] == "0000320193"
    assert isinstance(profile["fullTimeEmployees"], str) and "-" in profile["range"]
    assert profile["price"] == pytest.approx(sandbox.admin.quote("AAPL")["price"], rel=0.01)
    assert len(profile["isin"]) == 12 and profile["isin"][2:11] == profile["cusip"]
    assert _get(fmp, "/profile", symbol="NOTREAL").json() == []


def test_quote_and_ipo_calendar(sandbox, fmp: httpx.Client) -> None:
    quote = _get(fmp, "/quote", symbol="MSFT").json()[0]
    assert quote["symbol"] == "MSFT" and quote["dayLow"] <= quote["price"] <= quote["dayHigh"]
    assert quote["price"] == pytest.approx(sandbox.admin.quote("MSFT")["price"], rel=0.01)
    ipos = _get(fmp, "/ipos-calendar", **{"from": "2026-11-01", "to": "2026-11-30"}).json()
    assert ipos and all("2026-11-01" <= ipo["date"] <= "2026-11-30" for ipo in ipos)


def test_demo_and_missing_keys_get_the_invalid_key_reply(fmp: httpx.Client) -> None:
    for params in ({"symbol": "AAPL", "apikey": "demo"}, {"symbol": "AAPL"}):
        reply = fmp.get("/profile", params=params)
        assert reply.status_code == 401 and reply.json()["Error Message"].startswith("Invalid API KEY.")


def test_symbol_outside_the_plan_is_a_402_plain_text(fmp: httpx.Client) -> None:
    reply = _get(fmp, "/profile", symbol="RKLB")
    assert reply.status_code == 402 and reply.headers["content-type"].startswith("text/plain")
    assert reply.text.startswith("Premium Query Parameter: 'Special Endpoint : This value set for 'symbol'")
    with pytest.raises(ValueError):
        reply.json()


def test_endpoint_outside_the_plan_can_be_switched_to_403(fmp: httpx.Client) -> None:
    fmp.post("/_settings", json={"exclusive_endpoints": ["sp500-constituent"]})
    reply = _get(fmp, "/sp500-constituent")
    assert reply.status_code == 403 and reply.json()["Error Message"].startswith("Exclusive Endpoint :")
    assert _get(fmp, "/profile", symbol="AAPL").status_code == 200


def test_250_calls_a_day_then_limit_reach_and_a_new_day_resets(sandbox, fmp: httpx.Client) -> None:
    sandbox.admin.set_clock(datetime(2026, 11, 16, 22, 0, tzinfo=UTC), rate=0)
    statuses = [_get(fmp, "/quote", symbol="AAPL").status_code for _ in range(251)]
    assert statuses == [200] * 250 + [429]
    assert _get(fmp, "/profile", symbol="AAPL").json() == LIMIT_REACH
    # FMP sometimes answers the quota error with HTTP 200 (an object where an array is expected).
    fmp.post("/_settings", json={"quota_status": 200})
    in_200 = _get(fmp, "/profile", symbol="AAPL")
    assert in_200.status_code == 200 and in_200.json() == LIMIT_REACH
    sandbox.admin.advance(hours=2)  # past 00:00 UTC
    assert _get(fmp, "/profile", symbol="AAPL").status_code == 200


def test_legacy_and_bandwidth_replies_through_the_reply_fault(sandbox, fmp: httpx.Client) -> None:
    from marketpipe.sandbox.providers.fmp import BANDWIDTH_BODY

    sandbox.admin.add_fault("fmp", "reply", route="profile", count=1, status=429, body=BANDWIDTH_BODY)
    reply = _get(fmp, "/profile", symbol="AAPL")
    assert reply.status_code == 429 and reply.json()["Error Message"].startswith("Bandwidth Limit Reach .")


def test_admin_reset_restores_the_plan_switches(sandbox, fmp: httpx.Client) -> None:
    defaults = fmp.get("/_settings").json()
    fmp.post(
        "/_settings",
        json={"quota_status": 200, "premium_symbols": ["AAPL"], "exclusive_endpoints": ["quote"]},
    )
    assert _get(fmp, "/profile", symbol="AAPL").status_code == 402
    sandbox.admin.reset()
    assert fmp.get("/_settings").json() == defaults
    assert _get(fmp, "/profile", symbol="AAPL").status_code == 200
