"""Finnhub trades WebSocket client: frame parsing, subscriptions, reconnects.

Wire contract (docs/providers.md §2.4): connect to ``<ws base>?token=<key>``, send
``{"type":"subscribe","symbol":"AAPL"}`` per symbol, receive ``{"type":"trade","data":[{s,p,t,v,c}]}``
batches, ``{"type":"ping"}`` heartbeats and ``{"type":"error","msg":...}`` replies (notably
"Subscribing to too many symbols" past the ≈50-symbol free-tier cap).

Behaviour:
- subscriptions are paced by a token bucket (a rate, not a sleep per symbol) and capped at
  ``max_symbols`` per connection; a cap reply from the server is counted and logged, never fatal;
- the symbol set can change while connected (:meth:`TradeStream.set_symbols`): only the diff is
  (un)subscribed; after a reconnect the whole current set is subscribed again;
- protocol-level pings are answered by the websockets library; ``{"type":"ping"}`` frames count as
  heartbeats; silence longer than ``idle_timeout`` is treated as a dead connection;
- disconnects and failed connects retry with exponential backoff and jitter, reset after a healthy frame;
- a frame that is not valid JSON or not a known message is a :class:`GarbageFrame` error: counted,
  logged (truncated) and skipped; a trade with bad fields is dropped alone (``bad_records``);
- exact duplicate trades (same symbol, price, time, volume, conditions) seen again in a *later* frame
  within ``dedupe_window_s`` are dropped: that is what a replayed frame looks like. Identical prints
  inside one frame are kept — Finnhub batches distinct trades that can look the same.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from marketpipe.redaction import RedactingFilter, redact_url
from marketpipe.redaction import redact as scrub
from marketpipe.stream.producers.pacing import RECONNECT_FLOOR, Backoff, TokenBucket, wait_or_stop
from marketpipe.stream.producers.sharding import normalise_symbol
from marketpipe.stream.producers.stats import ProducerStats, logfmt

log = logging.getLogger(__name__)

#: The free-tier symbol cap per connection (measured ≈50; docs/providers.md §2.4).
FINNHUB_SYMBOL_CAP = 50
TOO_MANY_SYMBOLS = "too many symbols"
#: Trade times before this are not milliseconds (2001-09-09 in ms) — a seconds/ms mix-up.
_MIN_PLAUSIBLE_MS = 1_000_000_000_000


class FrameError(ValueError):
    """A WebSocket frame that cannot be used."""


class GarbageFrame(FrameError):
    """Not JSON, not an object, or an unknown message type."""


class BadTrade(FrameError):
    """A trade item with a missing or invalid field."""


class FinnhubConnectError(ConnectionError):
    """Connecting to the Finnhub WebSocket failed (the message never contains the token)."""


@dataclass(frozen=True, slots=True)
class Trade:
    """One normalised trade print."""

    symbol: str
    price: float
    volume: float
    timestamp_ms: int
    conditions: tuple[str, ...]

    @property
    def identity(self) -> tuple[str, float, int, float, tuple[str, ...]]:
        """Everything that makes two prints indistinguishable (used for duplicate detection)."""
        return (self.symbol, self.price, self.timestamp_ms, self.volume, self.conditions)


@dataclass(frozen=True)
class TradesFrame:
    trades: list[Trade]
    bad: list[BadTrade]


@dataclass(frozen=True)
class PingFrame:
    pass


@dataclass(frozen=True)
class ErrorFrame:
    message: str

    @property
    def is_symbol_cap(self) -> bool:
        return TOO_MANY_SYMBOLS in self.message.lower()


Frame = TradesFrame | PingFrame | ErrorFrame


_NUMBER_TYPES = (float, int)


def parse_trade(item: Any) -> Trade:
    """One element of a trade frame's ``data`` array → :class:`Trade` (raises :class:`BadTrade`)."""
    # Hot path (every trade): exact type() checks (they also reject bool) and no per-field calls.
    if type(item) is dict:
        get = item.get
        symbol: Any = get("s")
        price: Any = get("p")
        volume: Any = get("v")
        stamp: Any = get("t")
        raw_conditions: Any = get("c")
        if (
            type(symbol) is str
            and type(price) in _NUMBER_TYPES
            and type(volume) in _NUMBER_TYPES
            and type(stamp) is int
            and 0 <= price < math.inf
            and 0 <= volume < math.inf
            and stamp >= _MIN_PLAUSIBLE_MS
            and symbol.strip()
        ):
            if raw_conditions is None:  # absent/null for crypto venues
                conditions: tuple[str, ...] = ()
            elif type(raw_conditions) is list:
                conditions = tuple(c if type(c) is str else str(c) for c in raw_conditions)
            else:
                raise BadTrade(f"trade conditions are not a list: {raw_conditions!r}"[:200])
            return Trade(normalise_symbol(symbol), float(price), float(volume), stamp, conditions)
    raise _explain_bad_trade(item)


