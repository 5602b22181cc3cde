"""Finnhub trades WebSocket simulator against a real sandbox server (docs/providers.md §2.4).

Every wait is "receive until the expected messages arrived" with a generous deadline (CI runs on a
loaded 2-core box), never a fixed observation window.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
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
PING = {"type": "ping"}
DEADLINE_S = 20.0


@pytest.fixture
def ws_settings(sandbox) -> Iterator[httpx.Client]:
    """HTTP client for the stream's sandbox-only settings (defaults: the fixture reset the sandbox)."""
    base = sandbox.base_url("finnhub_ws").replace("ws://", "http://", 1)
    with httpx.Client(base_url=base, timeout=10) as client:
        yield client


_FRESH = "fresh"


def _open(sandbox, token: str | None = _FRESH, **settings: Any) -> ClientConnection:
    """Connect; by default with a key of its own, so a lingering connection of an earlier test (same
    key) can never trip the one-connection-per-key rule."""
    if token == _FRESH:
        token = f"{KEY}-{uuid.uuid4().hex[:8]}"
    query = {**({"token": token} if token else {}), **settings}
    url = f"{sandbox.base_url('finnhub_ws')}?{urlencode(query)}"
    return connect(url, max_size=None, proxy=None, open_timeout=10)


def _subscribe(ws: ClientConnection, *symbols: str, kind: str = "subscribe") -> None:
    for symbol in symbols:
        ws.send(orjson.dumps({"type": kind, "symbol": symbol}).decode())


def _until(ws: ClientConnection, done: Callable[[list[Any]], bool], what: str) -> list[Any]:
    """Raw messages (text or bytes) received until ``done(messages)`` holds; fail after the deadline."""
    out: list[Any] = []
    deadline = time.monotonic() + DEADLINE_S
    while not done(out):
        left = deadline - time.monotonic()
        if left <= 0:
            pytest.fail(f"timed out waiting for {what} ({len(out)} messages received)")
        try:
            out.append(ws.recv(timeout=left))
        except TimeoutError:
            continue
    return out


def _decoded(raw: list[Any]) -> list[dict[str, Any]]:
    return [orjson.loads(message) for message in raw]


def _trades(raw: list[Any]) -> list[dict[str, Any]]:
    return [trade for message in _decoded(raw) if message["type"] == "trade" for trade in message["data"]]


def _pings(raw: list[Any]) -> int:
    return sum(1 for message in _decoded(raw) if message == PING)


def test_trades_have_the_real_shape_and_only_subscribed_symbols(sandbox) -> None:
    with _open(sandbox, rate=2000) as ws:
        _subscribe(ws, "AAPL", "MSFT")
        raw = _until(ws, lambda m: len({t["s"] for t in _trades(m)}) == 2 and len(_trades(m)) > 200, "trades")
    trades = _trades(raw)
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
        trades = _trades(_until(ws, lambda m: len(_trades(m)) >= 50, "50 trades"))
    assert all(trade["p"] == pytest.approx(world_price, rel=0.005) for trade in trades)
    # A frozen clock: every trade carries the sandbox's millisecond (not the wall clock's).
    assert {trade["t"] for trade in trades} == {sandbox_ms}


def test_several_trades_share_a_millisecond_in_a_flowing_clock(sandbox) -> None:
    with _open(sandbox, rate=5000) as ws:
        _subscribe(ws, "AAPL", "AMZN", "META")
        raw = _until(ws, lambda m: len(_trades(m)) >= 2000, "2000 trades")
    frames = [message["data"] for message in _decoded(raw) if message["type"] == "trade"]
    shared = sum(len(frame) - len({trade["t"] for trade in frame}) for frame in frames)
    assert shared > 0
    times = [trade["t"] for frame in frames for trade in frame]
    assert times == sorted(times), "trades arrive in time order"
    now_ms = sandbox.admin.now().timestamp() * 1000
    assert now_ms - 60_000 < times[-1] <= now_ms


def test_crypto_forex_and_etf_symbols_trade_with_their_own_shapes(sandbox) -> None:
    sandbox.admin.set_clock(datetime(2026, 11, 15, 12, 0, tzinfo=UTC), rate=0)  # Sunday: stocks closed

    def enough(raw: list[Any]) -> bool:
        symbols = [t["s"] for t in _trades(raw)]
        return symbols.count("BINANCE:BTCUSDT") >= 20 and symbols.count("OANDA:EUR_USD") >= 20

    with _open(sandbox, rate=3000, market_hours_only="true") as ws:
        _subscribe(ws, "BINANCE:BTCUSDT", "OANDA:EUR_USD", "AAPL", "NOSUCH:PAIR")
        trades = _trades(_until(ws, enough, "crypto and forex trades"))
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
        assert {t["s"] for t in _trades(_until(ws, lambda m: len(_trades(m)) >= 20, "SPY trades"))} == {"SPY"}


