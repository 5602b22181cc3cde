"""Pure parsers of Bithumb and CoinGecko on literal replies (docs/providers.md §8–§9)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from marketpipe.http.errors import MalformedResponse
from marketpipe.providers.bithumb import markets as bithumb_markets
from marketpipe.providers.coingecko import markets as coingecko_markets


def test_bithumb_markets_keep_none_warning_and_reject_an_empty_listing():
    body = [
        {"market": "KRW-BTC", "korean_name": "비트코인", "english_name": "Bitcoin", "market_warning": "NONE"},
        {
            "market": "BTC-ETH",
            "korean_name": "이더리움",
            "english_name": "Ethereum",
            "market_warning": "CAUTION",
        },
        {"market": "bad", "korean_name": "x", "english_name": "y"},
    ]
    rows = bithumb_markets.parse_markets(body)
    assert [(r["market_code"], r["market_warning"]) for r in rows] == [
        ("KRW-BTC", "NONE"),
        ("BTC-ETH", "CAUTION"),
    ]
    with pytest.raises(MalformedResponse):
        bithumb_markets.parse_markets({"error": {"name": 404}})


def test_derivatives_price_string_and_epoch_times():
    body = [
        {
            "market": "Binance (Futures)",
            "symbol": "BTCUSDT",
            "index_id": "btc",
            "price": "77034.8",
            "price_percentage_change_24h": -1.17,
            "contract_type": "perpetual",
            "index": 76691.43,
            "basis": None,
            "spread": 0.01,
            "funding_rate": 0.004308,
            "open_interest": 7497508223.83,
            "volume_24h": 9623150393.3656,
            "last_traded_at": 1779807819,
            "expired_at": 1790000000,
        },
    ]
    (row,) = coingecko_markets.parse_derivatives(body)
    assert row["price"] == Decimal("77034.8") and row["index_id"] == "BTC" and row["basis"] is None
    assert row["last_traded_at"] == datetime.fromtimestamp(1779807819, UTC)
    assert row["expired_at"] == datetime.fromtimestamp(1790000000, UTC)  # the seed failed on this int


def test_tickers_timestamp_falls_back_to_last_fetch_then_now():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    body = {
        "tickers": [
            {
                "base": "BTC",
                "target": "KRW",
                "market": {"name": "Bithumb", "identifier": "bithumb"},
                "last": 1,
                "converted_last": {"usd": 70000},
                "converted_volume": {"usd": 5e13},
                "timestamp": None,
                "last_fetch_at": "2025-06-21T04:29:30+00:00",
            },
            {
                "base": "BTC",
                "target": "USDT",
                "market": {"name": "Binance", "identifier": "binance"},
                "last": 2,
            },
        ]
    }
    first, second = coingecko_markets.parse_tickers(body, now)
    assert first["timestamp"] == datetime(2025, 6, 21, 4, 29, 30, tzinfo=UTC)
    assert first["converted_volume_usd_exact"] == Decimal("5E+13")  # kept (the seed nulled volumes > 1e12)
    assert second["timestamp"] == now


def test_global_dominance_defaults_to_zero_for_unlisted_coins():
    body = {
        "data": {
            "active_cryptocurrencies": 1,
            "total_market_cap": {"usd": 2.5, "krw": 3},
            "total_volume": {},
            "market_cap_percentage": {"btc": 50.44},
            "updated_at": 1712512855,
        }
    }
    row = coingecko_markets.parse_global(body)
    assert row["btc_dominance"] == Decimal("50.44") and row["ada_dominance"] == 0
    assert row["coingecko_updated_at"] == datetime.fromtimestamp(1712512855, UTC)
