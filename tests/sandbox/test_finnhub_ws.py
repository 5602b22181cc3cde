"""Finnhub trades WebSocket simulator against a real sandbox server (spec/provider-apis.md §2.4)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

KEY = "finnhub-ws-test-key"
TOO_MANY = {"type": "error", "msg": "Subscribing to too many symbols"}


@pytest.fixture
def ws_settings(sandbox) -> Iterator[httpx.Client]:
    """HTTP client for the stream's sandbox-only settings; restores the defaults afterwards."""
    base = sandbox.base_url("finnhub_ws").replace("ws://", "http://", 1)
    with httpx.Client(base_url=base, timeout=10) as client:
        defaults = client.get("/_settings").json()["settings"]
        yield client
        client.post("/_settings", json=defaults)


def _open(sandbox, token: str | None = KEY, **settings: Any) -> ClientConnection:
    query = {**({"token": token} if token else {}), **settings}
    url = f"{sandbox.base_url('finnhub_ws')}?{urlencode(query)}"
    return connect(url, max_size=None, proxy=None, open_timeout=10)


def _subscribe(ws: ClientConnection, *symbols: str, kind: str = "subscribe") -> None:
    for symbol in symbols:
        ws.send(orjson.dumps({"type": kind, "symbol": symbol}).decode())


def _messages(ws: ClientConnection, seconds: float) -> list[Any]:
    """Every message received within ``seconds`` (raw text/bytes)."""
    out: list[Any] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            out.append(ws.recv(timeout=left))
        except TimeoutError:
            break
    return out


def _trades(raw: list[Any]) -> list[dict[str, Any]]:
    return [
        trade for message in map(orjson.loads, raw) if message["type"] == "trade" for trade in message["data"]
    ]


def test_trades_have_the_real_shape_and_only_subscribed_symbols(sandbox) -> None:
    with _open(sandbox, rate=2000) as ws:
        _subscribe(ws, "AAPL", "MSFT")
        trades = _trades(_messages(ws, 1.0))
    assert len(trades) > 200
    assert {trade["s"] for trade in trades} == {"AAPL", "MSFT"}
    for trade in trades:
        assert list(trade) == ["s", "p", "t", "v", "c"]
        assert isinstance(trade["p"], float) and isinstance(trade["t"], int) and isinstance(trade["v"], int)
        assert isinstance(trade["c"], list) and all(isinstance(code, str) for code in trade["c"])


def test_prices_sit_next_to_the_world_quote_and_timestamps_are_sandbox_milliseconds(sandbox) -> None:
    sandbox.admin.freeze()
    sandbox_ms = int(sandbox.admin.now().timestamp() * 1000)
    world_price = sandbox.admin.quote("NVDA")["price"]
    with _open(sandbox, rate=1000) as ws:
        _subscribe(ws, "NVDA")
        trades = _trades(_messages(ws, 0.6))
    assert trades
    assert all(trade["p"] == pytest.approx(world_price, rel=0.005) for trade in trades)
    # A frozen clock: every trade carries the sandbox's millisecond (not the wall clock's).
    assert {trade["t"] for trade in trades} == {sandbox_ms}


def test_several_trades_share_a_millisecond_in_a_flowing_clock(sandbox) -> None:
    with _open(sandbox, rate=5000) as ws:
        _subscribe(ws, "AAPL", "AMZN", "META")
        raw = _messages(ws, 1.0)
    frames = [orjson.loads(m)["data"] for m in raw if orjson.loads(m)["type"] == "trade"]
    shared = sum(len(frame) - len({trade["t"] for trade in frame}) for frame in frames)
    assert shared > 0
    times = [trade["t"] for frame in frames for trade in frame]
    assert times == sorted(times), "trades arrive in time order"
    now_ms = sandbox.admin.now().timestamp() * 1000
    assert now_ms - 60_000 < times[-1] <= now_ms