def test_unsubscribe_stops_a_symbol(sandbox) -> None:
    with _open(sandbox, rate=3000) as ws:
        _subscribe(ws, "AAPL")
        _until(ws, lambda m: bool(_trades(m)), "AAPL trades")
        _subscribe(ws, "AAPL", kind="unsubscribe")
        _subscribe(ws, "MSFT")  # processed after the unsubscribe: once MSFT flows, AAPL is gone

        def msft_then_plenty(raw: list[Any]) -> bool:
            symbols = [t["s"] for t in _trades(raw)]
            return "MSFT" in symbols and len(symbols) - symbols.index("MSFT") > 100

        trades = _trades(_until(ws, msft_then_plenty, "MSFT trades"))
    first_msft = next(i for i, t in enumerate(trades) if t["s"] == "MSFT")
    assert all(t["s"] == "MSFT" for t in trades[first_msft:])


def test_the_symbol_after_the_cap_gets_the_too_many_symbols_error(sandbox) -> None:
    with _open(sandbox, rate=500, symbol_limit=3) as ws:
        _subscribe(ws, "AAPL", "MSFT", "NVDA", "AMZN")
        messages = _decoded(
            _until(ws, lambda m: TOO_MANY in _decoded(m) and len(_trades(m)) > 50, "the error")
        )
        assert {t["s"] for m in messages if m["type"] == "trade" for t in m["data"]} <= {
            "AAPL",
            "MSFT",
            "NVDA",
        }
        # Unsubscribing frees a slot.
        _subscribe(ws, "NVDA", kind="unsubscribe")
        _subscribe(ws, "AMZN")
        later = _decoded(_until(ws, lambda m: "AMZN" in {t["s"] for t in _trades(m)}, "AMZN trades"))
    assert TOO_MANY not in later


def test_the_default_cap_is_fifty_symbols(sandbox) -> None:
    symbols = sandbox.admin.constituents()[:51]
    with _open(sandbox, rate=10, ping_interval_s=0.05) as ws:
        _subscribe(ws, *symbols)
        # Messages are handled in order: after the error and a few pings, all 51 were processed.
        raw = _until(
            ws, lambda m: TOO_MANY in _decoded(m) and _pings(m[_decoded(m).index(TOO_MANY) :]) >= 3, "error"
        )
    assert [m for m in _decoded(raw) if m["type"] == "error"] == [TOO_MANY]


def test_pings_flow_and_no_trades_without_subscriptions(sandbox) -> None:
    with _open(sandbox, rate=1000, ping_interval_s=0.1) as ws:
        messages = _decoded(_until(ws, lambda m: _pings(m) >= 3, "three pings"))
    assert all(m == PING for m in messages)


def test_outside_market_hours_only_pings_flow_when_market_hours_mode_is_on(sandbox) -> None:
    sandbox.admin.set_clock(datetime(2026, 11, 15, 12, 0, tzinfo=UTC))  # a Sunday
    with _open(sandbox, rate=1000, ping_interval_s=0.1, market_hours_only="true") as ws:
        _subscribe(ws, "AAPL")
        messages = _decoded(_until(ws, lambda m: _pings(m) >= 5, "five pings"))
    assert all(m == PING for m in messages)


def test_missing_or_invalid_token_is_refused_at_the_handshake(sandbox) -> None:
    with pytest.raises(InvalidStatus) as missing:
        _open(sandbox, token=None)
    assert missing.value.response.status_code == 401
    assert orjson.loads(missing.value.response.body) == {"error": "Please use an API key."}
    sandbox.admin.set_keys("finnhub_ws", valid=[KEY])
    with _open(sandbox, token=KEY, rate=10):
        pass
    with pytest.raises(InvalidStatus) as invalid:
        _open(sandbox, token="not-a-real-key")
    assert invalid.value.response.status_code == 401
    assert orjson.loads(invalid.value.response.body) == {"error": "Invalid API key"}


def test_a_server_error_fault_refuses_the_handshake(sandbox) -> None:
    sandbox.admin.add_fault("finnhub_ws", "server_error", route="trades", count=1, status=503)
    with pytest.raises(InvalidStatus) as refused:
        _open(sandbox)
    assert refused.value.response.status_code == 503
    with _open(sandbox, rate=100) as ws:  # the fault fired once
        _subscribe(ws, "AAPL")
        assert _until(ws, lambda m: bool(_trades(m)), "trades after the fault")


def _closed_code(ws: ClientConnection) -> int:
    """Receive until the server closes; the close code it sent."""
    with pytest.raises(ConnectionClosed) as closed:
        _until(ws, lambda m: False, "the server to close the connection")
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


def test_a_second_connection_with_the_same_key_drops_both(sandbox) -> None:
    with _open(sandbox, token=KEY, rate=100) as first:
        _subscribe(first, "AAPL")
        _until(first, lambda m: bool(_trades(m)), "trades on the first connection")
        with _open(sandbox, token=KEY, rate=100) as second:
            assert _closed_code(first) == 1008
            assert _closed_code(second) == 1008


