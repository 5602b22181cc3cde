"""sp500_market_snapshots + Redis hash sp500_market_data, at instants inside and outside the NYSE
session, against real PostgreSQL and a real Redis subscriber."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
import redis

from marketpipe.datasets.derived.sp500_market_snapshots import CHANNEL, HASH, market_state
from marketpipe.engine.clock import ManualClock
from marketpipe.engine.runner import RunOptions, RunResult, run_dataset

MONDAY_OPEN = datetime(2026, 11, 16, 15, 3, tzinfo=UTC)  # 10:03 New York, a regular session
HALF_DAY_OPEN = datetime(2026, 11, 27, 17, 30, tzinfo=UTC)  # 12:30 New York, closes at 13:00
THANKSGIVING = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
HALF_DAY_CLOSED = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)  # 13:30 New York, after the early close


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _run(settings: Any, now: datetime) -> RunResult:
    result = run_dataset(
        "sp500_market_snapshots",
        settings=settings,
        options=RunOptions(clock=ManualClock(now)),
        logical_date=now,
    )
    assert result.status == "ok", result.message
    return result


def _trades(db: psycopg.Connection, now: datetime, previous_session_close: datetime) -> None:
    """AAPL: earlier close 95, previous close 100, today 101 then 102.5 (and a trade after `now`).
    MSFT: trades today only (no previous close)."""
    db.execute(
        "INSERT INTO sp500_companies (symbol, company_name) VALUES ('AAPL', 'Apple Inc.'), ('MSFT', 'Microsoft')"
    )
    trades = [
        ("AAPL", Decimal("95"), 7, previous_session_close - timedelta(days=1)),
        ("AAPL", Decimal("100"), 3, previous_session_close - timedelta(minutes=1)),
        ("AAPL", Decimal("101"), 10, now - timedelta(minutes=30)),
        ("AAPL", Decimal("102.5"), 5, now - timedelta(minutes=2)),
        ("AAPL", Decimal("999"), 1, now + timedelta(minutes=5)),  # not yet at the run's clock
        ("MSFT", Decimal("410"), 4, now - timedelta(minutes=1)),
    ]
    for symbol, price, volume, at in trades:
        db.execute(
            "INSERT INTO sp500_websocket_trades (symbol, price, volume_exact, timestamp_ms) VALUES (%s, %s, %s, %s)",
            (symbol, price, volume, _ms(at)),
        )
    db.commit()


def _wait_message(pubsub: redis.client.PubSub, timeout_s: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if message is not None:
            return message
    return None


@pytest.fixture
def subscriber(redis_client: redis.Redis):
    pubsub = redis_client.pubsub()
    pubsub.subscribe(CHANNEL)
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"  # type: ignore[index]
    yield pubsub
    pubsub.close()


@pytest.mark.parametrize(("now", "previous_close"), [
    (MONDAY_OPEN, datetime(2026, 11, 13, 20, 59, tzinfo=UTC)),  # Friday's close
    (HALF_DAY_OPEN, datetime(2026, 11, 25, 20, 59, tzinfo=UTC)),  # Wednesday (Thursday is a holiday)
])  # fmt: skip
def test_open_market_writes_hash_publishes_and_snapshots(
    settings, db, redis_client, subscriber, now, previous_close
):
    assert market_state(now)[0] is True
    _trades(db, now, previous_close)
    first = _run(settings, now)

    aapl = json.loads(redis_client.hget(HASH, "AAPL"))
    assert aapl == {
        "symbol": "AAPL", "company_name": "Apple Inc.", "current_price": 102.5, "change_amount": 2.5,
        "change_percentage": 2.5, "volume": 5, "volume_24h": 15, "last_updated": aapl["last_updated"],
    }  # fmt: skip
    assert abs(datetime.fromisoformat(aapl["last_updated"]) - now) < timedelta(minutes=1)
    msft = json.loads(redis_client.hget(HASH, "MSFT"))
    # No previous close: 0, as the seed wrote (its backend sorts by change_percentage; null crashes it).
    assert (msft["current_price"], msft["change_amount"], msft["change_percentage"]) == (410.0, 0, 0)
    assert 0 < redis_client.ttl(HASH) <= 7 * 24 * 3600

    message = _wait_message(subscriber, 5)
    assert message is not None and message["channel"] == CHANNEL.encode()
    assert json.loads(message["data"])["count"] == 2

    snapshots = db.execute(
        """SELECT symbol, current_price, change_amount, change_percentage, volume, volume_24h, snapshot_time
             FROM sp500_market_snapshots ORDER BY symbol"""
    ).fetchall()
    db.commit()
    slot = now.replace(minute=now.minute - now.minute % 10, second=0, microsecond=0)
    assert snapshots == [
        ("AAPL", Decimal("102.5"), Decimal("2.5"), Decimal("2.50"), 5, 15, slot),
        ("MSFT", Decimal("410"), None, None, 4, 4, slot),
    ]
    assert first.rows_inserted == 2

    again = _run(settings, now + timedelta(seconds=30))  # a rerun of the same 10-minute slot
    assert (again.rows_inserted, again.rows_updated) == (0, 0)
    assert db.execute("SELECT count(*) FROM sp500_market_snapshots").fetchone()[0] == 2
    db.commit()


def test_symbol_without_previous_close_keeps_its_cached_value(settings, db, redis_client):
    cached = json.dumps({"symbol": "MSFT", "change_amount": 1.0, "change_percentage": 0.25})
    redis_client.hset(HASH, "MSFT", cached)
    _trades(db, MONDAY_OPEN, datetime(2026, 11, 13, 20, 59, tzinfo=UTC))
    _run(settings, MONDAY_OPEN)
    assert redis_client.hget(HASH, "MSFT").decode() == cached
    assert json.loads(redis_client.hget(HASH, "AAPL"))["change_amount"] == 2.5


@pytest.mark.parametrize(("now", "previous_close"), [
    (THANKSGIVING, datetime(2026, 11, 24, 20, 59, tzinfo=UTC)),  # reference session: Wednesday
    (SATURDAY, datetime(2026, 11, 19, 20, 59, tzinfo=UTC)),  # reference session: Friday
    (HALF_DAY_CLOSED, datetime(2026, 11, 25, 20, 59, tzinfo=UTC)),
])  # fmt: skip
def test_closed_market_refreshes_the_hash_without_signal_or_snapshots(
    settings, db, redis_client, subscriber, now, previous_close
):
    assert market_state(now)[0] is False
    _trades(db, now, previous_close)
    result = _run(settings, now)

    assert result.rows_inserted == 0
    assert db.execute("SELECT count(*) FROM sp500_market_snapshots").fetchone()[0] == 0
    db.commit()
    aapl = json.loads(redis_client.hget(HASH, "AAPL"))
    assert (aapl["current_price"], aapl["change_amount"]) == (102.5, 2.5)
    assert redis_client.ttl(HASH) > 0
    assert _wait_message(subscriber, 1.0) is None  # no signal while the market is closed


def test_market_state_knows_sessions_holidays_and_half_days():
    assert market_state(datetime(2026, 11, 16, 14, 29, tzinfo=UTC)) == (False, datetime(2026, 11, 13).date())
    assert market_state(datetime(2026, 11, 16, 14, 30, tzinfo=UTC)) == (True, datetime(2026, 11, 16).date())
    assert market_state(datetime(2026, 11, 16, 21, 0, tzinfo=UTC))[0] is False  # 16:00 New York
    assert market_state(THANKSGIVING) == (False, datetime(2026, 11, 25).date())
    assert market_state(HALF_DAY_OPEN) == (True, datetime(2026, 11, 27).date())
    assert market_state(datetime(2026, 7, 6, 14, 0, tzinfo=UTC)) == (True, datetime(2026, 7, 6).date())  # EDT
