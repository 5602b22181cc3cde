"""Finnhub REST simulator against a real sandbox server (docs/providers.md §2)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

KEY = "finnhub-test-key"
SPEC_QUOTE_KEYS = ["c", "d", "dp", "h", "l", "o", "pc", "t"]
SPEC_NEWS_KEYS = ["category", "datetime", "headline", "id", "image", "related", "source", "summary", "url"]
SPEC_CALENDAR_KEYS = [
    "date", "epsActual", "epsEstimate", "hour", "quarter", "revenueActual", "revenueEstimate", "symbol", "year",
]  # fmt: skip
SPEC_EARNINGS_KEYS = [
    "actual",
    "estimate",
    "period",
    "quarter",
    "surprise",
    "surprisePercent",
    "symbol",
    "year",
]


@pytest.fixture
def finnhub(sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url("finnhub"), timeout=10) as client:
        yield client


def _get(client: httpx.Client, path: str, **params: object) -> httpx.Response:
    return client.get(path, params={"token": KEY, **params})


def test_quote_has_the_spec_keys_and_the_world_price(sandbox, finnhub: httpx.Client) -> None:
    reply = _get(finnhub, "/quote", symbol="AAPL")
    assert reply.status_code == 200
    body = reply.json()
    assert list(body) == SPEC_QUOTE_KEYS
    assert all(isinstance(body[k], int | float) for k in SPEC_QUOTE_KEYS)
    assert isinstance(body["t"], int)
    world = sandbox.admin.quote("AAPL")
    assert body["c"] == pytest.approx(world["price"], rel=0.01)
    assert body["pc"] == pytest.approx(world["prev_close"], abs=0.01)
    assert body["l"] <= body["c"] <= body["h"]
    # The snapshot lags the sandbox clock by some seconds (spec: ~20-30 s), never leads it.
    assert sandbox.admin.now().timestamp() - 120 <= body["t"] <= sandbox.admin.now().timestamp()


def test_unknown_symbol_quote_is_the_all_zero_object(finnhub: httpx.Client) -> None:
    body = _get(finnhub, "/quote", symbol="NOTREAL").json()
    assert body == {"c": 0, "d": None, "dp": None, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 0}


def test_key_in_header_is_accepted_and_missing_or_invalid_keys_get_401(
    sandbox, finnhub: httpx.Client
) -> None:
    assert (
        finnhub.get("/quote", params={"symbol": "MSFT"}, headers={"X-Finnhub-Token": KEY}).status_code == 200
    )
    missing = finnhub.get("/quote", params={"symbol": "MSFT"})
    assert (missing.status_code, missing.json()) == (401, {"error": "Please use an API key."})
    sandbox.admin.set_keys("finnhub", valid=[KEY])
    invalid = finnhub.get("/quote", params={"symbol": "MSFT", "token": "someone-else"})
    assert (invalid.status_code, invalid.json()) == (401, {"error": "Invalid API key"})


def test_company_news_honours_the_window_and_is_about_the_symbol(sandbox, finnhub: httpx.Client) -> None:
    today = sandbox.admin.now().date()
    first, last = today - timedelta(days=10), today - timedelta(days=3)
    items = _get(
        finnhub, "/company-news", symbol="MSFT", **{"from": first.isoformat(), "to": last.isoformat()}
    ).json()
    assert items, "ten days of a mega-cap's news should not be empty"
    for item in items:
        assert list(item) == SPEC_NEWS_KEYS
        assert isinstance(item["id"], int) and isinstance(item["datetime"], int)
        published = datetime.fromtimestamp(item["datetime"], UTC).date()
        assert first <= published <= last
        assert item["category"] == "company" and item["related"] == "MSFT"
        assert (
            "MSFT" in item["headline"] + item["summary"] or "Microsoft" in item["headline"] + item["summary"]
        )
    assert [i["datetime"] for i in items] == sorted((i["datetime"] for i in items), reverse=True)


def test_company_news_is_empty_for_unknown_symbols_and_never_from_the_future(
    sandbox, finnhub: httpx.Client
) -> None:
    today = sandbox.admin.now().date()
    window = {"from": (today - timedelta(days=5)).isoformat(), "to": (today + timedelta(days=5)).isoformat()}
    assert _get(finnhub, "/company-news", symbol="NOTREAL", **window).json() == []
    now = sandbox.admin.now().timestamp()
    assert all(
        item["datetime"] <= now for item in _get(finnhub, "/company-news", symbol="AAPL", **window).json()
    )


def test_a_new_day_brings_new_company_news(sandbox, finnhub: httpx.Client) -> None:
    sandbox.admin.freeze()
    window = {"from": "2026-01-01", "to": "2026-12-31"}
    before = {item["id"] for item in _get(finnhub, "/company-news", symbol="AAPL", **window).json()}
    sandbox.admin.advance(days=3)
    after = {item["id"] for item in _get(finnhub, "/company-news", symbol="AAPL", **window).json()}
    assert before < after


def test_market_news_min_id_returns_only_newer_items(sandbox, finnhub: httpx.Client) -> None:
    sandbox.admin.freeze()
    batch = _get(finnhub, "/news", category="general").json()
    assert 0 < len(batch) <= 100
    assert all(list(item) == SPEC_NEWS_KEYS for item in batch)
    assert {item["category"] for item in batch} <= {"top news", "business"}
    newest = max(item["id"] for item in batch)
    assert _get(finnhub, "/news", category="general", minId=newest).json() == []
    sandbox.admin.advance(hours=3)
    newer = _get(finnhub, "/news", category="general", minId=newest).json()
    assert newer and all(item["id"] > newest for item in newer)
    # Ids rise with time, so newest-first order is also descending ids.
    assert [i["id"] for i in newer] == sorted((i["id"] for i in newer), reverse=True)


@pytest.mark.parametrize("category", ["forex", "crypto", "merger"])
def test_every_market_news_category_serves_a_batch(finnhub: httpx.Client, category: str) -> None:
    items = _get(finnhub, "/news", category=category).json()
    assert items and all(isinstance(item["id"], int) for item in items)


def test_market_news_without_a_valid_category_is_refused(finnhub: httpx.Client) -> None:
    reply = _get(finnhub, "/news", category="sports")
    assert reply.status_code == 422 and "error" in reply.json()


def test_earnings_calendar_shape_window_and_actuals(sandbox, finnhub: httpx.Client) -> None:
    today = sandbox.admin.now().date()
    first, last = today - timedelta(days=20), today + timedelta(days=20)
    rows = _get(finnhub, "/calendar/earnings", **{"from": first.isoformat(), "to": last.isoformat()}).json()[
        "earningsCalendar"
    ]
    assert rows
    for row in rows:
        assert list(row) == SPEC_CALENDAR_KEYS
        day = date.fromisoformat(row["date"])
        assert first <= day <= last
        assert row["hour"] in {"bmo", "amc", "dmh", ""}
        if day < today:
            assert isinstance(row["epsActual"], float) and isinstance(row["revenueActual"], int)
        if day > today:
            assert row["epsActual"] is None and row["revenueActual"] is None
    one = _get(
        finnhub,
        "/calendar/earnings",
        symbol=rows[0]["symbol"],
        **{"from": first.isoformat(), "to": last.isoformat()},
    )
    assert {row["symbol"] for row in one.json()["earningsCalendar"]} == {rows[0]["symbol"]}


def test_stock_earnings_are_the_last_four_quarters_with_surprise_in_percent(finnhub: httpx.Client) -> None:
    rows = _get(finnhub, "/stock/earnings", symbol="LLY").json()
    assert len(rows) == 4
    for row in rows:
        assert list(row) == SPEC_EARNINGS_KEYS
        assert row["surprise"] == pytest.approx(row["actual"] - row["estimate"], abs=1e-3)
        assert row["surprisePercent"] == pytest.approx(row["surprise"] / row["estimate"] * 100, rel=1e-3)
    assert len(_get(finnhub, "/stock/earnings", symbol="LLY", limit=2).json()) == 2


def test_ipo_calendar_symbols_and_profile(finnhub: httpx.Client) -> None:
    ipos = _get(finnhub, "/calendar/ipo", **{"from": "2026-11-01", "to": "2026-11-30"}).json()["ipoCalendar"]
    assert ipos and {"date", "exchange", "name", "numberOfShares", "price", "status", "symbol"} <= set(
        ipos[0]
    )
    symbols = _get(finnhub, "/stock/symbol", exchange="US").json()
    assert len(symbols) > 400 and {"symbol", "displaySymbol", "description", "type"} <= set(symbols[0])
    profile = _get(finnhub, "/stock/profile2", symbol="AAPL").json()
    assert profile["ticker"] == "AAPL" and profile["name"] == "Apple Inc."
    assert _get(finnhub, "/stock/profile2", symbol="NOTREAL").json() == {}


def test_premium_endpoints_answer_403(finnhub: httpx.Client) -> None:
    reply = _get(finnhub, "/stock/candle", symbol="AAPL", resolution="D")
    assert (reply.status_code, reply.json()) == (403, {"error": "You don't have access to this resource."})


def test_thirty_calls_per_second_then_sixty_per_minute_with_rate_headers(
    sandbox, finnhub: httpx.Client
) -> None:
    sandbox.admin.set_clock(datetime(2026, 11, 16, 15, 0, 0, tzinfo=UTC), rate=0)
    statuses = [_get(finnhub, "/quote", symbol="AAPL").status_code for _ in range(31)]
    assert statuses == [200] * 30 + [429]
    sandbox.admin.advance(seconds=1)
    statuses = [_get(finnhub, "/quote", symbol="AAPL").status_code for _ in range(30)]
    assert statuses == [200] * 30
    sandbox.admin.advance(seconds=1)
    refused = _get(finnhub, "/quote", symbol="AAPL")
    assert refused.status_code == 429
    assert refused.json() == {"error": "API limit reached. Please try again later. Remaining Limit: 0"}
    assert refused.headers["X-Ratelimit-Limit"] == "60"
    assert refused.headers["X-Ratelimit-Remaining"] == "0"
    assert int(refused.headers["X-Ratelimit-Reset"]) == int(
        datetime(2026, 11, 16, 15, 1, tzinfo=UTC).timestamp()
    )
    sandbox.admin.advance(minutes=1)
    fresh = _get(finnhub, "/quote", symbol="AAPL")
    assert fresh.status_code == 200 and fresh.headers["X-Ratelimit-Remaining"] == "59"
    assert sandbox.admin.refused("finnhub", key=KEY) == 2


def test_rate_limit_and_server_error_faults_use_finnhub_replies(sandbox, finnhub: httpx.Client) -> None:
    sandbox.admin.add_fault("finnhub", "rate_limit", route="company-news", count=1)
    window = {"from": "2026-11-10", "to": "2026-11-12"}
    storm = _get(finnhub, "/company-news", symbol="AAPL", **window)
    assert storm.status_code == 429 and storm.json()["error"].startswith("API limit reached")
    assert _get(finnhub, "/company-news", symbol="AAPL", **window).status_code == 200
    sandbox.admin.add_fault("finnhub", "server_error", route="quote", count=1, status=502)
    assert _get(finnhub, "/quote", symbol="AAPL").status_code == 502
    sandbox.admin.add_fault("finnhub", "revoked_key", route="*", count=1)
    assert _get(finnhub, "/quote", symbol="AAPL").json() == {"error": "Invalid API key"}
