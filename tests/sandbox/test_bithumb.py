"""Bithumb simulator against a real sandbox server (docs/providers.md §8)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

TICKER_KEYS = [
    "market", "trade_date", "trade_time", "trade_date_kst", "trade_time_kst", "trade_timestamp", "opening_price",
    "high_price", "low_price", "trade_price", "prev_closing_price", "change", "change_price", "change_rate",
    "signed_change_price", "signed_change_rate", "trade_volume", "acc_trade_price", "acc_trade_price_24h",
    "acc_trade_volume", "acc_trade_volume_24h", "highest_52_week_price", "highest_52_week_date",
    "lowest_52_week_price", "lowest_52_week_date", "timestamp",
]  # fmt: skip
LEGACY_KEYS = [
    "opening_price", "closing_price", "min_price", "max_price", "units_traded", "acc_trade_value",
    "prev_closing_price", "units_traded_24H", "acc_trade_value_24H", "fluctate_24H", "fluctate_rate_24H",
]  # fmt: skip
MAPPING_CSV = Path(__file__).resolve().parents[2] / "src/marketpipe/sandbox/data/bithumb_coingecko_ids.csv"
KST_SHIFT_MS = 9 * 3600 * 1000


@pytest.fixture
def bithumb(sandbox) -> Iterator[httpx.Client]:
    sandbox.admin.freeze()
    with httpx.Client(base_url=sandbox.base_url("bithumb"), timeout=10) as client:
        yield client


def _utc_ms(date: str, time: str) -> int:
    return int(datetime.strptime(date + time, "%Y%m%d%H%M%S").replace(tzinfo=UTC).timestamp() * 1000)


def _tickers(client: httpx.Client, *markets: str) -> list[dict]:
    reply = client.get("/v1/ticker", params={"markets": ",".join(markets)})
    assert reply.status_code == 200
    return reply.json()


def test_market_list_has_every_mapped_symbol_and_other_quotes(bithumb: httpx.Client) -> None:
    markets = bithumb.get("/v1/market/all", params={"isDetails": "true"}).json()
    assert all(list(m) == ["market", "korean_name", "english_name", "market_warning"] for m in markets)
    codes = {m["market"] for m in markets}
    krw = [c for c in codes if c.startswith("KRW-")]
    assert 390 <= len(krw) <= 480
    assert any(c.startswith("BTC-") for c in codes) and any(c.startswith("USDT-") for c in codes)
    with MAPPING_CSV.open(newline="", encoding="utf-8") as handle:
        mapped = {row["bithumb_symbol"] for row in csv.DictReader(handle)}
    assert {f"KRW-{s}" for s in mapped} <= codes
    assert {m["market_warning"] for m in markets} == {"NONE", "CAUTION"}
    assert any(ord(ch) >= 0xAC00 for m in markets for ch in m["korean_name"])  # Hangul names
    plain = bithumb.get("/v1/market/all").json()
    assert all("market_warning" not in m for m in plain) and len(plain) == len(markets)


def test_ticker_has_the_26_fields_with_their_types_and_the_kst_quirk(bithumb: httpx.Client) -> None:
    for ticker in _tickers(bithumb, "KRW-BTC", "KRW-ETH", "KRW-SHIB", "BTC-ETH", "USDT-XRP"):
        assert list(ticker) == TICKER_KEYS
        for key in (
            "trade_date",
            "trade_time",
            "trade_date_kst",
            "trade_time_kst",
            "change",
            "highest_52_week_date",
        ):
            assert isinstance(ticker[key], str)
        for key in (
            "opening_price",
            "high_price",
            "low_price",
            "trade_price",
            "acc_trade_price",
            "trade_volume",
        ):
            assert isinstance(ticker[key], int | float) and not isinstance(ticker[key], bool)
        assert isinstance(ticker["trade_timestamp"], int) and isinstance(ticker["timestamp"], int)
        true_trade_ms = _utc_ms(ticker["trade_date"], ticker["trade_time"])
        kst_ms = _utc_ms(ticker["trade_date_kst"], ticker["trade_time_kst"])
        assert kst_ms - true_trade_ms == KST_SHIFT_MS
        # trade_timestamp is KST wall-clock encoded as UTC: 9 h ahead of the true epoch (docs/providers.md §8.1).
        assert ticker["trade_timestamp"] - KST_SHIFT_MS - true_trade_ms in range(0, 1000)
        assert 0 <= ticker["timestamp"] - (ticker["trade_timestamp"] - KST_SHIFT_MS) < 1000
        assert ticker["low_price"] <= ticker["trade_price"] <= ticker["high_price"]
        assert ticker["low_price"] <= ticker["opening_price"] <= ticker["high_price"]
        signed = Decimal(str(ticker["trade_price"])) - Decimal(str(ticker["prev_closing_price"]))
        assert Decimal(str(ticker["signed_change_price"])) == signed
        assert ticker["change"] == ("RISE" if signed > 0 else "FALL" if signed < 0 else "EVEN")
        assert ticker["change_rate"] == abs(ticker["signed_change_rate"])
        assert ticker["lowest_52_week_price"] <= ticker["trade_price"] <= ticker["highest_52_week_price"]


def test_krw_prices_are_plausible_won_prices(bithumb: httpx.Client) -> None:
    btc, usdt = _tickers(bithumb, "KRW-BTC", "KRW-USDT")
    assert isinstance(btc["trade_price"], int) and btc["trade_price"] % 1000 == 0
    assert 80_000_000 < btc["trade_price"] < 250_000_000
    assert 1_300 < usdt["trade_price"] < 1_500  # USD/KRW plus a kimchi premium


def test_unknown_markets_are_404_and_known_ones_are_kept(bithumb: httpx.Client) -> None:
    reply = bithumb.get("/v1/ticker", params={"markets": "KRW-NOPE"})
    assert reply.status_code == 404
    assert reply.json() == {"error": {"name": 404, "message": "Code not found"}}
    mixed = _tickers(bithumb, "KRW-NOPE", "KRW-BTC")
    assert [t["market"] for t in mixed] == ["KRW-BTC"]
    assert bithumb.get("/v1/ticker").status_code == 400


def test_ticker_timestamp_only_moves_when_a_trade_happens(sandbox, bithumb: httpx.Client) -> None:
    quiet_market = "KRW-HEXTER"  # an illiquid listing: minutes between trades
    before = _tickers(bithumb, quiet_market, "KRW-BTC")
    assert _tickers(bithumb, quiet_market, "KRW-BTC") == before  # frozen clock: identical snapshots
    sandbox.admin.advance(seconds=1)
    quiet_after, btc_after = _tickers(bithumb, quiet_market, "KRW-BTC")
    assert quiet_after == before[0]  # no trade in that second: same timestamp, same payload
    seen = {btc_after["timestamp"]}
    for _ in range(10):
        sandbox.admin.advance(seconds=3)
        seen.add(_tickers(bithumb, "KRW-BTC")[0]["timestamp"])
    assert len(seen) > 3  # BTC trades every second or two
    sandbox.admin.advance(minutes=30)
    assert _tickers(bithumb, quiet_market)[0]["timestamp"] > before[0]["timestamp"]


def test_prices_move_with_the_clock_and_the_day_opens_at_midnight_kst(sandbox, bithumb: httpx.Client) -> None:
    first = _tickers(bithumb, "KRW-ETH")[0]
    # 2026-11-16 15:00 UTC is exactly 00:00 KST on the 17th: a new trading day starts.
    sandbox.admin.set_clock(datetime(2026, 11, 16, 16, 0, tzinfo=UTC))
    later = _tickers(bithumb, "KRW-ETH")[0]
    assert later["trade_date_kst"] == "20261117" and first["trade_date_kst"] == "20261116"
    assert later["trade_price"] != first["trade_price"]
    assert later["acc_trade_volume"] < first["acc_trade_volume"]  # accumulation restarted at 00:00 KST
    sandbox.admin.advance(days=1)
    assert _tickers(bithumb, "KRW-ETH")[0]["opening_price"] != later["opening_price"]


def test_legacy_all_krw_is_all_strings_with_date_beside_the_coins(bithumb: httpx.Client) -> None:
    body = bithumb.get("/public/ticker/ALL_KRW").json()
    assert body["status"] == "0000"
    data = body["data"]
    assert isinstance(data["date"], str) and data["date"].isdigit()
    coins = {k: v for k, v in data.items() if k != "date"}
    assert len(coins) >= 390 and "BTC" in coins
    for values in coins.values():
        assert list(values) == LEGACY_KEYS
        assert all(isinstance(v, str) for v in values.values())
        Decimal(values["closing_price"])
    single = bithumb.get("/public/ticker/BTC_KRW").json()
    assert single["status"] == "0000" and list(single["data"]) == [*LEGACY_KEYS, "date"]
    v1 = _tickers(bithumb, "KRW-BTC")[0]
    assert Decimal(single["data"]["closing_price"]) == Decimal(str(v1["trade_price"]))


def test_legacy_errors_are_http_200_with_a_status_code(sandbox, bithumb: httpx.Client) -> None:
    unknown = bithumb.get("/public/ticker/NOPE_KRW")
    assert unknown.status_code == 200
    assert unknown.json() == {"status": "5500", "message": "Invalid Parameter"}
    sandbox.admin.add_fault(
        "bithumb",
        "reply",
        "/public/ticker",
        count=1,
        status=200,
        body={"status": "5500", "message": "Invalid Parameter"},
    )
    assert bithumb.get("/public/ticker/ALL_KRW").json()["status"] == "5500"
    assert bithumb.get("/public/ticker/ALL_KRW").json()["status"] == "0000"


def test_150_requests_per_second_then_429_until_the_next_second(sandbox, bithumb: httpx.Client) -> None:
    statuses = [bithumb.get("/v1/market/all").status_code for _ in range(151)]
    assert statuses[:150] == [200] * 150
    assert statuses[150] == 429
    refused = bithumb.get("/v1/market/all")
    assert refused.status_code == 429 and refused.json()["error"]["name"] == "too_many_requests"
    sandbox.admin.advance(seconds=1)
    assert bithumb.get("/v1/market/all").status_code == 200
    assert sandbox.admin.refused("bithumb") == 2


def test_server_errors_and_truncated_bodies_are_faults_on_my_routes(sandbox, bithumb: httpx.Client) -> None:
    sandbox.admin.add_fault("bithumb", "server_error", "/v1/ticker", count=1, status=503)
    assert bithumb.get("/v1/ticker", params={"markets": "KRW-BTC"}).status_code == 503
    sandbox.admin.add_fault("bithumb", "truncated_json", "/v1/ticker", count=1)
    cut = bithumb.get("/v1/ticker", params={"markets": "KRW-BTC"})
    with pytest.raises(ValueError):
        cut.json()
    assert _tickers(bithumb, "KRW-BTC")[0]["market"] == "KRW-BTC"


def test_world_clock_is_the_sandbox_clock(sandbox, bithumb: httpx.Client) -> None:
    now = sandbox.admin.now()
    ticker = _tickers(bithumb, "KRW-BTC")[0]
    trade = datetime.fromtimestamp((ticker["trade_timestamp"] - KST_SHIFT_MS) / 1000, UTC)
    assert now - timedelta(minutes=1) <= trade <= now
