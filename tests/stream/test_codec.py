"""The message codec: versioned compact JSON, strict decoding with short reasons."""

from __future__ import annotations

import math

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketpipe.stream import codec
from marketpipe.stream.codec import CodecError


def test_encode_adds_version_and_kind() -> None:
    raw = codec.encode(
        "trade", {"symbol": "AAPL", "price": 189.5, "volume": 100, "timestamp_ms": 1732600000123}
    )
    assert orjson.loads(raw) == {
        "v": 1, "kind": "trade", "symbol": "AAPL", "price": 189.5, "volume": 100, "timestamp_ms": 1732600000123,
    }  # fmt: skip
    assert b" " not in raw  # compact
    assert codec.key("AAPL") == b"AAPL"


@given(
    symbol=st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=16),
    price=st.floats(min_value=1e-6, max_value=1e9, allow_nan=False),
    volume=st.floats(min_value=0, max_value=1e9, allow_nan=False),
    ts=st.integers(min_value=946_684_800_000, max_value=4_102_444_800_000),
)
def test_trade_roundtrip(symbol: str, price: float, volume: float, ts: int) -> None:
    raw = codec.encode_trade(symbol, price, ts, volume, conditions=["1", "12"], shard=2, shards=10)
    msg = codec.decode_trade(raw)
    assert (msg["symbol"], msg["price"], msg["volume"], msg["timestamp_ms"]) == (symbol, price, volume, ts)
    assert msg["conditions"] == ["1", "12"] and msg["shard"] == 2


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "tombstone"),
        (b"\xff\xfe", "not JSON"),
        (b"[1,2]", "not a JSON object"),
        (b'{"v":2,"kind":"trade"}', "schema version"),
        (b'{"v":1,"kind":"ticker","market":"KRW-BTC"}', "expected kind"),
        (b'{"v":1,"kind":"trade","price":1,"timestamp_ms":1732600000123}', "symbol"),
        (b'{"v":1,"kind":"trade","symbol":"A","price":"1","timestamp_ms":1732600000123}', "price"),
        (b'{"v":1,"kind":"trade","symbol":"A","price":-1,"timestamp_ms":1732600000123}', "positive"),
        (b'{"v":1,"kind":"trade","symbol":"A","price":true,"timestamp_ms":1732600000123}', "price"),
        (b'{"v":1,"kind":"trade","symbol":"A","price":1,"timestamp_ms":17326000}', "timestamp_ms"),
        (b'{"v":1,"kind":"trade","symbol":"A","price":1,"timestamp_ms":1732600000123,"volume":-3}', "volume"),
        (b'{"v":1,"kind":"trade","symbol":"A\\u0000","price":1,"timestamp_ms":1732600000123}', "symbol"),
        (
            b'{"v":1,"kind":"trade","symbol":"A","price":1,"timestamp_ms":1732600000123,"conditions":[1]}',
            "conditions",
        ),
    ],
)
def test_bad_trades_raise_codec_error_with_reason(raw: bytes | None, reason: str) -> None:
    with pytest.raises(CodecError) as info:
        codec.decode_trade(raw)
    assert reason in info.value.reason


def test_ticker_decoding_keeps_exact_numbers() -> None:
    raw = codec.encode(
        "ticker",
        {
            "market": "KRW-BTC",
            "timestamp": 1732600000999,
            "trade_timestamp": "1732632400123",
            "trade_timestamp_fixed": 1732600000123,
            "trade_price": "0.000000123456789012345",
        },
    )
    msg = codec.decode_ticker(raw)
    assert msg["timestamp"] == 1732600000999
    assert msg["trade_timestamp"] == 1732600000123  # the producer's +9 h fix wins
    assert str(codec.to_decimal(msg["trade_price"], "trade_price")) == "1.23456789012345E-7"
    with pytest.raises(CodecError):
        codec.to_decimal("nan", "x")
    with pytest.raises(CodecError, match="trade_price"):
        codec.decode_ticker(codec.encode("ticker", {"market": "KRW-BTC", "timestamp": 1732600000123}))
    with pytest.raises(CodecError, match="timestamp"):
        codec.decode_ticker(codec.encode("ticker", {"market": "KRW-BTC", "trade_price": 1}))
    assert not math.isnan(float(codec.to_decimal(1.5, "x") or 0))


@given(
    price=st.floats(min_value=1e-6, max_value=1e9, allow_nan=False),
    seq=st.integers(min_value=0, max_value=32767),
    ts=st.integers(min_value=946_684_800_000, max_value=4_102_444_800_000),
)
def test_struct_path_matches_dict_path(price: float, seq: int, ts: int) -> None:
    raw = codec.encode_trade("AAPL", price, ts, 3.0, seq=seq, conditions=["1"], shard=1, shards=4)
    fast = codec.decode_trade_struct(raw)
    slow = codec.decode_trade(raw)
    assert (fast.symbol, fast.price, fast.volume, fast.timestamp_ms, fast.seq, list(fast.conditions or []), fast.shard) == (
        slow["symbol"], slow["price"], slow["volume"], slow["timestamp_ms"], slow["seq"], slow["conditions"],
        slow["shard"],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "tombstone"),
        (b"nope", "not JSON"),
        (b'{"v":2,"kind":"trade"}', "schema version"),
        (b'{"v":1,"kind":"trade","symbol":"A","price":0,"timestamp_ms":1732600000123}', "positive"),
        (b'{"v":1,"kind":"trade","symbol":"A","price":1,"timestamp_ms":1732600000123,"seq":40000}', "seq"),
        (b'{"v":1,"kind":"trade","symbol":"A","price":1e16,"timestamp_ms":1732600000123}', "invalid trade"),
        (b'{"v":1,"kind":"trade","symbol":"A\u0000","price":1,"timestamp_ms":1732600000123}', "symbol"),
    ],
)
def test_struct_path_rejects_with_readable_reasons(raw: bytes | None, reason: str) -> None:
    with pytest.raises(CodecError) as info:
        codec.decode_trade_struct(raw)
    assert reason in info.value.reason