def test_crypto_forex_and_etf_symbols_trade_with_their_own_shapes(sandbox) -> None:
    sandbox.admin.set_clock(datetime(2026, 11, 15, 12, 0, tzinfo=UTC), rate=0)  # Sunday: stocks closed
    with _open(sandbox, rate=3000, market_hours_only="true") as ws:
        _subscribe(ws, "BINANCE:BTCUSDT", "OANDA:EUR_USD", "AAPL", "NOSUCH:PAIR")
        trades = _trades(_messages(ws, 0.8))
    by_symbol: dict[str, list[dict[str, Any]]] = {}
    for trade in trades:
        by_symbol.setdefault(trade["s"], []).append(trade)
    assert set(by_symbol) == {"BINANCE:BTCUSDT", "OANDA:EUR_USD"}  # crypto and FX trade at weekends
    btc = by_symbol["BINANCE:BTCUSDT"]
    assert all(list(t) == ["s", "p", "t", "v"] and isinstance(t["v"], float) for t in btc)
    markets = httpx.get(
        sandbox.base_url("coingecko") + "/coins/markets",
        params={"ids": "bitcoin", "vs_currency": "usd"},
        headers={"x-cg-demo-api-key": "CG-test"},
        timeout=10,
    ).json()
    assert btc[0]["p"] == pytest.approx(markets[0]["current_price"], rel=0.01)  # agrees with CoinGecko
    assert all(t["v"] == 0 and 0.9 < t["p"] < 1.3 for t in by_symbol["OANDA:EUR_USD"])
    sandbox.admin.set_clock(datetime(2026, 11, 16, 15, 0, tzinfo=UTC))
    with _open(sandbox, rate=1000) as ws:
        _subscribe(ws, "SPY")
        assert {t["s"] for t in _trades(_messages(ws, 0.4))} == {"SPY"}


def test_unsubscribe_stops_a_symbol(sandbox) -> None:
    with _open(sandbox, rate=3000) as ws:
        _subscribe(ws, "AAPL")
        assert _trades(_messages(ws, 0.3))
        _subscribe(ws, "AAPL", kind="unsubscribe")
        _subscribe(ws, "MSFT")  # processed after the unsubscribe: once MSFT flows, AAPL is gone
        seen_msft = False
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            trades = _trades([ws.recv(timeout=5)])
            symbols = {trade["s"] for trade in trades}
            if seen_msft or "MSFT" in symbols:
                seen_msft = True
                assert "AAPL" not in symbols
                if len(trades) > 20:
                    break
        assert seen_msft


def test_the_symbol_after_the_cap_gets_the_too_many_symbols_error(sandbox) -> None:
    with _open(sandbox, rate=500, symbol_limit=3) as ws:
        _subscribe(ws, "AAPL", "MSFT", "NVDA", "AMZN")
        messages = [orjson.loads(m) for m in _messages(ws, 0.8)]
        assert TOO_MANY in messages
        assert {t["s"] for m in messages if m["type"] == "trade" for t in m["data"]} <= {
            "AAPL",
            "MSFT",
            "NVDA",
        }
        # Unsubscribing frees a slot.
        _subscribe(ws, "NVDA", kind="unsubscribe")
        _subscribe(ws, "AMZN")
        later = [orjson.loads(m) for m in _messages(ws, 0.8)]
        assert TOO_MANY not in later
        assert "AMZN" in {t["s"] for m in later if m["type"] == "trade" for t in m["data"]}


def test_the_default_cap_is_fifty_symbols(sandbox) -> None:
    symbols = sandbox.admin.constituents()[:51]
    with _open(sandbox, rate=10) as ws:
        _subscribe(ws, *symbols)
        errors = [m for m in map(orjson.loads, _messages(ws, 0.8)) if m["type"] == "error"]
    assert errors == [TOO_MANY]


def test_pings_flow_and_no_trades_without_subscriptions(sandbox) -> None:
    with _open(sandbox, rate=1000, ping_interval_s=0.1) as ws:
        messages = [orjson.loads(m) for m in _messages(ws, 0.6)]
    assert {"type": "ping"} in messages
    assert all(m == {"type": "ping"} for m in messages)


def test_outside_market_hours_only_pings_flow_when_market_hours_mode_is_on(sandbox) -> None:
    sandbox.admin.set_clock(datetime(2026, 11, 15, 12, 0, tzinfo=UTC))  # a Sunday
    with _open(sandbox, rate=1000, ping_interval_s=0.1, market_hours_only="true") as ws:
        _subscribe(ws, "AAPL")
        messages = [orjson.loads(m) for m in _messages(ws, 0.6)]
    assert messages and all(m == {"type": "ping"} for m in messages)


def test_missing_or_invalid_token_is_refused_at_the_handshake(sandbox) -> None:
    with pytest.raises(InvalidStatus) as missing:
        _open(sandbox, token=None)
    assert missing.value.response.status_code == 401
    assert orjson.loads(missing.value.response.body) == {"error": "Please use an API key."}
    sandbox.admin.set_keys("finnhub_ws", valid=[KEY])
    with pytest.raises(InvalidStatus) as invalid:
        _open(sandbox, token="not-a-real-key")
    assert invalid.value.response.status_code == 401
    assert orjson.loads(invalid.value.response.body) == {"error": "Invalid API key"}


