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


def insert_trades(dsn: str, rows: list[tuple[str, float, int, int, int]]) -> None:
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO sp500_websocket_trades (symbol, price, volume, timestamp_ms, seq) VALUES (%s,%s,%s,%s,%s)",
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
    assert client.get("/api/v1/health").json() == {"status": "ok"}


def test_candles_aggregate_trades_into_ohlcv(client: TestClient, pg_dsn: str) -> None:
    start = T0 - T0 % 60_000
    insert_trades(
        pg_dsn,
        [
            ("AAPL", 100.0, 10, start + 1_000, 0),
            ("AAPL", 105.0, 5, start + 1_000, 1),  # same millisecond, next sequence number
            ("AAPL", 99.0, 1, start + 30_000, 0),
            ("AAPL", 101.0, 4, start + 59_999, 0),
            ("AAPL", 102.0, 2, start + 60_000, 0),  # next minute
            ("MSFT", 400.0, 1, start + 1_000, 0),
        ],
    )
    body = client.get("/api/v1/stocks/sp500/aapl/candles?interval=1m").json()
    assert body["symbol"] == "AAPL"
    first, second = body["candles"]
    assert (first["t"], first["o"], first["h"], first["l"], first["c"], first["v"], first["n"]) == (
        start, 100.0, 105.0, 99.0, 101.0, 20.0, 4,
    )  # fmt: skip
    assert (second["o"], second["c"], second["n"]) == (102.0, 102.0, 1)
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
        assert pushed["type"] == "sp500"
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