def _explain_bad_trade(item: Any) -> BadTrade:
    """Why ``item`` failed :func:`parse_trade` (slow path, for the log)."""
    if not isinstance(item, dict):
        return BadTrade(f"trade item is not an object: {item!r}"[:200])
    symbol = item.get("s")
    if not isinstance(symbol, str) or not symbol.strip():
        return BadTrade(f"trade has no symbol: {item!r}"[:200])
    for field in ("p", "v"):
        value: Any = item.get(field)
        if type(value) not in _NUMBER_TYPES or not 0 <= value < math.inf:
            return BadTrade(f"trade field {field!r} is not a non-negative number: {value!r}"[:200])
    return BadTrade(f"trade time is not epoch milliseconds: {item.get('t')!r}"[:200])


def parse_frame(raw: str | bytes) -> Frame:
    """A server frame → typed frame. Raises :class:`GarbageFrame` for anything unusable."""
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise GarbageFrame(f"frame is not JSON: {raw[:80]!r}") from None
    if not isinstance(message, dict):
        raise GarbageFrame(f"frame is not a JSON object: {str(message)[:80]!r}")
    kind = message.get("type")
    if kind == "trade":
        data = message.get("data")
        if not isinstance(data, list):
            raise GarbageFrame("trade frame without a data array")
        trades: list[Trade] = []
        bad: list[BadTrade] = []
        for item in data:
            try:
                trades.append(parse_trade(item))
            except BadTrade as exc:
                bad.append(exc)
        return TradesFrame(trades, bad)
    if kind == "ping":
        return PingFrame()
    if kind == "error":
        return ErrorFrame(str(message.get("msg", "")))
    raise GarbageFrame(f"unknown frame type {kind!r}"[:120])