def test_a_second_connection_with_the_same_key_drops_both(sandbox) -> None:
    with _open(sandbox, rate=100) as first:
        _subscribe(first, "AAPL")
        _messages(first, 0.2)
        with _open(sandbox, rate=100) as second:
            for ws in (first, second):
                with pytest.raises(ConnectionClosed) as closed:
                    _messages(ws, 5)
                    ws.recv(timeout=5)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


def test_disconnect_fault_closes_the_stream_after_n_messages(sandbox) -> None:
    sandbox.admin.add_fault(
        "finnhub_ws", "ws_disconnect", route="trades", count=1, after_messages=5, code=1011
    )
    received = 0
    with _open(sandbox, rate=2000) as ws:
        _subscribe(ws, "AAPL")
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=5)
                received += 1
    assert received == 5
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    # The fault fired once: a reconnect streams normally.
    with _open(sandbox, rate=2000) as ws:
        _subscribe(ws, "AAPL")
        assert len(_messages(ws, 0.5)) > 5


def test_disconnect_on_demand_closes_open_streams(sandbox) -> None:
    with _open(sandbox, rate=500) as ws:
        _subscribe(ws, "AAPL")
        assert _messages(ws, 0.3)
        base = sandbox.base_url("finnhub_ws").replace("ws://", "http://", 1)
        assert httpx.post(f"{base}/_disconnect").json() == {"closed": 1}
        with pytest.raises(ConnectionClosed) as closed:
            _messages(ws, 5)
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


@pytest.mark.parametrize(
    ("payload", "check"),
    [
        ("not_json", lambda m: isinstance(m, str)),
        ("binary", lambda m: isinstance(m, bytes)),
        ("wrong_shape", lambda m: isinstance(orjson.loads(m)["data"], dict)),
    ],
)
def test_garbage_fault_sends_one_bad_frame_then_the_stream_goes_on(sandbox, payload: str, check: Any) -> None:
    with _open(sandbox, rate=1000) as ws:
        _subscribe(ws, "AAPL")
        assert _trades(_messages(ws, 0.3))
        sandbox.admin.add_fault("finnhub_ws", "ws_garbage", route="trades", count=1, payload=payload)
        raw = _messages(ws, 0.8)
    bad = []
    for message in raw:
        try:
            decoded = orjson.loads(message)
            if not isinstance(decoded.get("data", []), list):
                bad.append(message)
        except orjson.JSONDecodeError:
            bad.append(message)
    assert len(bad) == 1 and check(bad[0])
    assert _trades([m for m in raw if m is not bad[0]])


def test_duplicate_fault_repeats_a_frame_or_every_trade(sandbox) -> None:
    with _open(sandbox, rate=1000) as ws:
        _subscribe(ws, "AAPL")
        _messages(ws, 0.2)
        sandbox.admin.add_fault("finnhub_ws", "ws_duplicate", route="trades", count=1, mode="frame")
        frames = [m for m in _messages(ws, 0.6) if orjson.loads(m)["type"] == "trade"]
        assert any(a == b for a, b in itertools.pairwise(frames))
        sandbox.admin.add_fault("finnhub_ws", "ws_duplicate", route="trades", count=1, mode="trades")
        frames = [orjson.loads(m)["data"] for m in _messages(ws, 0.6) if orjson.loads(m)["type"] == "trade"]
    doubled = [f for f in frames if len(f) >= 2 and all(f[i] == f[i + 1] for i in range(0, len(f), 2))]
    assert doubled


def test_stream_sustains_tens_of_thousands_of_trades_per_second(sandbox) -> None:
    """Generous lower bound only; bench/sandbox_ws.py measures the precise rate."""
    symbols = sandbox.admin.constituents()[:50]
    with _open(sandbox, rate=50_000) as ws:
        _subscribe(ws, *symbols)
        _messages(ws, 0.3)
        started = time.monotonic()
        trades = len(_trades(_messages(ws, 2.0)))
        elapsed = time.monotonic() - started
    assert trades / elapsed > 10_000


def test_settings_endpoint_changes_defaults_and_reports_totals(sandbox, ws_settings: httpx.Client) -> None:
    ws_settings.post("/_settings", json={"symbol_limit": 1, "rate": 300})
    with _open(sandbox) as ws:
        _subscribe(ws, "AAPL", "MSFT")
        messages = [orjson.loads(m) for m in _messages(ws, 0.5)]
        state = ws_settings.get("/_settings").json()
    assert TOO_MANY in messages
    assert state["settings"]["symbol_limit"] == 1 and state["open_connections"] == 1
    assert state["connections"][0]["symbols"] == ["AAPL"] and state["totals"]["trades"] > 0
    assert sandbox.admin.calls("finnhub_ws") >= 1
