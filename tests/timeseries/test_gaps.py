"""Gaps are data: a producer disconnect leaves a row in stream_gaps; gaps_between finds it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from marketpipe.stream.producers.finnhub import FinnhubProducer, FinnhubProducerConfig
from marketpipe.stream.producers.runner import ProducerThread
from marketpipe.timeseries.gaps import ConnectionGap, GapRecorder, gaps_between, record_gap
from plugins._producerkit import wait_for

T0 = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)


def _gaps(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT stream, shard, symbols, gap_from, gap_to, reason, backfill FROM stream_gaps ORDER BY id"
        ).fetchall()


def test_a_producer_disconnect_leaves_a_recorded_gap(
    sandbox: Any, idempotent_kafka: str, kafka_topic: Callable[..., str], pg_dsn: str
) -> None:
    topic = kafka_topic("gaps")
    universe = sorted(sandbox.admin.constituents())[:4]
    producer = FinnhubProducer(
        FinnhubProducerConfig(
            bootstrap=idempotent_kafka,
            ws_url=sandbox.base_url("finnhub_ws"),
            tokens=[SecretStr("gap-token")],
            universe=universe,
            topic=topic,
            backoff_base=0.3,
            backoff_cap=1.0,
            gaps_dsn=pg_dsn,
        )
    )
    with ProducerThread(producer.run) as thread:
        wait_for(lambda: producer.stats.get("delivered") >= 20, what="first trades")
        before = datetime.now(UTC)
        httpx.post(f"{sandbox.url}/finnhub/ws/_disconnect").raise_for_status()
        wait_for(lambda: producer.connections >= 2, what="reconnect")
        wait_for(lambda: len(_gaps(pg_dsn)) >= 1, what="gap recorded")
        assert thread.alive
    after = datetime.now(UTC)
    [(stream, shard, symbols, gap_from, gap_to, reason, backfill)] = _gaps(pg_dsn)
    assert stream == topic  # an unknown topic keeps its own name; the real ones map to candle streams
    assert shard == "0/1#0"
    assert sorted(symbols) == universe
    assert gap_to is not None and gap_from <= gap_to <= after
    assert gap_from <= before + timedelta(seconds=1)  # the last frame before the drop, not the reconnect
    assert reason  # the exception class that ended the connection
    assert backfill == "unavailable"  # no free Finnhub REST history for trades
    with psycopg.connect(pg_dsn) as conn:
        found = gaps_between(conn, topic, universe[0], gap_from - timedelta(minutes=1), after)
        assert found == [{"from": gap_from, "to": gap_to, "shard": "0/1#0", "reason": reason}]
        assert gaps_between(conn, topic, "NOT-THERE", gap_from - timedelta(minutes=1), after) == []


def test_gaps_between_returns_overlapping_gaps_of_the_symbol_oldest_first(db: psycopg.Connection) -> None:
    gaps = [
        ConnectionGap(
            "trades", "0/2#0", ("AAPL", "MSFT"), T0, T0 + timedelta(minutes=3), "ConnectionClosedError"
        ),
        ConnectionGap("trades", "0/2#0", ("AAPL",), T0 + timedelta(hours=1), None, "stopped"),
        ConnectionGap("trades", "1/2#0", ("NVDA",), T0, T0 + timedelta(minutes=5), "TimeoutError"),
        ConnectionGap("etf", "0/1#0", ("AAPL",), T0, T0 + timedelta(minutes=5), "TimeoutError"),
    ]
    with db.transaction():
        for gap in gaps:
            record_gap(db, gap)
    got = gaps_between(db, "trades", "AAPL", T0 - timedelta(hours=1), T0 + timedelta(days=1))
    assert [(g["from"], g["to"], g["shard"]) for g in got] == [
        (T0, T0 + timedelta(minutes=3), "0/2#0"),
        (T0 + timedelta(hours=1), None, "0/2#0"),
    ]
    # Half-open window semantics: a gap ending exactly at start is outside; an open gap reaches any end.
    assert gaps_between(db, "trades", "MSFT", T0 + timedelta(minutes=3), T0 + timedelta(hours=2)) == []
    later = gaps_between(db, "trades", "AAPL", T0 + timedelta(days=300), T0 + timedelta(days=301))
    assert [g["reason"] for g in later] == ["stopped"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shard=st.text(max_size=400),
    reason=st.text(max_size=2000),
    symbols=st.lists(st.text(max_size=30), max_size=30),
    minutes=st.integers(min_value=-10_000, max_value=10_000_000),
)
def test_hostile_gap_fields_are_stored_cleanly_or_rejected_typed(
    db: psycopg.Connection, shard: str, reason: str, symbols: list[str], minutes: int
) -> None:
    """NUL, lone surrogates, huge text, far-future and reversed intervals: stored bounded and clean."""
    gap = ConnectionGap("trades", shard, tuple(symbols), T0, T0 + timedelta(minutes=minutes), reason)
    with db.transaction():
        gap_id = record_gap(db, gap)
        stored = db.execute(
            "SELECT shard, reason, symbols, gap_from, gap_to FROM stream_gaps WHERE id = %s", (gap_id,)
        ).fetchone()
    assert stored is not None
    assert "\x00" not in stored[0] + stored[1] and len(stored[0]) <= 300 and len(stored[1]) <= 300
    assert len(stored[2]) == len(symbols)
    assert stored[4] >= stored[3]  # a reversed interval is clamped to zero length, never refused


def test_a_recorder_that_cannot_reach_the_database_never_raises(pg_server: str) -> None:
    recorder = GapRecorder("postgresql://nobody@127.0.0.1:1/none", "trades", "0/1")
    recorder.callback(0)(T0.timestamp(), None, ["AAPL"], "ConnectionClosedError")
    recorder.close()
    assert (recorder.recorded, recorder.failed) == (0, 1)


@pytest.mark.parametrize("topic,stream", [("sp500-websocket-trades", "trades"), ("etf-trades", "etf")])
def test_known_topics_map_to_candle_streams(topic: str, stream: str) -> None:
    assert GapRecorder.for_topic("postgresql://x", topic, "0/1").stream == stream
