"""Finnhub trades WebSocket simulator (docs/providers.md §2.4).

``ws://<sandbox>/finnhub/ws?token=<KEY>``. The client sends ``{"type":"subscribe","symbol":"AAPL"}`` /
``{"type":"unsubscribe",...}``; the server streams ``{"type":"trade","data":[{"s","p","t","v","c"}, ...]}``
frames for subscribed symbols only, many trades per frame, with ``t`` in milliseconds of the sandbox
clock (bursts of trades share a millisecond), prices next to the world's price, and a
``{"type":"ping"}`` heartbeat. The 51st symbol gets ``{"type":"error","msg":"Subscribing to too many
symbols"}``; a second connection with the same key drops both (real behaviour, switchable).
Index members and a few ETFs trade like US stocks; ``BINANCE:BTCUSDT``-style crypto pairs (priced
like the CoinGecko simulator, float volumes, no ``c``) and ``OANDA:EUR_USD`` forex (``v`` = 0) trade
around the clock; unknown symbols are accepted and stay silent.

Stream settings (rate, symbol cap, ping interval, market-hours mode) are sandbox-wide defaults
(``GET/POST /finnhub/ws/_settings``) and can be overridden per connection with query parameters of
the same names (a sandbox-only extension the real API ignores).

Faults (admin ``POST /_admin/faults`` with ``provider="finnhub_ws"``, route ``trades``), checked
before every frame:

- ``ws_disconnect`` — params ``after_messages`` (default 0: now), ``code`` (default 1001),
  ``reason``: the server closes after that many more messages.
- ``ws_garbage`` — params ``payload`` = ``not_json`` (default) | ``binary`` | ``wrong_shape`` |
  ``empty`` | ``text`` (with ``text``), ``replace`` (default false: inserted before the frame).
- ``ws_duplicate`` — params ``mode`` = ``frame`` (default: the trade frame is sent twice) |
  ``trades`` (every trade appears twice inside the frame).

``count`` / ``probability`` on a fault apply per frame (``count=1`` = once, on one connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import weakref
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.websockets import WebSocketState

from marketpipe.sandbox.core import ProviderSpec, Sandbox, gate, json_response, sandbox_of
from marketpipe.sandbox.counters import key_id
from marketpipe.sandbox.providers import coingecko_universe
from marketpipe.sandbox.providers.alpha_vantage import ETFS as ETF_PROFILES
from marketpipe.sandbox.world import SESSION_CLOSE_S, SESSION_OPEN_S, day_of, day_start, is_trading_day

NAME = "finnhub_ws"
#: Where the sandbox mounts it (the real base URL's path layout below this prefix).
PREFIX = "/finnhub/ws"
ENDPOINT = "trades"
TOO_MANY = {"type": "error", "msg": "Subscribing to too many symbols"}
PING = orjson.dumps({"type": "ping"}).decode()
WS_DUPLICATE = frozenset({"ws_duplicate"})
WS_GARBAGE = frozenset({"ws_garbage"})
WS_DISCONNECT = frozenset({"ws_disconnect"})
#: Trade-condition code sets seen on the real feed (strings; "1" regular, "12" form T, "24" extended...).
CONDITIONS: tuple[list[str], ...] = (["1"], ["1", "12"], ["1", "24", "12"], ["1", "8"], ["12", "37"], [])


class StreamSettings(BaseModel):
    """How the trade stream behaves (sandbox-wide defaults; query parameters override per connection)."""

    rate: float = Field(
        default=200.0, ge=0.0, le=1_000_000.0, description="Trades per second per connection."
    )
    frame_interval_s: float = Field(
        default=0.05, gt=0.0, le=10.0, description="Seconds between trade frames."
    )
    max_frame_trades: int = Field(default=5000, ge=1, description="Largest number of trades in one frame.")
    symbol_limit: int = Field(default=50, ge=1, description="Subscriptions per connection (real: about 50).")
    ping_interval_s: float = Field(default=10.0, gt=0.0, description="Seconds between ping frames.")
    market_hours_only: bool = Field(
        default=False, description="Real behaviour: outside the US session only pings flow."
    )
    exclusive_key: bool = Field(default=True, description="A second connection with the same key drops both.")


@dataclass
class _Connection:
    """Server-side state of one open WebSocket."""

    websocket: WebSocket
    kid: str
    settings: StreamSettings
    symbols: dict[str, None] = field(default_factory=dict)  # insertion-ordered set
    close_after: int | None = None  # messages left before a ws_disconnect fault closes
    close_code: int = 1001
    close_reason: str = ""
    kicked: asyncio.Event = field(default_factory=asyncio.Event)
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    sent_messages: int = 0
    sent_trades: int = 0
    client_gone: bool = False  # the client closed; the handler is still winding down


@dataclass
class _State:
    """Per-sandbox WebSocket state: defaults and live connections by key id."""

    settings: StreamSettings = field(default_factory=StreamSettings)
    by_key: dict[str, list[_Connection]] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=lambda: {"connections": 0, "messages": 0, "trades": 0})


_STATES: weakref.WeakKeyDictionary[Sandbox, _State] = weakref.WeakKeyDictionary()


def _state(sandbox: Sandbox) -> _State:
    state = _STATES.get(sandbox)
    if state is None:
        state = _STATES[sandbox] = _State()
    return state


router = APIRouter()


# -- trade generation ----------------------------------------------------------------------------


#: ETFs the real feed streams although they are not index members (the seed probed SPY, QQQ, VTI):
#: every ETF the sandbox's Alpha Vantage profiles, and IWM.
ETFS = frozenset({*ETF_PROFILES, "IWM"})
#: Forex venues use ``OANDA:EUR_USD``-style symbols; trades carry only a price (``v`` = 0).
FX_VENUES = frozenset({"OANDA", "FXCM", "FOREX.COM", "IC MARKETS", "FXPRO", "PEPPERSTONE"})
FX_RATES = {
    "EUR_USD": 1.08,
    "GBP_USD": 1.27,
    "USD_JPY": 151.0,
    "AUD_USD": 0.66,
    "USD_CAD": 1.37,
    "USD_CHF": 0.88,
}
CRYPTO_QUOTES = ("USDT", "USDC", "BUSD", "USD")
STOCK, CRYPTO, FX = 0, 1, 2


class TradeGenerator:
    """Makes batches of trades for a symbol set, cheaply (≈1 µs per trade).

    Prices wander within a few basis points of the world's price (refreshed once per simulated
    second per symbol); trades come in bursts of 1–6 that share one millisecond. Stocks (index
    members and a few ETFs) carry integer volumes and condition codes; exchange-prefixed crypto pairs
    (``BINANCE:BTCUSDT``, priced like the CoinGecko simulator) carry float volumes and no ``c``;
    forex pairs carry ``v`` = 0. Unknown symbols are accepted and stay silent.
    """

    def __init__(self, sandbox: Sandbox, seed_parts: tuple[Any, ...]) -> None:
        self._world = sandbox.world
        self._seed = sandbox.config.seed
        self._rng = random.Random(repr((sandbox.config.seed, *seed_parts)))
        self._base: dict[str, tuple[int, float]] = {}
        self._kinds: dict[str, tuple[int, Any]] = {}

    def kind(self, symbol: str) -> tuple[int, Any]:
        """(STOCK | CRYPTO | FX, what prices it) or (-1, None) for a symbol that never trades."""
        known = self._kinds.get(symbol)
        if known is None:
            known = self._kinds[symbol] = self._classify(symbol)
        return known

    def _classify(self, symbol: str) -> tuple[int, Any]:
        venue, _, pair = symbol.partition(":")
        if not pair:
            return (STOCK, symbol) if self._world.company(symbol) or symbol in ETFS else (-1, None)
        if venue.upper() in FX_VENUES:
            return (FX, FX_RATES[pair]) if pair in FX_RATES else (-1, None)
        base = next((pair[: -len(q)] for q in CRYPTO_QUOTES if pair.endswith(q) and len(pair) > len(q)), "")
        coins = [c for c in coingecko_universe.universe(self._seed).coins if c.symbol == base.lower()]
        return (CRYPTO, coins[0]) if coins else (-1, None)

    def _price(self, symbol: str, second: int) -> float:
        cached = self._base.get(symbol)
        if cached is None or cached[0] != second:
            kind, source = self.kind(symbol)
            if kind == STOCK:
                price = self._world.price(symbol, float(second))
            elif kind == CRYPTO:
                price = coingecko_universe.price_usd(source, float(second), self._seed)
            elif kind == FX:
                price = source * (1.0 + 0.002 * math.sin(second / 3600.0))
            else:
                price = 0.0
            cached = self._base[symbol] = (second, price)
        return cached[1]

    def batch(
        self, symbols: list[str], count: int, start_ms: int, end_ms: int, stocks_open: bool = True
    ) -> list[dict[str, Any]]:
        """``count`` trades of ``symbols`` with timestamps in [start_ms, end_ms], in time order.

        ``stocks_open=False`` (outside the US session in market-hours mode) leaves only crypto and
        forex trading.
        """
        if not symbols or count <= 0:
            return []
        rand = self._rng.random
        span = max(0, end_ms - start_ms)
        live = []
        for symbol in symbols:
            kind = self.kind(symbol)[0]
            if kind < 0 or (kind == STOCK and not stocks_open):
                continue
            base = self._price(symbol, end_ms // 1000)
            if base > 0:
                live.append((symbol, kind, base))
        if not live:
            return []
        n_symbols = len(live)
        trades: list[dict[str, Any]] = []
        append = trades.append
        made = 0
        # Burst start times, sorted, so the frame is in time order like the real feed.
        n_bursts = max(1, count // 3)
        starts = sorted(start_ms + int(rand() * (span + 1)) for _ in range(n_bursts))
        burst = 0
        while made < count:
            ts = starts[burst] if burst < n_bursts else end_ms
            burst += 1
            symbol, kind, base = live[int(rand() * n_symbols)]
            size = min(1 + int(rand() * 6), count - made)
            made += size
            if kind == STOCK:
                conditions = CONDITIONS[int(rand() * len(CONDITIONS))]
                for _ in range(size):
                    price = round(base * (1.0 + (rand() - 0.5) * 0.0008), 2)
                    append(
                        {"s": symbol, "p": price, "t": ts, "v": 1 + int(rand() ** 3 * 500), "c": conditions}
                    )
            elif kind == CRYPTO:
                digits = 2 if base >= 100 else 6
                for _ in range(size):
                    price = round(base * (1.0 + (rand() - 0.5) * 0.0006), digits)
                    append({"s": symbol, "p": price, "t": ts, "v": round(rand() ** 3 * 2 + 0.00001, 5)})
            else:
                for _ in range(size):
                    append(
                        {"s": symbol, "p": round(base * (1.0 + (rand() - 0.5) * 0.0001), 5), "t": ts, "v": 0}
                    )
        return trades


def _in_session(ts: float) -> bool:
    day = day_of(ts)
    seconds = ts - day_start(day)
    return is_trading_day(day) and SESSION_OPEN_S <= seconds < SESSION_CLOSE_S


# -- the socket ------------------------------------------------------------------------------------


def _settings_for(websocket: WebSocket, defaults: StreamSettings) -> StreamSettings:
    """Defaults overridden by query parameters of the same names (sandbox-only extension)."""
    overrides = {k: v for k, v in websocket.query_params.items() if k in StreamSettings.model_fields}
    if not overrides:
        return defaults
    return StreamSettings.model_validate({**defaults.model_dump(), **overrides})


async def _deny(websocket: WebSocket, response: Response) -> None:
    """Refuse the handshake with an HTTP reply (401 JSON like the REST API) when the server can."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(response)
    else:
        await websocket.close(code=1008)


