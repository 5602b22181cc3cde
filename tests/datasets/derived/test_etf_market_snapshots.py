"""etf_market_snapshots: the seed's cache_etf_to_redis on the ETF sink's trades (same job as the S&P 500 one)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import redis

from marketpipe.datasets.derived.etf_market_snapshots import CHANNEL, HASH
from marketpipe.engine.clock import ManualClock
from marketpipe.engine.runner import RunOptions, run_dataset

MONDAY_OPEN = datetime(2026, 11, 16, 15, 3, tzinfo=UTC)  # 10:03 New York
FRIDAY_CLOSE = datetime(2026, 11, 13, 20, 59, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_etf_hash_signal_and_snapshots_come_from_etf_trades(
    settings, db: psycopg.Connection, redis_client: redis.Redis
) -> None:
    db.execute("INSERT INTO etf_basic_info (symbol, name) VALUES ('SPY', 'SPDR S&P 500 ETF Trust')")
    for symbol, price, volume, at in [
        ("SPY", Decimal("600"), 10, FRIDAY_CLOSE),
        ("SPY", Decimal("606"), 5, MONDAY_OPEN - timedelta(minutes=2)),
        ("QQQ", Decimal("500"), 3, MONDAY_OPEN - timedelta(minutes=1)),  # not in etf_basic_info: no name
    ]:
        db.execute(
            "INSERT INTO etf_realtime_prices (symbol, price, volume_exact, timestamp_ms) VALUES (%s, %s, %s, %s)",
            (symbol, price, volume, _ms(at)),
        )
    # Trades of the S&P 500 table are another market: never in the ETF hash.
    db.execute("INSERT INTO sp500_websocket_trades (symbol, price, volume_exact, timestamp_ms) VALUES ('AAPL', 1, 1, %s)",
               (_ms(MONDAY_OPEN - timedelta(minutes=1)),))  # fmt: skip
    db.commit()
    pubsub = redis_client.pubsub()
    pubsub.subscribe(CHANNEL)
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"  # type: ignore[index]

    result = run_dataset(
        "etf_market_snapshots", settings=settings, options=RunOptions(clock=ManualClock(MONDAY_OPEN)),
        logical_date=MONDAY_OPEN,
    )  # fmt: skip
    assert result.status == "ok" and result.rows_inserted == 2, result.message

    spy = json.loads(redis_client.hget(HASH, "SPY"))
    assert spy == {
        "symbol": "SPY", "etf_name": "SPDR S&P 500 ETF Trust", "current_price": 606.0, "change_amount": 6.0,
        "change_percentage": 1.0, "volume": 5, "volume_24h": 5, "last_updated": spy["last_updated"],
    }  # fmt: skip
    assert sorted(redis_client.hkeys(HASH)) == [b"QQQ", b"SPY"]
    message = None
    for _ in range(25):
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if message:
            break
    pubsub.close()
    assert message is not None and json.loads(message["data"])["message"] == "ETF market data updated"
    rows = db.execute(
        "SELECT symbol, etf_name, current_price, change_percentage FROM etf_market_snapshots ORDER BY symbol"
    ).fetchall()
    db.commit()
    assert rows == [
        ("QQQ", None, Decimal("500"), None),
        ("SPY", "SPDR S&P 500 ETF Trust", Decimal("606"), Decimal("1.00")),
    ]
