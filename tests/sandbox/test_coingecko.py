"""CoinGecko simulator against a real sandbox server (docs/providers.md §9)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

KEY = "CG-demo-test-key"
MAPPING_CSV = Path(__file__).resolve().parents[2] / "src/marketpipe/sandbox/data/bithumb_coingecko_ids.csv"
MARKET_KEYS = [
    "id", "symbol", "name", "image", "current_price", "market_cap", "market_cap_rank", "fully_diluted_valuation",
    "total_volume", "high_24h", "low_24h", "price_change_24h", "price_change_percentage_24h", "market_cap_change_24h",
    "market_cap_change_percentage_24h", "circulating_supply", "total_supply", "max_supply", "ath",
    "ath_change_percentage", "ath_date", "atl", "atl_change_percentage", "atl_date", "roi", "last_updated",
]  # fmt: skip
TICKER_KEYS = [
    "base", "target", "market", "last", "volume", "converted_last", "converted_volume", "trust_score",
    "bid_ask_spread_percentage", "timestamp", "last_traded_at", "last_fetch_at", "is_anomaly", "is_stale",
    "trade_url", "token_info_url", "coin_id",
]  # fmt: skip
RATE_LIMITED = {
    "status": {
        "error_code": 429,
        "error_message": "You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/pricing "
        "to subscribe to our API plans for higher rate limits.",
    }
}
AMBIGUOUS = {"A": "vaulta", "ALT": "altlayer", "BEAM": "beam-2", "META": "meta-2-2", "T": "threshold-network-token", "S": "sonic-3"}  # fmt: skip


@pytest.fixture
def gecko(sandbox) -> Iterator[httpx.Client]:
    sandbox.admin.freeze()
    with httpx.Client(
        base_url=sandbox.base_url("coingecko"), headers={"x-cg-demo-api-key": KEY}, timeout=30
    ) as client:
        yield client


@pytest.fixture
def unmetered(sandbox, gecko: httpx.Client) -> httpx.Client:
    sandbox.admin.set_provider_quota("coingecko", enabled=False)
    return gecko


def _all_markets(client: httpx.Client) -> tuple[list[dict], int]:
    """Page like the seed (per_page=250, page=1..) until an empty page; returns (rows, pages fetched)."""
    rows: list[dict] = []
    page = 1
    while True:
        params = {"vs_currency": "usd", "order": "market_cap_desc", "per_page": 250, "page": page,
                  "sparkline": "false", "price_change_percentage": "24h"}  # fmt: skip
        batch = client.get("/coins/markets", params=params).json()
        if not batch:
            return rows, page
        rows.extend(batch)
        page += 1


def test_ping_accepts_the_header_or_the_query_parameter(sandbox, gecko: httpx.Client) -> None:
    assert gecko.get("/ping").json() == {"gecko_says": "(V3) To the Moon!"}
    plain = httpx.get(f"{sandbox.base_url('coingecko')}/ping", params={"x_cg_demo_api_key": KEY})
    assert plain.status_code == 200
    assert sandbox.admin.calls("coingecko", key=KEY) == 2


def test_markets_page_until_empty_cover_the_whole_bithumb_mapping(unmetered: httpx.Client) -> None:
    rows, pages = _all_markets(unmetered)
    assert 1000 <= len(rows) <= 5000 and pages == len(rows) // 250 + (2 if len(rows) % 250 else 1)
    first = rows[0]
    assert list(first) == [*MARKET_KEYS, "price_change_percentage_24h_in_currency"]
    assert first["id"] == "bitcoin" and first["market_cap_rank"] == 1
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    with MAPPING_CSV.open(newline="", encoding="utf-8") as handle:
        mapping = {row["bithumb_symbol"]: row["coingecko_id"] for row in csv.DictReader(handle)}
    assert set(mapping.values()) <= set(ids)
    ranks = [r["market_cap_rank"] for r in rows if r["market_cap_rank"] is not None]
    assert ranks == list(range(1, len(ranks) + 1))
    assert any(r["market_cap_rank"] is None for r in rows)  # unranked coins sort last
    assert any(r["roi"] is not None for r in rows) and any(r["max_supply"] is None for r in rows)
    by_symbol: dict[str, list[dict]] = {}
    for row in rows:
        by_symbol.setdefault(row["symbol"].upper(), []).append(row)
    for symbol, coin_id in AMBIGUOUS.items():
        candidates = by_symbol[symbol]
        assert len(candidates) >= 2, symbol
        best = min(candidates, key=lambda r: r["market_cap_rank"] or 10**9)
        assert best["id"] == coin_id  # the seed resolved these "by higher market cap"


def test_market_row_values_are_consistent(unmetered: httpx.Client) -> None:
    rows = unmetered.get(
        "/coins/markets", params={"vs_currency": "usd", "ids": "bitcoin,ethereum,tether"}
    ).json()
    for row in rows:
        assert row["low_24h"] <= row["current_price"] <= row["high_24h"]
        assert row["market_cap"] == pytest.approx(row["current_price"] * row["circulating_supply"], rel=1e-6)
        assert row["ath"] >= row["current_price"] and row["ath_date"].endswith("Z")
    krw = unmetered.get("/coins/markets", params={"vs_currency": "krw", "ids": "bitcoin"}).json()[0]
    usd = next(r for r in rows if r["id"] == "bitcoin")
    assert 1300 < krw["current_price"] / usd["current_price"] < 1500
    sparkline = unmetered.get(
        "/coins/markets",
        params={
            "vs_currency": "usd",
            "ids": "bitcoin",
            "sparkline": "true",
            "price_change_percentage": "1h,7d",
        },
    ).json()[0]
    assert len(sparkline["sparkline_in_7d"]["price"]) == 168
    assert {"price_change_percentage_1h_in_currency", "price_change_percentage_7d_in_currency"} <= set(
        sparkline
    )
    assert len(unmetered.get("/coins/markets", params={"vs_currency": "usd", "per_page": 1000}).json()) == 250
    assert unmetered.get("/coins/markets", params={"vs_currency": "xyz"}).status_code == 400


def test_coin_details_follow_the_flags(unmetered: httpx.Client) -> None:
    seed_params = {"localization": "false", "tickers": "false", "market_data": "true", "community_data": "true",
                   "developer_data": "true", "sparkline": "false"}  # fmt: skip
    coin = unmetered.get("/coins/bitcoin", params=seed_params).json()
    for key in ("id", "symbol", "name", "web_slug", "asset_platform_id", "platforms", "block_time_in_minutes",
                "hashing_algorithm", "categories", "description", "links", "image", "country_origin", "genesis_date",
                "sentiment_votes_up_percentage", "sentiment_votes_down_percentage", "watchlist_portfolio_users",
                "market_cap_rank", "market_data", "community_data", "developer_data", "last_updated"):  # fmt: skip
        assert key in coin, key
    assert "tickers" not in coin and "localization" not in coin and list(coin["description"]) == ["en"]
    market = coin["market_data"]
    assert set(market["current_price"]) >= {"usd", "krw", "btc", "eth"}
    assert market["current_price"]["btc"] == 1
    for key in (
        "market_cap",
        "total_volume",
        "high_24h",
        "low_24h",
        "ath",
        "ath_date",
        "atl",
        "fully_diluted_valuation",
    ):
        assert "usd" in market[key]
    assert isinstance(market["price_change_percentage_7d"], float)
    assert set(coin["links"]["repos_url"]) == {"github", "bitbucket"}
    assert {"twitter_followers", "reddit_subscribers"} <= set(coin["community_data"])
    assert {"forks", "stars", "commit_count_4_weeks"} <= set(coin["developer_data"])
    full = unmetered.get("/coins/ethereum").json()
    assert {"tickers", "localization", "market_data"} <= set(full) and len(full["tickers"]) <= 100
    bare = unmetered.get("/coins/ethereum", params={"market_data": "false", "community_data": "false",
                                                    "developer_data": "false", "tickers": "false"}).json()  # fmt: skip
    assert not {"market_data", "community_data", "developer_data", "tickers"} & set(bare)


def test_unknown_coin_is_404_coin_not_found(unmetered: httpx.Client) -> None:
    for path in ("/coins/not-a-coin", "/coins/not-a-coin/tickers"):
        reply = unmetered.get(path)
        assert reply.status_code == 404 and reply.json() == {"error": "coin not found"}


def test_korean_tickers_show_a_kimchi_premium_and_agree_with_bithumb(
    sandbox, unmetered: httpx.Client
) -> None:
    korean = unmetered.get(
        "/coins/bitcoin/tickers",
        params={
            "exchange_ids": "bithumb,upbit",
            "include_exchange_logo": "false",
            "order": "trust_score_desc",
        },
    ).json()
    assert korean["name"] == "Bitcoin"
    by_exchange = {t["market"]["identifier"]: t for t in korean["tickers"] if t["target"] == "KRW"}
    assert set(by_exchange) == {"bithumb", "upbit"}
    for ticker in korean["tickers"]:
        assert list(ticker)[: len(TICKER_KEYS)] == TICKER_KEYS
        assert "logo" not in ticker["market"]
    bithumb = by_exchange["bithumb"]
    assert "target_coin_id" not in bithumb  # fiat target
    assert bithumb["trade_url"] == "https://www.bithumb.com/react/trade/order/BTC-KRW"
    krw_per_usd = bithumb["last"] / bithumb["converted_last"]["usd"]
    assert 1300 < krw_per_usd < 1500
    live = httpx.get(f"{sandbox.base_url('bithumb')}/v1/ticker", params={"markets": "KRW-BTC"}).json()[0]
    assert bithumb["last"] == pytest.approx(live["trade_price"], rel=0.01)
    global_ = unmetered.get(
        "/coins/bitcoin/tickers", params={"exchange_ids": "binance,coinbase-exchange,kraken"}
    ).json()
    assert {t["market"]["identifier"] for t in global_["tickers"]} == {
        "binance",
        "coinbase-exchange",
        "kraken",
    }
    usdt = next(
        t for t in global_["tickers"] if t["market"]["identifier"] == "binance" and t["target"] == "USDT"
    )
    assert usdt["target_coin_id"] == "tether"
    premium = bithumb["converted_last"]["usd"] / usdt["converted_last"]["usd"] - 1
    assert 0.0 < premium < 0.05
    # Like the real API, the seed's guessed ids "bybit" and "okx" match nothing.
    assert (
        unmetered.get("/coins/bitcoin/tickers", params={"exchange_ids": "bybit,okx"}).json()["tickers"] == []
    )


def test_tickers_page_by_100_until_empty(unmetered: httpx.Client) -> None:
    seen: list[tuple[str, str]] = []
    page = 1
    while True:
        batch = unmetered.get("/coins/bitcoin/tickers", params={"page": page}).json()["tickers"]
        if not batch:
            break
        assert len(batch) <= 100
        seen.extend((t["market"]["identifier"], t["target"]) for t in batch)
        page += 1
    assert page >= 3 and len(seen) == len(set(seen)) > 100
    first = unmetered.get("/coins/bitcoin/tickers").json()["tickers"]
    trust_rank = {"green": 0, "yellow": 1, "red": 2, None: 3}
    assert [trust_rank[t["trust_score"]] for t in first] == sorted(
        trust_rank[t["trust_score"]] for t in first
    )
    by_volume = unmetered.get("/coins/bitcoin/tickers", params={"order": "volume_desc"}).json()["tickers"]
    volumes = [t["converted_volume"]["usd"] for t in by_volume]
    assert volumes == sorted(volumes, reverse=True)
    deep = unmetered.get(
        "/coins/bitcoin/tickers", params={"depth": "true", "include_exchange_logo": "true"}
    ).json()
    assert all({"cost_to_move_up_usd", "cost_to_move_down_usd"} <= set(t) for t in deep["tickers"])
    assert all("logo" in t["market"] for t in deep["tickers"])


def test_derivatives_price_is_a_string(unmetered: httpx.Client) -> None:
    rows = unmetered.get("/derivatives").json()
    assert len(rows) > 300
    keys = ["market", "symbol", "index_id", "price", "price_percentage_change_24h", "contract_type", "index", "basis",
            "spread", "funding_rate", "open_interest", "volume_24h", "last_traded_at", "expired_at"]  # fmt: skip
    for row in rows:
        assert list(row) == keys
        assert isinstance(row["price"], str) and float(row["price"]) > 0
        assert isinstance(row["index"], float) and isinstance(row["last_traded_at"], int)
        assert row["contract_type"] in ("perpetual", "futures")
    assert {r["contract_type"] for r in rows} == {"perpetual", "futures"}
    assert any(r["funding_rate"] is None for r in rows) and any(r["spread"] is None for r in rows)
    expired = unmetered.get("/derivatives", params={"include_tickers": "all"}).json()
    assert any(r["expired_at"] is not None for r in expired) and len(expired) > len(rows)


def test_global_totals(unmetered: httpx.Client) -> None:
    data = unmetered.get("/global").json()["data"]
    assert data["active_cryptocurrencies"] >= 1000
    assert {"usd", "krw", "btc", "eth"} <= set(data["total_market_cap"]) and {"usd"} <= set(
        data["total_volume"]
    )
    assert 40 < data["market_cap_percentage"]["btc"] < 70
    assert isinstance(data["updated_at"], int)


def test_coins_list_with_platforms(unmetered: httpx.Client) -> None:
    rows = unmetered.get("/coins/list").json()
    assert all(list(r) == ["id", "symbol", "name"] for r in rows)
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    with_platforms = unmetered.get("/coins/list", params={"include_platform": "true"}).json()
    assert any(r["platforms"] for r in with_platforms)


def test_30_calls_per_minute_then_429_with_retry_after(sandbox, gecko: httpx.Client) -> None:
    for _ in range(30):
        assert gecko.get("/ping").status_code == 200
    refused = gecko.get("/ping")
    assert refused.status_code == 429
    assert refused.json() == RATE_LIMITED
    assert 0 < int(refused.headers["retry-after"]) <= 60
    other = gecko.get("/ping", headers={"x-cg-demo-api-key": "CG-another-key"})
    assert other.status_code == 200  # limits are per key
    sandbox.admin.advance(seconds=61)
    assert gecko.get("/ping").status_code == 200


def test_monthly_allowance_resets_on_the_first(sandbox, gecko: httpx.Client) -> None:
    sandbox.admin.set_provider_quota(
        "coingecko",
        windows=[
            {"name": "minute", "limit": 30, "seconds": 60},
            {"name": "month", "limit": 3, "calendar": "month"},
        ],
    )
    assert [gecko.get("/ping").status_code for _ in range(4)] == [200, 200, 200, 429]
    sandbox.admin.set_clock(datetime(2026, 12, 1, 0, 0, 5, tzinfo=UTC))
    assert gecko.get("/ping").status_code == 200


def test_keyless_calls_share_a_small_limit(sandbox) -> None:
    base = sandbox.base_url("coingecko")
    sandbox.admin.freeze()
    statuses = [httpx.get(f"{base}/ping").status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]


def test_bad_keys(sandbox) -> None:
    base = sandbox.base_url("coingecko")
    invalid = httpx.get(f"{base}/ping", headers={"x-cg-demo-api-key": "invalid-key"})
    assert invalid.status_code == 401 and invalid.json()["status"]["error_code"] == 10002
    pro = httpx.get(f"{base}/ping", headers={"x-cg-pro-api-key": "CG-pro"})
    assert pro.status_code == 400 and pro.json()["status"]["error_code"] == 10010
    sandbox.admin.set_keys("coingecko", revoked=[KEY])
    assert httpx.get(f"{base}/ping", headers={"x-cg-demo-api-key": KEY}).status_code == 401


def test_rate_limit_faults_in_a_429_and_in_a_200(sandbox, gecko: httpx.Client) -> None:
    sandbox.admin.add_fault("coingecko", "rate_limit", "/coins/markets", count=1, window="200")
    in_200 = gecko.get("/coins/markets", params={"vs_currency": "usd"})
    assert in_200.status_code == 200 and in_200.json() == RATE_LIMITED
    sandbox.admin.add_fault("coingecko", "rate_limit", "/coins/{id}/tickers", count=1)
    storm = gecko.get("/coins/bitcoin/tickers")
    assert storm.status_code == 429 and storm.json() == RATE_LIMITED
    assert gecko.get("/coins/bitcoin/tickers").status_code == 200
