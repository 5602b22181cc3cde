"""Pure producer logic: Finnhub frames, duplicate detection, pacing, backoff, redaction, Bithumb parsing."""

from __future__ import annotations

import logging
import random
from decimal import Decimal

import orjson
import pytest

from marketpipe.http.errors import MalformedResponse
from marketpipe.providers.bithumb.tickers import KST_SKEW_MS, corrected_trade_timestamp, parse_tickers
from marketpipe.redaction import RedactingFilter, redact_url
from marketpipe.redaction import redact as scrub
from marketpipe.stream.producers.bithumb import chunks, json_value
from marketpipe.stream.producers.finnhub import MAX_SEQ, TradeSequencer, plan_connections
from marketpipe.stream.producers.finnhub_ws import (
    ErrorFrame,
    GarbageFrame,
    PingFrame,
    RecentTrades,
    TradesFrame,
    parse_frame,
    ws_url,
)
from marketpipe.stream.producers.pacing import Backoff, TokenBucket
from marketpipe.stream.producers.universe import parse_symbol_list

T0 = 1_763_305_200_000


def frame(*trades: dict) -> str:
    return orjson.dumps({"type": "trade", "data": list(trades)}).decode()


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_trade_frame_is_normalised() -> None:
    parsed = parse_frame(
        frame(
            {"s": "aapl", "p": 146.76, "t": T0, "v": 43, "c": ["1", "24"]},
            {"s": "BINANCE:BTCUSDT", "p": 1.5, "t": T0, "v": 0.25},
        )
    )
    assert isinstance(parsed, TradesFrame)
    first, crypto = parsed.trades
    assert (first.symbol, first.price, first.volume, first.timestamp_ms, first.conditions) == (
        "AAPL",
        146.76,
        43.0,
        T0,
        ("1", "24"),
    )
    assert crypto.conditions == () and crypto.volume == 0.25
    assert parsed.bad == []


@pytest.mark.parametrize(
    "item",
    [
        {"p": 1.0, "t": T0, "v": 1},  # no symbol
        {"s": "AAPL", "p": "1.0", "t": T0, "v": 1},  # price as string
        {"s": "AAPL", "p": float("nan"), "t": T0, "v": 1},
        {"s": "AAPL", "p": 1.0, "t": T0 // 1000, "v": 1},  # seconds, not ms
        {"s": "AAPL", "p": 1.0, "t": T0, "v": -1},
        {"s": "AAPL", "p": 1.0, "t": T0, "v": 1, "c": "1"},
        ["AAPL", 1.0],
    ],
)
def test_a_bad_trade_is_dropped_alone(item: object) -> None:
    parsed = parse_frame(frame({"s": "MSFT", "p": 410.0, "t": T0, "v": 5}, item))  # type: ignore[arg-type]
    assert isinstance(parsed, TradesFrame)
    assert [t.symbol for t in parsed.trades] == ["MSFT"]
    assert len(parsed.bad) == 1


@pytest.mark.parametrize(
    "raw",
    [
        "",
        '{"type":"trade","data":[',
        b"\x00\xff\xfe garbage \x81",
        "[1,2]",
        '{"type":"trade","data":{"s":"AAPL"}}',
        '{"type":"news"}',
        "garbage",
    ],
)
def test_garbage_frames_are_typed_errors(raw: str | bytes) -> None:
    with pytest.raises(GarbageFrame):
        parse_frame(raw)


def test_ping_and_error_frames() -> None:
    assert isinstance(parse_frame('{"type":"ping"}'), PingFrame)
    cap = parse_frame('{"type":"error","msg":"Subscribing to too many symbols"}')
    assert isinstance(cap, ErrorFrame) and cap.is_symbol_cap
    other = parse_frame('{"type":"error","msg":"Invalid message"}')
    assert isinstance(other, ErrorFrame) and not other.is_symbol_cap


def test_a_replayed_frame_is_dropped_but_identical_prints_inside_one_frame_are_kept() -> None:
    clock = FakeClock()
    recent = RecentTrades(window_s=5.0, clock=clock)
    raw = frame({"s": "AAPL", "p": 1.0, "t": T0, "v": 1}, {"s": "AAPL", "p": 1.0, "t": T0, "v": 1})
    trades = parse_frame(raw).trades  # type: ignore[union-attr]
    kept, dropped = recent.filter_frame(trades)
    assert (len(kept), dropped) == (2, 0)
    kept, dropped = recent.filter_frame(parse_frame(raw).trades)  # type: ignore[union-attr]
    assert (len(kept), dropped) == (0, 2)
    clock.now += 6  # outside the window the same print is new again
    kept, dropped = recent.filter_frame(parse_frame(raw).trades)  # type: ignore[union-attr]
    assert (len(kept), dropped) == (2, 0)


def test_recent_trades_memory_is_bounded() -> None:
    recent = RecentTrades(window_s=60, max_entries=100, clock=FakeClock())
    for i in range(1000):
        recent.filter_frame(parse_frame(frame({"s": "A", "p": 1.0, "t": T0 + i, "v": 1})).trades)  # type: ignore[union-attr]
    assert len(recent._seen) <= 101


def test_token_bucket_paces_at_its_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=3, clock=clock)
    assert [bucket.try_take() for _ in range(4)] == [True, True, True, False]
    assert bucket.delay() == pytest.approx(0.1)
    clock.now += 0.1
    assert bucket.try_take() and not bucket.try_take()
    clock.now += 100  # idle time refills only up to the burst
    assert sum(bucket.try_take() for _ in range(10)) == 3


