"""The query API against real PostgreSQL (filled by collecting from the sandbox) and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote

import orjson
import psycopg
import pytest
import redis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketpipe.query.news import normalise_title, normalise_url
from marketpipe.serve import create_app
from plugins.query_data import QueryDb


@pytest.fixture
def api(query_db: QueryDb, redis_url: str, redis_client: redis.Redis) -> Iterator[TestClient]:
    with TestClient(create_app(query_db.dsn, redis_url)) as client:
        yield client


def test_overview_has_profile_latest_snapshot_and_history(api: TestClient, query_db: QueryDb) -> None:
    body = api.get("/api/v1/stocks/aapl/overview").json()
    assert body["symbol"] == "AAPL"
    assert body["profile"]["name"] and body["profile"]["is_current"] is True
    latest = body["latest"]
    with psycopg.connect(query_db.dsn) as conn:
        row = conn.execute(
            "SELECT name, market_capitalization FROM company_overview WHERE symbol = 'AAPL' ORDER BY batch_id DESC"
        ).fetchone()
    assert row is not None
    assert (latest["name"], latest["market_capitalization"]) == (row[0], float(row[1]))
    assert body["history"] == []  # one batch collected so far
    assert api.get("/api/v1/stocks/ZZZZ/overview").status_code == 404


def test_statements_by_kind_newest_first(api: TestClient) -> None:
    for kind in ("income", "balance", "cash_flow"):
        body = api.get(f"/api/v1/stocks/AAPL/statements?kind={kind}&limit=4").json()
        periods = body["periods"]
        assert body["kind"] == kind and len(periods) == 4
        dates = [p["fiscal_date_ending"] for p in periods]
        assert dates == sorted(dates, reverse=True)
        assert any(v is not None for v in periods[0]["values"].values())
    assert api.get("/api/v1/stocks/AAPL/statements?kind=nope").status_code == 422


def test_earnings_history_and_upcoming_calendar(api: TestClient) -> None:
    body = api.get("/api/v1/stocks/AAPL/earnings").json()
    history, calendar = body["history"], body["calendar"]
    assert history and calendar
    assert [h["report_date"] for h in history] == sorted((h["report_date"] for h in history), reverse=True)
    assert calendar[0]["report_date"] > history[0]["report_date"]
    assert all(h["eps_actual"] is not None for h in history)


def test_news_is_deduplicated_newest_first_and_scored_per_ticker(api: TestClient) -> None:
    items = api.get("/api/v1/stocks/AAPL/news?limit=100").json()["items"]
    assert len(items) >= 10
    stamps = [i["published_at"] for i in items]
    assert stamps == sorted(stamps, reverse=True)
    urls = [normalise_url(i["url"]) for i in items]
    titles = [normalise_title(i["title"]) for i in items]
    assert len(set(urls)) == len(urls) and len(set(titles)) == len(titles)
    providers = {p for i in items for p in i["providers"]}
    assert {"alpha_vantage", "finnhub_company"} <= providers
    for item in items:
        assert item["sentiment"], item["title"]
        models = {s["model"] for s in item["sentiment"]}
        if "alpha_vantage" in item["providers"]:
            assert models == {"alpha_vantage"}
            assert any(s["ticker"] == "AAPL" for s in item["sentiment"])
        else:  # no provider scored it: ours, for AAPL at least
            assert models == {"vader"}
            aapl = next(s for s in item["sentiment"] if s["ticker"] == "AAPL")
            assert -1 <= aapl["score"] <= 1 and aapl["label"] in ("Bullish", "Neutral", "Bearish")


def test_news_pages_with_a_cursor_without_overlap(api: TestClient) -> None:
    first = api.get("/api/v1/stocks/AAPL/news?limit=5").json()
    assert len(first["items"]) == 5 and first["next_cursor"]
    second = api.get(f"/api/v1/stocks/AAPL/news?limit=5&cursor={first['next_cursor']}").json()
    assert second["items"]
    assert second["items"][0]["published_at"] <= first["items"][-1]["published_at"]
    assert not {i["url"] for i in first["items"]} & {i["url"] for i in second["items"]}
    bad = api.get("/api/v1/stocks/AAPL/news?cursor=not-a-cursor")
    assert bad.status_code == 400 and "cursor" in bad.json()["detail"]


def test_same_article_from_two_feeds_is_one_item(api: TestClient, query_db: QueryDb) -> None:
    """An article Finnhub filed under AAPL and NewsAPI carried too (tracking parameter, other case)."""
    with psycopg.connect(query_db.dsn) as conn:
        url, title, published = conn.execute(
            "SELECT url, title, published_at FROM company_news WHERE symbol = 'AAPL' ORDER BY published_at DESC"
        ).fetchone()  # type: ignore[misc]
        conn.execute(
            """INSERT INTO market_news (source, url, title, description, published_at)
               VALUES ('dup-test', %s, %s, 'AAPL mention', %s)""",
            (url.replace("https://www.", "http://") + "?utm_source=x", title.upper(), published),
        )
    try:
        items = api.get("/api/v1/stocks/AAPL/news?limit=100").json()["items"]
        same = [i for i in items if normalise_title(i["title"]) == normalise_title(title)]
        assert len(same) == 1 and {"finnhub_company", "newsapi"} <= set(same[0]["providers"])
    finally:
        with psycopg.connect(query_db.dsn) as conn:
            conn.execute("DELETE FROM market_news WHERE source = 'dup-test'")


def test_daily_bars_with_missing_sessions(api: TestClient) -> None:
    body = api.get("/api/v1/stocks/AAPL/daily?start=2026-11-02&end=2026-11-13").json()
    assert [b["date"] for b in body["bars"]][:3] == ["2026-11-02", "2026-11-03", "2026-11-04"]
    assert len(body["bars"]) == 9
    assert body["gaps"] == [{"start": "2026-11-11", "end": "2026-11-11", "missing": 1}]
    assert api.get("/api/v1/stocks/AAPL/daily?start=2026-11-13&end=2026-11-01").status_code == 400
    assert api.get("/api/v1/stocks/AAPL/daily?start=3000-01-01").status_code == 400
    assert api.get("/api/v1/stocks/MSFT/daily").status_code == 404


def test_intraday_candles_with_gaps(api: TestClient, query_db: QueryDb) -> None:
    body = api.get("/api/v1/stocks/AAPL/candles?interval=5m").json()
    assert len(body["candles"]) == 5 and body["candles"][0]["o"] == 190.0 and body["candles"][0]["l"] == 189.0
    start = query_db.candles_start
    assert len(body["gaps"]) == 1
    gap = body["gaps"][0]
    assert gap["missing"] == 3
    assert gap["start"].startswith((start + timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M"))
    assert api.get("/api/v1/stocks/AAPL/candles?interval=1m").status_code == 404
    assert api.get("/api/v1/stocks/AAPL/candles?interval=2m").status_code == 422


def test_quote_reads_the_latest_streamed_trade(api: TestClient, redis_client: redis.Redis) -> None:
    redis_client.hset(
        "sp500_realtime_data",
        "AAPL",
        orjson.dumps({"symbol": "AAPL", "price": 190.5, "volume": 3, "timestamp": 1}),
    )
    assert api.get("/api/v1/stocks/aapl/quote").json() == {
        "symbol": "AAPL", "price": 190.5, "volume": 3.0, "timestamp": 1, "feed": "sp500",
    }  # fmt: skip
    assert api.get("/api/v1/stocks/MSFT/quote").status_code == 404


def test_movers_market_news_and_ipos(api: TestClient) -> None:
    gainers = api.get("/api/v1/market/movers").json()
    assert gainers["category"] == "top_gainers" and len(gainers["items"]) == 20
    assert [m["rank"] for m in gainers["items"]] == sorted(m["rank"] for m in gainers["items"])
    losers = api.get("/api/v1/market/movers?category=top_losers&limit=5").json()["items"]
    assert len(losers) == 5 and all(m["change_percentage"] < 0 for m in losers)
    news = api.get("/api/v1/market/news?limit=50").json()["items"]
    assert len(news) == 50 and len({p for i in news for p in i["providers"]}) >= 2
    ipos = api.get("/api/v1/market/ipos?from_date=2026-11-16&limit=10").json()
    assert len(ipos["items"]) == 10 and ipos["next_cursor"]
    later = api.get(f"/api/v1/market/ipos?from_date=2026-11-16&limit=10&cursor={ipos['next_cursor']}").json()
    assert later["items"][0]["ipo_date"] >= ipos["items"][-1]["ipo_date"]
    assert {i["symbol"] for i in later["items"]}.isdisjoint({i["symbol"] for i in ipos["items"]})


def test_macro_catalog_and_series_with_units_and_dates(api: TestClient) -> None:
    names = {s["series"]: s for s in api.get("/api/v1/macro").json()["series"]}
    assert {"cpi", "inflation", "federal_funds_rate", "treasury_yield_10year"} <= set(names)
    cpi = api.get("/api/v1/macro/cpi?limit=12").json()
    assert cpi["unit"] and cpi["interval"] == "monthly" and len(cpi["points"]) == 12
    dates = [p["date"] for p in cpi["points"]]
    assert dates == sorted(dates) and (cpi["first_date"], cpi["last_date"]) == (dates[0], dates[-1])
    ten = api.get("/api/v1/macro/treasury_yield_10year?start=2020-01-01&end=2020-12-31").json()
    assert ten["unit"] == "percent" and all(p["date"].startswith("2020") for p in ten["points"])
    assert api.get("/api/v1/macro/gdp_of_mars").status_code == 404


def test_social_posts_by_account_and_by_ticker(api: TestClient) -> None:
    by_account = api.get("/api/v1/social/posts?account=elonmusk&limit=10").json()["items"]
    assert by_account and all(p["account"].lower() == "elonmusk" for p in by_account)
    btc = api.get("/api/v1/social/posts?ticker=BTC&limit=50").json()["items"]
    assert btc and all("BTC" in p["text"] for p in btc)
    assert all(any(s["ticker"] == "BTC" and s["model"] == "vader" for s in p["sentiment"]) for p in btc)
    assert api.get("/api/v1/social/posts").status_code == 400


def test_crypto_markets_details_and_premium_with_freshness(api: TestClient, query_db: QueryDb) -> None:
    seen: list[dict] = []
    cursor = ""
    while True:  # every market, page by page
        page = api.get(f"/api/v1/crypto/markets?limit=100&cursor={cursor}").json()
        seen += page["items"]
        if not page["next_cursor"]:
            break
        cursor = page["next_cursor"]
    codes = [m["market_code"] for m in seen]
    assert len(codes) == len(set(codes)) == 455 and codes == sorted(codes)
    btc = next(m for m in seen if m["market_code"] == "KRW-BTC")
    assert btc["coingecko_id"] == "bitcoin"
    details = api.get("/api/v1/crypto/btc/details").json()
    assert details["coingecko_id"] == "bitcoin" and details["current_price_usd"] > 0
    premium = api.get("/api/v1/crypto/BTC/premium").json()
    assert premium["korean"] and premium["global"]
    assert premium["premium_pct"] == pytest.approx(
        (premium["korean_usd"] - premium["global_usd"]) / premium["global_usd"] * 100, abs=1e-3
    )
    assert premium["age_seconds"] >= 0 and isinstance(premium["stale"], bool)
    assert api.get("/api/v1/crypto/NOPECOIN/premium").status_code == 404


def test_slow_data_has_etag_and_cache_control(api: TestClient) -> None:
    first = api.get("/api/v1/macro/cpi")
    assert first.headers["cache-control"].startswith("public, max-age=")
    again = api.get("/api/v1/macro/cpi", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert api.get("/api/v1/crypto/BTC/premium").headers["cache-control"] == "no-cache"


def test_every_route_is_in_openapi_with_a_typed_response(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    for path in (
        "/api/v1/stocks/{symbol}/overview", "/api/v1/stocks/{symbol}/news", "/api/v1/stocks/{symbol}/earnings",
        "/api/v1/stocks/{symbol}/daily", "/api/v1/macro/{series}", "/api/v1/crypto/{symbol}/premium",
    ):  # fmt: skip
        schema = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].startswith("#/components/schemas/")


def test_bad_input_gets_a_short_4xx(api: TestClient) -> None:
    huge = "A" * 20_000  # long, but within what an HTTP client sends
    for url in (
        "/api/v1/stocks/%00/overview",
        f"/api/v1/stocks/{huge}/news",
        "/api/v1/stocks/AAPL/news?limit=abc",
        "/api/v1/stocks/AAPL/news?limit=100000",
        f"/api/v1/stocks/AAPL/news?cursor={huge}",
        "/api/v1/stocks/AAPL/daily?start=not-a-date",
        "/api/v1/macro/%ED%A0%80",
        "/api/v1/social/posts?account=%00",
    ):
        response = api.get(url)
        assert 400 <= response.status_code < 500, url[:80]
        detail = response.json()["detail"]
        assert isinstance(detail, str) and len(detail) <= 160, url[:80]


ROUTES = [
    "/api/v1/stocks/{v}/overview", "/api/v1/stocks/{v}/news", "/api/v1/stocks/{v}/daily",
    "/api/v1/stocks/AAPL/news?cursor={v}", "/api/v1/stocks/AAPL/daily?start={v}",
    "/api/v1/stocks/AAPL/candles?limit={v}", "/api/v1/macro/{v}", "/api/v1/crypto/{v}/premium",
    "/api/v1/social/posts?account={v}", "/api/v1/social/posts?ticker={v}", "/api/v1/market/ipos?from_date={v}",
]  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=st.sampled_from(ROUTES),
    value=st.one_of(
        st.text(min_size=1, max_size=300),  # any code point, surrogates and NUL included
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.sampled_from(
            ["%00", "%ED%A0%80", "%FF%FE", "9999-99-99", "2099-01-01", "[]", "{}", "-1", "1e308"]
        ),
    ),
)
def test_hostile_parameters_never_fail_the_server(api: TestClient, route: str, value: str) -> None:
    encoded = value if value.startswith("%") else quote(value.encode("utf-8", "surrogatepass"), safe="")
    response = api.get(route.format(v=encoded))
    assert response.status_code in (200, 400, 404, 422), (route, value[:40], response.status_code)
    if response.status_code != 200:
        detail = response.json()["detail"]
        assert isinstance(detail, str) and len(detail) <= 160
