"""The live API against real PostgreSQL and Redis: REST reads, candles, WebSocket push."""

from __future__ import annotations

import time
from collections.abc import Iterator

import orjson
import psycopg
import pytest
import redis
from fastapi.testclient import TestClient

from marketpipe.serve import create_app

T0 = 1_764_000_000_000  # ms, aligned to a minute boundary below


@pytest.fixture
def client(pg_dsn: str, redis_url: str, redis_client: redis.Redis) -> Iterator[TestClient]:
    with TestClient(create_app(pg_dsn, redis_url)) as test_client:
        yield test_client


def insert_candles(
    dsn: str, rows: list[tuple[str, int, int, float, float, float, float, float, int]]
) -> None:
    """Candles as the sink keeps them: (symbol, interval_s, start_ms, open, high, low, close, volume, n)."""
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO trade_candles (stream, symbol, interval_s, bucket_start, open, high, low, close,
                                          volume, trades, open_key, close_key)
               VALUES ('trades', %s, %s, to_timestamp(%s / 1000.0), %s, %s, %s, %s, %s, %s, 0, 0)""",
            rows,
        )


def test_latest_prices_come_from_the_seed_compatible_hash(
    client: TestClient, redis_client: redis.Redis
) -> None:
    redis_client.hset(
        "sp500_realtime_data",
        mapping={
            "MSFT": orjson.dumps({"symbol": "MSFT", "price": 410.5, "timestamp": T0}),
            "AAPL": orjson.dumps({"symbol": "AAPL", "price": 190.25, "timestamp": T0 + 5}),
        },
    )
    body = client.get("/api/v1/stocks/sp500").json()
    assert [r["symbol"] for r in body["data"]] == ["AAPL", "MSFT"]
    assert body["data"][0]["price"] == 190.25
    health = client.get("/api/v1/health").json()
    assert (health["status"], health["postgres"], health["redis"]) == ("ok", "ok", "ok")


def test_candles_come_from_the_sinks_candles_and_roll_up(client: TestClient, pg_dsn: str) -> None:
    start = T0 - T0 % 900_000  # a 15-minute boundary
    five = 300_000
    insert_candles(
        pg_dsn,
        [
            ("AAPL", 300, start, 100.0, 105.0, 99.0, 101.0, 20.0, 4),
            ("AAPL", 300, start + five, 101.0, 110.0, 100.0, 108.0, 5.0, 2),
            ("AAPL", 300, start + 2 * five, 108.0, 109.0, 90.0, 95.0, 1.0, 1),
            ("AAPL", 300, start + 3 * five, 95.0, 96.0, 94.0, 96.0, 2.0, 1),  # next 15-minute bucket
            ("AAPL", 60, start, 100.0, 101.0, 99.5, 100.5, 3.0, 2),
            ("MSFT", 300, start, 400.0, 400.0, 400.0, 400.0, 1.0, 1),
        ],
    )
    five_min = client.get("/api/v1/stocks/sp500/aapl/candles?interval=5m").json()
    assert five_min["symbol"] == "AAPL"
    assert [c["t"] for c in five_min["candles"]] == [start + i * five for i in range(4)]
    assert five_min["candles"][1] == {
        "t": start + five,
        "o": 101.0,
        "h": 110.0,
        "l": 100.0,
        "c": 108.0,
        "v": 5.0,
        "n": 2,
    }

    first, second = client.get("/api/v1/stocks/sp500/AAPL/candles?interval=15m").json()["candles"]
    assert (first["t"], first["o"], first["h"], first["l"], first["c"], first["v"], first["n"]) == (
        start, 100.0, 110.0, 90.0, 95.0, 26.0, 7,
    )  # fmt: skip
    assert (second["o"], second["c"], second["n"]) == (95.0, 96.0, 1)
    assert len(client.get("/api/v1/stocks/sp500/AAPL/candles?interval=1m").json()["candles"]) == 1
    assert client.get("/api/v1/stocks/sp500/NOPE/candles").status_code == 404
    assert client.get("/api/v1/stocks/sp500/AAPL/candles?interval=7m").status_code == 422


def test_websocket_sends_snapshot_then_pushes_on_signal(
    client: TestClient, redis_client: redis.Redis
) -> None:
    redis_client.hset("sp500_realtime_data", "AAPL", orjson.dumps({"symbol": "AAPL", "price": 1.0}))
    with client.websocket_connect("/api/v1/ws/sp500") as ws:
        first = ws.receive_json()
        assert first["type"] == "sp500"
        assert first["data"] == [{"symbol": "AAPL", "price": 1.0}]

        ws.send_json({"action": "heartbeat"})
        assert ws.receive_json()["type"] == "heartbeat_response"

        redis_client.hset("sp500_realtime_data", "AAPL", orjson.dumps({"symbol": "AAPL", "price": 2.0}))
        deadline = time.monotonic() + 10
        while redis_client.publish("sp500_updates", "batch") == 0 and time.monotonic() < deadline:
            time.sleep(0.05)  # wait until the app's listener has subscribed
        pushed = ws.receive_json()
        assert (pushed["type"], pushed["mode"]) == ("sp500", "delta")
        assert pushed["data"] == [{"symbol": "AAPL", "price": 2.0}]


def test_unknown_feed_is_refused(client: TestClient) -> None:
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/api/v1/ws/nope") as ws:
        ws.receive_json()
    assert info.value.code == 4404


def test_dashboard_and_metrics_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "/api/v1/ws/" in page.text
    assert (
        "marketpipe_api_ws_clients" in client.get("/metrics").text
        or client.get("/metrics").status_code == 200
    )


def test_etf_list_and_detail_join_the_universe_with_its_profiles(
    client: TestClient, pg_dsn: str, redis_client: redis.Redis
) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            """INSERT INTO etf_basic_info (symbol, name, fund_family, category, popularity_rank, aum, expense_ratio)
               VALUES ('SPY', 'SPDR S&P 500 ETF Trust', 'State Street Global Advisors', 'Large Blend', 1,
                       500000000000, 0.000945),
                      ('XLK', 'Technology Select Sector SPDR Fund', 'State Street Global Advisors', 'Technology', 13,
                       NULL, NULL)"""
        )
        conn.execute(
            """INSERT INTO etf_profile_holdings (symbol, net_assets, net_expense_ratio, dividend_yield,
                                                 inception_date, leveraged, sectors, holdings)
               VALUES ('SPY', 500000000000, 0.000945, 0.0121, '1993-01-22', 'NO',
                       '[{"sector": "INFORMATION TECHNOLOGY", "weight": 0.31}]',
                       '[{"symbol": "NVDA", "description": "NVIDIA CORP", "weight": 0.072}]')"""
        )
    # The ETF sink's hash: the list carries the latest streamed price.
    redis_client.hset(
        "etf_realtime_data", "SPY", orjson.dumps({"symbol": "SPY", "price": 601.5, "timestamp": T0})
    )
    listed = client.get("/api/v1/etf").json()["data"]
    assert [e["symbol"] for e in listed] == ["SPY", "XLK"]  # by popularity rank
    assert listed[0]["expense_ratio"] == 0.000945 and listed[0]["aum"] == 500000000000
    assert listed[0]["profile_updated_at"] and listed[1]["profile_updated_at"] is None
    assert (listed[0]["price"], listed[0]["price_timestamp"]) == (601.5, T0) and listed[1]["price"] is None

    spy = client.get("/api/v1/etf/spy").json()
    assert spy["name"] == "SPDR S&P 500 ETF Trust" and spy["category"] == "Large Blend"
    profile = spy["profile"]
    assert profile["inception_date"] == "1993-01-22" and profile["net_expense_ratio"] == 0.000945
    assert profile["sectors"] == [{"sector": "INFORMATION TECHNOLOGY", "weight": 0.31}]
    assert profile["holdings"][0] == {"symbol": "NVDA", "description": "NVIDIA CORP", "weight": 0.072}
    assert client.get("/api/v1/etf/XLK").json()["profile"] is None
    missing = client.get("/api/v1/etf/NOPE")
    assert missing.status_code == 404 and "NOPE" in missing.json()["detail"]