async def _receive_loop(conn: _Connection) -> None:
    """Apply subscribe/unsubscribe messages until the client goes away."""
    websocket = conn.websocket
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            conn.client_gone = True
            return
        raw = message.get("text") or message.get("bytes") or b""
        try:
            request = orjson.loads(raw)
            kind = request.get("type")
            symbol = str(request.get("symbol") or "").strip()
        except (orjson.JSONDecodeError, AttributeError):
            kind, symbol = None, ""
        if kind == "subscribe" and symbol:
            if symbol in conn.symbols:
                continue
            if len(conn.symbols) >= conn.settings.symbol_limit:
                await _send_text(conn, orjson.dumps(TOO_MANY).decode())
                continue
            conn.symbols[symbol] = None
        elif kind == "unsubscribe" and symbol:
            conn.symbols.pop(symbol, None)
        elif kind in {"subscribe-news", "unsubscribe-news", "subscribe-pr", "unsubscribe-pr"}:
            # Premium streams: the free plan has no access [U: exact text not documented].
            await _send_text(
                conn,
                orjson.dumps({"type": "error", "msg": "You don't have access to this resource."}).decode(),
            )
        else:
            # [U] the real text for a malformed message is not documented.
            await _send_text(conn, orjson.dumps({"type": "error", "msg": "Invalid message"}).decode())