def test_backoff_grows_with_jitter_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(base=0.5, cap=8, floor=0.1, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [min(8, 0.5 * 2**k) for k in range(8)]
    assert all(c / 10 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays[5:]) <= 8
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_token_never_appears_in_urls_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    url = ws_url("ws://127.0.0.1:1/finnhub/ws", "s3cr3t-token")
    assert "s3cr3t-token" in url
    assert redact_url(url) == "ws://127.0.0.1:1/finnhub/ws?token=***"
    assert "s3cr3t" not in scrub(
        "failed GET /finnhub/ws?token=s3cr3t-token HTTP/1.1 (key s3cr3t-token)", ["s3cr3t-token"]
    )
    logger = logging.getLogger("test.redaction")
    logger.addFilter(RedactingFilter(["s3cr3t-token"]))
    with caplog.at_level(logging.DEBUG, logger="test.redaction"):
        logger.debug("> GET %s HTTP/1.1", "/finnhub/ws?token=s3cr3t-token")
    assert "s3cr3t" not in caplog.text and "token=***" in caplog.text


def test_symbol_lists() -> None:
    assert parse_symbol_list("aapl, msft\n# comment\nBRK.B  aapl") == ["AAPL", "MSFT", "BRK.B"]


# -- Bithumb ----------------------------------------------------------------------------------


def test_ticker_numbers_keep_their_precision() -> None:
    body = (
        '[{"market":"KRW-BTC","trade_price":143950000,"change_rate":0.0021,'
        '"acc_trade_volume":1.76373410121466379999997512,"trade_timestamp":1750512535651,"timestamp":1750480141644}]'
    )
    (ticker,) = parse_tickers(body)
    payload = json_value(ticker)
    assert payload["trade_price"] == 143950000 and isinstance(payload["trade_price"], int)
    assert payload["change_rate"] == 0.0021 and isinstance(payload["change_rate"], float)
    assert payload["acc_trade_volume"] == "1.76373410121466379999997512"
    assert Decimal(payload["acc_trade_volume"]) == ticker["acc_trade_volume"]


def test_kst_skewed_trade_timestamp_is_corrected() -> None:
    skewed = {"trade_timestamp": 1750512535651, "timestamp": 1750480141644}
    assert corrected_trade_timestamp(skewed) == 1750512535651 - KST_SKEW_MS
    honest = {"trade_timestamp": 1750480141000, "timestamp": 1750480141644}
    assert corrected_trade_timestamp(honest) == 1750480141000
    assert corrected_trade_timestamp({"timestamp": 1}) is None


@pytest.mark.parametrize("body", ["<html>", '{"error":{"name":404}}', '[{"market":"KRW-BTC"}]', "[1]"])
def test_unusable_ticker_bodies_are_typed_errors(body: str) -> None:
    with pytest.raises(MalformedResponse):
        parse_tickers(body)


def test_chunks() -> None:
    assert list(chunks(["a", "b", "c"], 2)) == [["a", "b"], ["c"]]


def test_trades_in_one_millisecond_get_distinct_seq_and_late_ones_continue_the_count() -> None:
    sequencer = TradeSequencer(max_entries=1000)
    assert [sequencer.assign("AAPL", T0) for _ in range(3)] == [0, 1, 2]
    assert sequencer.assign("MSFT", T0) == 0
    assert sequencer.assign("AAPL", T0 + 1) == 0
    assert sequencer.assign("AAPL", T0) == 3  # a late print for an older millisecond


def test_seq_beyond_smallint_is_refused() -> None:
    sequencer = TradeSequencer()
    for _ in range(MAX_SEQ + 1):
        assert sequencer.assign("AAPL", T0) is not None
    assert sequencer.assign("AAPL", T0) is None


def test_connections_are_planned_evenly_within_the_cap_and_the_key_count() -> None:
    symbols = [f"S{i:03d}" for i in range(62)]
    chunks, unserved = plan_connections(symbols, keys=3, max_symbols=50)
    assert [len(c) for c in chunks] == [31, 31] and unserved == []
    assert [s for c in chunks for s in c] == symbols
    chunks, unserved = plan_connections(symbols, keys=1, max_symbols=50)
    assert [len(c) for c in chunks] == [50] and unserved == symbols[50:]
    assert plan_connections([], keys=2, max_symbols=50) == ([], [])