def test_disconnect_fault_closes_the_stream_after_n_messages(sandbox) -> None:
    sandbox.admin.add_fault(
        "finnhub_ws", "ws_disconnect", route="trades", count=1, after_messages=5, code=1011
    )
    received = 0
    with _open(sandbox, rate=2000) as ws:
        _subscribe(ws, "AAPL")
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=DEADLINE_S)
                received += 1
    assert received == 5
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    # The fault fired once: a reconnect streams normally.
    with _open(sandbox, rate=2000) as ws:
        _subscribe(ws, "AAPL")
        assert len(_until(ws, lambda m: len(m) > 10, "more than 10 messages")) > 5


def test_disconnect_on_demand_closes_open_streams(sandbox) -> None:
    with _open(sandbox, rate=500) as ws:
        _subscribe(ws, "AAPL")
        _until(ws, lambda m: bool(_trades(m)), "trades")
        base = sandbox.base_url("finnhub_ws").replace("ws://", "http://", 1)
        assert httpx.post(f"{base}/_disconnect").json() == {"closed": 1}
        assert _closed_code(ws) == 1001


def _is_bad(message: Any) -> bool:
    try:
        decoded = orjson.loads(message)
    except orjson.JSONDecodeError:
        return True
    return not isinstance(decoded.get("data", []), list)


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
        _until(ws, lambda m: bool(_trades(m)), "trades")
        sandbox.admin.add_fault("finnhub_ws", "ws_garbage", route="trades", count=1, payload=payload)

        def bad_then_good(raw: list[Any]) -> bool:
            bad = [i for i, m in enumerate(raw) if _is_bad(m)]
            return bool(bad) and bool(_trades([m for m in raw[bad[0] + 1 :] if not _is_bad(m)]))

        raw = _until(ws, bad_then_good, "a garbage frame followed by trades")
    bad = [m for m in raw if _is_bad(m)]
    assert len(bad) == 1 and check(bad[0])


def test_duplicate_fault_repeats_a_frame_or_every_trade(sandbox) -> None:
    def trade_frames(raw: list[Any]) -> list[Any]:
        return [m for m in raw if orjson.loads(m)["type"] == "trade"]

    def doubled(frame: list[dict[str, Any]]) -> bool:
        return len(frame) >= 2 and all(frame[i] == frame[i + 1] for i in range(0, len(frame), 2))

    with _open(sandbox, rate=1000) as ws:
        _subscribe(ws, "AAPL")
        _until(ws, lambda m: bool(_trades(m)), "trades")
        sandbox.admin.add_fault("finnhub_ws", "ws_duplicate", route="trades", count=1, mode="frame")
        _until(ws, lambda m: any(a == b for a, b in itertools.pairwise(trade_frames(m))), "a repeated frame")
        sandbox.admin.add_fault("finnhub_ws", "ws_duplicate", route="trades", count=1, mode="trades")
        _until(
            ws, lambda m: any(doubled(orjson.loads(f)["data"]) for f in trade_frames(m)), "a doubled frame"
        )


def test_stream_sustains_tens_of_thousands_of_trades_per_second(sandbox) -> None:
    """Generous lower bound only; bench/sandbox_ws.py measures the precise rate."""
    symbols = sandbox.admin.constituents()[:50]
    with _open(sandbox, rate=50_000) as ws:
        _subscribe(ws, *symbols)
        _until(ws, lambda m: len(_trades(m)) > 1000, "the stream to start")
        started = time.monotonic()
        trades = len(_trades(_until(ws, lambda m: len(m) >= 40, "40 frames")))
        elapsed = time.monotonic() - started
    assert trades / elapsed > 10_000


def test_settings_endpoint_changes_defaults_and_reports_totals(sandbox, ws_settings: httpx.Client) -> None:
    ws_settings.post("/_settings", json={"symbol_limit": 1, "rate": 300})
    with _open(sandbox) as ws:
        _subscribe(ws, "AAPL", "MSFT")
        messages = _decoded(
            _until(ws, lambda m: TOO_MANY in _decoded(m) and bool(_trades(m)), "error and trades")
        )
        state = ws_settings.get("/_settings").json()
    assert TOO_MANY in messages
    assert state["settings"]["symbol_limit"] == 1 and state["open_connections"] == 1
    assert state["connections"][0]["symbols"] == ["AAPL"] and state["totals"]["trades"] > 0
    assert sandbox.admin.calls("finnhub_ws") >= 1


def test_admin_reset_restores_the_stream_defaults(sandbox, ws_settings: httpx.Client) -> None:
    defaults = ws_settings.get("/_settings").json()["settings"]
    ws_settings.post("/_settings", json={"symbol_limit": 2, "rate": 5})
    sandbox.admin.reset()
    assert ws_settings.get("/_settings").json()["settings"] == defaults


def test_reconnecting_with_the_same_key_after_closing_is_not_a_second_connection(sandbox) -> None:
    for _ in range(10):
        with _open(sandbox, token=KEY, rate=500) as ws:
            _subscribe(ws, "AAPL")
            _until(ws, lambda m: bool(_trades(m)), "trades")
    with _open(sandbox, token=KEY, rate=500) as ws:
        _subscribe(ws, "MSFT")
        assert _until(ws, lambda m: len(_trades(m)) > 20, "trades after ten reconnects")