async def _send_text(conn: _Connection, text: str) -> None:
    # Two tasks write to one socket (replies to the client, the trade stream): one at a time.
    async with conn.send_lock:
        if conn.websocket.application_state == WebSocketState.CONNECTED:
            await conn.websocket.send_text(text)


async def _send_bytes(conn: _Connection, data: bytes) -> None:
    async with conn.send_lock:
        if conn.websocket.application_state == WebSocketState.CONNECTED:
            await conn.websocket.send_bytes(data)


def _garbage(params: dict[str, Any], frame: str) -> tuple[str | None, bytes | None]:
    payload = str(params.get("payload", "not_json"))
    if payload == "binary":
        return None, b"\x00\xff\xfe garbage \x81"
    if payload == "wrong_shape":
        return orjson.dumps(
            {"type": "trade", "data": {"s": "AAPL", "p": "not-a-number", "t": None}}
        ).decode(), None
    if payload == "empty":
        return "", None
    if payload == "text":
        return str(params.get("text", "garbage")), None
    return frame[: max(1, len(frame) // 2)] if frame else '{"type":"trade","data":[', None


class _Closed(Exception):
    """The stream must stop (fault disconnect or kicked by an exclusive-key rule)."""


async def _send_loop(conn: _Connection, sandbox: Sandbox, state: _State) -> None:
    """Emit trade frames at the configured rate and pings; apply WS faults before each frame."""
    settings = conn.settings
    generator = TradeGenerator(sandbox, (conn.kid, id(conn)))
    faults = sandbox.faults
    loop = asyncio.get_running_loop()
    started = loop.time()
    last_ping = started
    owed = 0.0
    last_tick = started
    last_sim_ms = int(sandbox.clock.timestamp() * 1000)
    while True:
        deadline = last_tick + settings.frame_interval_s
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(conn.kicked.wait(), timeout=max(0.0, deadline - loop.time()))
        if conn.kicked.is_set():
            raise _Closed
        now = loop.time()
        owed += (now - last_tick) * settings.rate
        last_tick = now
        sim_ms = int(sandbox.clock.timestamp() * 1000)

        frames: list[str | bytes] = []
        if now - last_ping >= settings.ping_interval_s:
            frames.append(PING)
            last_ping = now
        stocks_open = not settings.market_hours_only or _in_session(sim_ms / 1000)
        count = int(owed)
        owed -= count
        symbols = list(conn.symbols)
        if symbols and count:
            count = min(count, settings.max_frame_trades * 4)  # a slow reader must not build a backlog
            trades = generator.batch(symbols, count, min(last_sim_ms + 1, sim_ms), sim_ms, stocks_open)
            conn.sent_trades += len(trades)
            state.totals["trades"] += len(trades)
            duplicate = faults.take(NAME, ENDPOINT, ENDPOINT, conn.kid, kinds=WS_DUPLICATE)
            if duplicate is not None and duplicate.params.get("mode") == "trades":
                trades = [trade for trade in trades for _ in (0, 1)]
            chunks = [
                orjson.dumps({"type": "trade", "data": trades[i : i + settings.max_frame_trades]}).decode()
                for i in range(0, len(trades), settings.max_frame_trades)
            ]
            frames.extend(chunks)
            if duplicate is not None and duplicate.params.get("mode", "frame") == "frame":
                frames.extend(chunks)
        last_sim_ms = sim_ms

        garbage = faults.take(NAME, ENDPOINT, ENDPOINT, conn.kid, kinds=WS_GARBAGE)
        if garbage is not None:
            text, data = _garbage(
                garbage.params, frames[-1] if frames and isinstance(frames[-1], str) else ""
            )
            replace = bool(garbage.params.get("replace", False)) and frames
            junk: str | bytes = data if data is not None else (text or "")
            frames = [*frames[:-1], junk] if replace else [junk, *frames]

        disconnect = faults.take(NAME, ENDPOINT, ENDPOINT, conn.kid, kinds=WS_DISCONNECT)
        if disconnect is not None:
            conn.close_after = int(disconnect.params.get("after_messages", 0))
            conn.close_code = int(disconnect.params.get("code", 1001))
            conn.close_reason = str(disconnect.params.get("reason", ""))

        for frame in frames:
            if conn.close_after is not None:
                if conn.close_after <= 0:
                    raise _Closed
                conn.close_after -= 1
            if isinstance(frame, bytes):
                await _send_bytes(conn, frame)
            else:
                await _send_text(conn, frame)
            conn.sent_messages += 1
            state.totals["messages"] += 1
        if conn.close_after is not None and conn.close_after <= 0:
            raise _Closed


@router.websocket("")
@router.websocket("/")
async def trades(websocket: WebSocket) -> None:
    """The Finnhub trades stream (``wss://ws.finnhub.io?token=...``)."""
    sandbox = sandbox_of(websocket)
    token = websocket.query_params.get("token") or websocket.headers.get("x-finnhub-token")
    # The gate counts the connection, checks the key and applies HTTP faults to the handshake.
    call = await gate(websocket, NAME, endpoint=ENDPOINT, key=token, count_quota=False)
    if call.reply is not None:
        await _deny(websocket, call.reply)
        return
    state = _state(sandbox)
    try:
        settings = _settings_for(websocket, state.settings)
    except ValueError:
        await _deny(websocket, json_response({"error": "Invalid stream settings"}, 400))
        return
    await websocket.accept()
    conn = _Connection(websocket=websocket, kid=key_id(token), settings=settings)
    siblings = state.by_key.setdefault(conn.kid, [])
    # A sibling whose client already closed is leaving: a reconnect does not collide with it.
    if settings.exclusive_key and any(not other.client_gone for other in siblings):
        # Real behaviour: one connection per key; a second one drops both.
        for other in siblings:
            other.close_code, other.close_reason = 1008, "Too many connections for this API key"
            other.kicked.set()
        conn.kicked.set()
        conn.close_code, conn.close_reason = 1008, "Too many connections for this API key"
    siblings.append(conn)
    state.totals["connections"] += 1
    receiver = asyncio.create_task(_receive_loop(conn))
    sender = asyncio.create_task(_send_loop(conn, sandbox, state))
    try:
        done, _pending = await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            exc = task.exception()
            if exc is not None and not isinstance(exc, (_Closed, WebSocketDisconnect, OSError, RuntimeError)):
                raise exc
    finally:
        for task in (receiver, sender):
            task.cancel()
        for task in (receiver, sender):
            with contextlib.suppress(BaseException):
                await task
        siblings.remove(conn)
        if not siblings:
            state.by_key.pop(conn.kid, None)
        if websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close(code=conn.close_code, reason=conn.close_reason)


@router.get("/_settings")
def get_settings(request: Request) -> dict[str, Any]:
    """Sandbox-only: the stream defaults and live totals (connections, messages, trades)."""
    state = _state(sandbox_of(request))
    return {
        "settings": state.settings.model_dump(),
        "open_connections": sum(len(c) for c in state.by_key.values()),
        "totals": dict(state.totals),
        "connections": [
            {
                "key_id": conn.kid,
                "symbols": list(conn.symbols),
                "messages": conn.sent_messages,
                "trades": conn.sent_trades,
            }
            for conns in state.by_key.values()
            for conn in conns
        ],
    }


@router.post("/_settings")
def set_settings(body: dict[str, Any], request: Request) -> dict[str, Any]:
    """Sandbox-only: change the stream defaults for new connections (partial update)."""
    state = _state(sandbox_of(request))
    state.settings = StreamSettings.model_validate({**state.settings.model_dump(), **body})
    return get_settings(request)


@router.post("/_disconnect")
def disconnect_all(request: Request, code: int = 1001) -> dict[str, int]:
    """Sandbox-only: close every open stream now (an on-demand server drop)."""
    state = _state(sandbox_of(request))
    closed = 0
    for conns in state.by_key.values():
        for conn in conns:
            conn.close_code, conn.close_reason = code, "server restart"
            conn.kicked.set()
            closed += 1
    return {"closed": closed}


def _reset(sandbox: Sandbox) -> None:
    """Admin reset: new connections get the default stream settings again (open ones keep theirs)."""
    _state(sandbox).settings = StreamSettings()


PROVIDER = ProviderSpec(
    name=NAME,
    prefix=PREFIX,
    websocket=True,
    router=router,
    quota=(),
    on_reset=_reset,
    missing_key_reply=lambda call: json_response({"error": "Please use an API key."}, 401),
    invalid_key_reply=lambda call: json_response({"error": "Invalid API key"}, 401),
    description="Finnhub trades WebSocket (docs/providers.md §2.4): subscribe/unsubscribe, batched trades, pings, faults.",
)