class RecentTrades:
    """Trades seen in earlier frames within a time window, to drop replayed frames."""

    def __init__(
        self, window_s: float = 5.0, max_entries: int = 200_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window_s = window_s
        self.max_entries = max_entries
        self._clock = clock
        self._seen: OrderedDict[tuple[Any, ...], float] = OrderedDict()

    def filter_frame(self, trades: list[Trade]) -> tuple[list[Trade], int]:
        """Keep trades not seen in an earlier frame; remember this frame's trades. Returns (kept, dropped)."""
        now = self._clock()
        while self._seen:
            _key, seen_at = next(iter(self._seen.items()))
            if now - seen_at <= self.window_s and len(self._seen) <= self.max_entries:
                break
            self._seen.popitem(last=False)
        kept = [t for t in trades if t.identity not in self._seen]
        for trade in trades:
            self._seen[trade.identity] = now
            self._seen.move_to_end(trade.identity)
        return kept, len(trades) - len(kept)


def ws_url(base: str, token: str | None) -> str:
    """The WebSocket URL with the token in the query (as Finnhub requires)."""
    if not token:
        return base
    return f"{base}{'&' if '?' in base else '?'}{urlencode({'token': token})}"


class TradeStream:
    """One Finnhub WebSocket connection that keeps a symbol set subscribed and yields trades.

    ``on_trades`` is called on the event loop with each frame's new trades; it must not block
    (the Kafka publisher only queues).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        symbols: Iterable[str],
        on_trades: Callable[[list[Trade]], None],
        stats: ProducerStats,
        *,
        max_symbols: int = FINNHUB_SYMBOL_CAP,
        subscribe_rate: float = 20.0,
        subscribe_burst: int = 10,
        idle_timeout: float = 30.0,
        open_timeout: float = 10.0,
        backoff: Backoff | None = None,
        dedupe_window_s: float = 5.0,
        on_gap: Callable[[float, float | None, list[str], str], None] | None = None,
    ) -> None:
        self._url = ws_url(base_url, token)
        self._secrets = [token] if token else []
        self.safe_url = redact_url(self._url)
        self._desired: list[str] = sorted({normalise_symbol(s) for s in symbols})
        self.on_trades = on_trades
        self.stats = stats
        self.max_symbols = max_symbols
        self._bucket = TokenBucket(subscribe_rate, subscribe_burst)
        self.idle_timeout = idle_timeout
        self.open_timeout = open_timeout
        self.backoff = backoff or Backoff(floor=RECONNECT_FLOOR)
        self._recent = RecentTrades(dedupe_window_s)
        self._changed = asyncio.Event()
        #: Symbols subscribed on the current connection (empty while disconnected).
        self.subscribed: set[str] = set()
        self.connections = 0
        self.cap_replies = 0
        #: Connection gaps (stream_gaps): on_gap(from_s, to_s or None, symbols, reason) once resubscribed.
        self.on_gap = on_gap
        self._last_frame_s: float | None = None
        self._lost: tuple[float, list[str], str] | None = None
        # The websockets library logs the request path (with ?token=) at debug level: scrub it.
        self._ws_log = logging.getLogger(f"{__name__}.websockets")
        if not any(isinstance(f, RedactingFilter) for f in self._ws_log.filters):
            self._ws_log.addFilter(RedactingFilter(self._secrets))

    # -- symbol set ---------------------------------------------------------------------------
    @property
    def symbols(self) -> list[str]:
        """The symbols this stream should be subscribed to."""
        return list(self._desired)

    def set_symbols(self, symbols: Iterable[str]) -> None:
        """Replace the symbol set; a live connection (un)subscribes the difference."""
        self._desired = sorted({normalise_symbol(s) for s in symbols})
        self._changed.set()

    # -- main loop ----------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Connect, subscribe and read until ``stop`` is set, reconnecting on any failure."""
        while not stop.is_set():
            try:
                await self._connect_and_read(stop)
            except (OSError, TimeoutError, WebSocketException, FinnhubConnectError) as exc:
                self.stats.add("connection_errors")
                self._mark_lost(type(exc).__name__)
                log.warning(
                    logfmt(
                        {
                            "event": "finnhub.connection_lost",
                            "url": self.safe_url,
                            "error": f"{type(exc).__name__}: {scrub(str(exc), self._secrets)}"[:300],
                        }
                    )
                )
            finally:
                self.subscribed = set()
            if stop.is_set():
                break
            delay = self.backoff.next_delay()
            self.stats.add("reconnects")
            log.info(
                logfmt(
                    {
                        "event": "finnhub.reconnect_wait",
                        "delay_s": round(delay, 2),
                        "attempt": self.backoff.attempt,
                    }
                )
            )
            await wait_or_stop(stop, delay)
        if self._lost is not None and self.on_gap is not None:  # stopped while disconnected: open gap
            self.on_gap(self._lost[0], None, self._lost[1], self._lost[2])
            self._lost = None

    def _mark_lost(self, reason: str) -> None:
        if self._lost is None and (self.subscribed or self._last_frame_s is not None):
            since = self._last_frame_s if self._last_frame_s is not None else time.time()
            self._lost = (since, sorted(self.subscribed or self._desired), reason)

    async def _connect_and_read(self, stop: asyncio.Event) -> None:
        try:
            ws = await connect(
                self._url,
                proxy=None,
                open_timeout=self.open_timeout,
                logger=self._ws_log,
                ping_interval=20,
                ping_timeout=20,
                close_timeout=2,
                max_queue=256,
            )
        except (OSError, TimeoutError, WebSocketException) as exc:
            # Exceptions from the handshake can quote the URL: re-raise a scrubbed, typed error.
            raise FinnhubConnectError(
                f"connect to {self.safe_url} failed: {type(exc).__name__}: {scrub(str(exc), self._secrets)}"
            ) from None
        self.connections += 1
        log.info(
            logfmt(
                {
                    "event": "finnhub.connected",
                    "url": self.safe_url,
                    "connection": self.connections,
                    "symbols": len(self._desired),
                }
            )
        )
        subscriber = asyncio.create_task(self._keep_subscribed(ws), name="finnhub-subscriber")
        stopper = asyncio.create_task(stop.wait(), name="finnhub-stop")
        reader = asyncio.create_task(self._read(ws), name="finnhub-reader")
        try:
            done, _ = await asyncio.wait({subscriber, reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopper and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            for task in (subscriber, reader, stopper):
                task.cancel()
            # Closing the socket also ends a recv() that raced with the cancellation.
            await ws.close()
            await asyncio.gather(subscriber, reader, stopper, return_exceptions=True)

    async def _read(self, ws: ClientConnection) -> None:
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
            # that arrives as recv() completes, and the reader would then run forever.
            try:
                async with asyncio.timeout(self.idle_timeout):
                    raw = await ws.recv()
            except TimeoutError:
                raise FinnhubConnectError(
                    f"no frame for {self.idle_timeout:.0f}s (not even a ping)"
                ) from None
            self._handle(raw)

    def _handle(self, raw: str | bytes) -> None:
        self._last_frame_s = time.time()
        try:
            frame = parse_frame(raw)
        except GarbageFrame as exc:
            self.stats.add("garbage")
            log.warning(
                logfmt(
                    {"event": "finnhub.garbage_frame", "error": str(exc), "total": self.stats.get("garbage")}
                )
            )
            return
        self.backoff.reset()  # a well-formed frame proves the connection healthy
        if isinstance(frame, PingFrame):
            self.stats.add("pings")
        elif isinstance(frame, ErrorFrame):
            self._on_error(frame)
        else:
            if frame.bad:
                self.stats.add("bad_records", len(frame.bad))
                log.warning(
                    logfmt(
                        {"event": "finnhub.bad_trade", "count": len(frame.bad), "first": str(frame.bad[0])}
                    )
                )
            kept, dropped = self._recent.filter_frame(frame.trades)
            self.stats.add("received", len(frame.trades))
            if dropped:
                self.stats.add("duplicates", dropped)
            if kept:
                self.on_trades(kept)

    def _on_error(self, frame: ErrorFrame) -> None:
        if frame.is_symbol_cap:
            self.cap_replies += 1
            self.stats.add("subscription_rejected")
            log.error(
                logfmt(
                    {
                        "event": "finnhub.symbol_cap",
                        "msg": frame.message[:200],
                        "subscribed": len(self.subscribed),
                        "wanted": len(self._desired),
                        "hint": "more shards or keys needed",
                    }
                )
            )
        else:
            self.stats.add("provider_errors")
            log.error(
                logfmt({"event": "finnhub.error_reply", "msg": scrub(frame.message, self._secrets)[:200]})
            )

    async def _keep_subscribed(self, ws: ClientConnection) -> None:
        """Subscribe the desired set (paced, capped); then follow changes to it."""
        while True:
            self._changed.clear()
            desired = self._desired
            wanted = set(desired)
            for symbol in sorted(self.subscribed - wanted):  # unsubscribe first: it frees slots
                await self._bucket.take()
                await ws.send(orjson.dumps({"type": "unsubscribe", "symbol": symbol}).decode())
                self.subscribed.discard(symbol)
            unserved = 0
            for symbol in desired:
                if symbol in self.subscribed:
                    continue
                if len(self.subscribed) >= self.max_symbols:
                    unserved += 1
                    continue
                await self._bucket.take()
                await ws.send(orjson.dumps({"type": "subscribe", "symbol": symbol}).decode())
                self.subscribed.add(symbol)
                self.stats.add("subscribes")
            if unserved:
                log.error(
                    logfmt(
                        {
                            "event": "finnhub.unserved_symbols",
                            "unserved": unserved,
                            "cap": self.max_symbols,
                            "hint": "raise --shards or add keys",
                        }
                    )
                )
            log.info(logfmt({"event": "finnhub.subscribed", "symbols": len(self.subscribed)}))
            if self._lost is not None and self.on_gap is not None:
                self.on_gap(self._lost[0], time.time(), self._lost[1], self._lost[2])
            self._lost = None
            await self._changed.wait()
