"""The WebSocket push path: one Redis pub/sub listener, one pacer that fans out to every client.

How a change reaches a client:

1. the sink commits a batch to PostgreSQL, updates the feed's Redis hash and PUBLISHes one signal
   (``{"count", "timestamp"}``: the commit time, ms) on the feed's channel;
2. the **listener** marks the feed dirty. It reconnects with exponential backoff (0.1 s → 5 s) when
   Redis goes away and marks every feed dirty when it is back (signals may have been missed); its
   state is in ``/api/v1/health`` and in ``marketpipe_api_push_listener_up``;
3. the **pacer** refreshes a dirty feed at most once per ``push_interval_s`` (every signal inside one
   interval coalesces into one refresh, however fast the sink signals): one ``HGETALL``, compared
   with the previous one, gives the symbols that changed; the feed's version goes up by one;
4. the pacer then **fans out** in one pass over the feed's clients: each client is owed what changed
   between the version it last received and the newest (a delta; a client that fell behind therefore
   gets the newest values, never a backlog). The message is encoded once per version per starting
   version — every in-sync client shares the same bytes — and, on the fast lane
   (:mod:`marketpipe.serve.wire`, uvicorn as ``marketpipe serve`` configures it, no compression), its
   WebSocket frame is built once and written to each socket with one ``transport.write``: no task,
   no wakeup, no per-client encoding. A socket whose buffer is above its high-water mark is skipped
   (nothing piles up behind it); when it drains it gets the newest values at once, and if it stays
   full for ``send_timeout_s`` the client is dropped; nobody else waits. Connections without the
   fast lane (another ASGI server, the test client, permessage-deflate) have a sender task each
   and a pending slot of one, with the same rules.

Message shape (the seed backend's ``{"type", "data", "timestamp"}`` plus): ``mode`` is
``"snapshot"`` (the first message, or every message for ``?mode=snapshot`` clients) or ``"delta"``
(only the rows that changed; ``removed`` lists symbols gone from the feed), ``version`` the feed
version the message brings the client to, ``committed_ms`` the sink commit time of the oldest change
in it (``receipt − committed_ms`` is the delivery lag).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis.asyncio as aioredis
from prometheus_client import Counter, Gauge
from redis.exceptions import RedisError
from starlette.websockets import WebSocket

from marketpipe.serve.wire import EXTENSION, RawSocket, text_frame

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedSpec:
    hash_key: str
    channel: str


FEEDS: dict[str, FeedSpec] = {
    "sp500": FeedSpec("sp500_realtime_data", "sp500_updates"),
    "crypto": FeedSpec("crypto_realtime_data", "crypto_updates"),
    "etf": FeedSpec("etf_realtime_data", "etf_updates"),
}
SNAPSHOT_CAP = 1000  # rows per feed at most: the whole S&P 500 (503 lines) and every Bithumb KRW market fit
FIELD_CAP = 64  # longest hash field (symbol) kept; longer ones are ignored
VALUE_CAP = 4096  # longest hash value (one row's JSON) kept; longer ones are ignored
CONTROL_CAP = 8  # queued control replies (heartbeat responses) per client
_SWEEP_S = 1.0  # how often the pacer looks for fast-lane clients stuck longer than send_timeout_s
_VERSION_MS_CAP = 512  # versions whose commit time is remembered (clients further behind get the oldest)

PUSHES = Counter("marketpipe_api_ws_pushes_total", "Messages pushed to WebSocket clients", ["feed", "mode"])
#: The fast lane's share of PUSHES: one pre-built frame written straight to the socket (serve/wire.py).
#: Equal to PUSHES under uvicorn without compression; 0 when the lane is not offered (the ASGI path).
SHARED_FRAMES = Counter(
    "marketpipe_api_ws_shared_frame_pushes_total",
    "Pushes written as one shared pre-built frame straight to the socket (fast lane)",
    ["feed"],
)
REFRESHES = Counter("marketpipe_api_ws_refreshes_total", "Feed refreshes (coalesced sink signals)", ["feed"])
CLIENTS = Gauge("marketpipe_api_ws_clients", "Connected WebSocket clients", ["feed"])
DROPPED = Counter("marketpipe_api_ws_dropped_total", "WebSocket clients dropped", ["feed", "reason"])
LISTENER_UP = Gauge(
    "marketpipe_api_push_listener_up", "1 while the Redis pub/sub listener of the push path is subscribed"
)
LISTENER_RECONNECTS = Counter(
    "marketpipe_api_push_listener_reconnects_total", "Reconnects of the push path's pub/sub listener"
)


@dataclass(eq=False)
class Encoded:
    """One message, encoded once for every client it goes to: the JSON text and its WebSocket frame."""

    body: bytes
    _frame: bytes | None = None

    @property
    def text(self) -> str:
        return self.body.decode()

    @property
    def frame(self) -> bytes:
        if self._frame is None:
            self._frame = text_frame(self.body)
        return self._frame


@dataclass
class FeedState:
    """The newest rows of one feed as last read from Redis, with the version each changed at."""

    raw: dict[str, bytes] = field(default_factory=dict)
    rows: dict[str, Any] = field(default_factory=dict)
    changed_at: dict[str, int] = field(default_factory=dict)
    removed_at: dict[str, int] = field(default_factory=dict)
    version: int = 0
    loaded: bool = False
    #: version → sink commit ms of the oldest signal folded into it
    version_ms: collections.OrderedDict[int, int] = field(default_factory=collections.OrderedDict)
    #: the messages of the newest version, by the version a client has (-1: the whole feed)
    payloads: dict[int, Encoded] = field(default_factory=dict)


@dataclass(eq=False)
class Client:
    ws: WebSocket
    feed: str
    mode: str  # "delta" or "snapshot"
    sent_version: int = -1
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    control: collections.deque[bytes] = field(default_factory=lambda: collections.deque(maxlen=CONTROL_CAP))
    task: asyncio.Task[None] | None = None
    #: the fast lane (pre-built frames written straight to the socket), when the server offers it
    raw: RawSocket | None = None

    def __post_init__(self) -> None:
        raw = self.ws.scope.get("extensions", {}).get(EXTENSION)
        if isinstance(raw, RawSocket) and raw.usable:
            self.raw = raw


class Hub:
    """WebSocket subscribers per feed, fed by one Redis pub/sub listener per process."""

    def __init__(
        self,
        redis: aioredis.Redis,
        listen_redis: aioredis.Redis,
        *,
        interval_s: float = 0.1,
        send_timeout_s: float = 10.0,
    ) -> None:
        self.redis = redis
        self.listen_redis = listen_redis
        self.interval_s = interval_s
        self.send_timeout_s = send_timeout_s
        self.clients: dict[str, set[Client]] = {name: set() for name in FEEDS}
        self.state: dict[str, FeedState] = {name: FeedState() for name in FEEDS}
        self._dirty: dict[str, int | None] = {}  # feed → oldest commit ms signalled since its last refresh
        self._signal = asyncio.Event()
        self._locks = {name: asyncio.Lock() for name in FEEDS}
        self.listener_state = "starting"
        self.listener_since = time.time()
        self.reconnects = 0
        self.last_error: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- status ----------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {
            "state": self.listener_state,
            "since": self.listener_since,
            "reconnects": self.reconnects,
            "last_error": self.last_error,
            "clients": {feed: len(c) for feed, c in self.clients.items()},
            "interval_s": self.interval_s,
        }

    def _set_listener(self, state: str, error: str | None = None) -> None:
        if state != self.listener_state:
            self.listener_state, self.listener_since = state, time.time()
        if error is not None:
            self.last_error = error
        LISTENER_UP.set(1 if state == "connected" else 0)

    # -- reading Redis -----------------------------------------------------------------------------
    async def read_rows(self, feed: str) -> list[Any]:
        """The feed's rows straight from Redis (REST reads), sorted by symbol, capped."""
        raw = await self.redis.hgetall(FEEDS[feed].hash_key)
        return [row for _, row in _parse_rows(raw).values()]

    async def refresh(self, feed: str, committed_ms: int | None = None) -> None:
        """Re-read the feed's hash (one ``HGETALL`` for all its clients); bump the version if anything
        changed. Only values whose bytes changed are parsed."""
        async with self._locks[feed]:
            raw = await self.redis.hgetall(FEEDS[feed].hash_key)
            st = self.state[feed]
            REFRESHES.labels(feed).inc()
            parsed = _parse_rows(raw, known=st.raw)
            changed = [k for k, (v, _row) in parsed.items() if st.raw.get(k) != v]
            removed = [k for k in st.raw if k not in parsed]
            st.loaded = True
            if not changed and not removed:
                return
            st.version += 1
            v = st.version
            for k in changed:
                value, row = parsed[k]
                st.raw[k], st.rows[k], st.changed_at[k] = value, row, v
                st.removed_at.pop(k, None)
            for k in removed:
                del st.raw[k], st.rows[k], st.changed_at[k]
                st.removed_at[k] = v
            while len(st.removed_at) > SNAPSHOT_CAP:
                st.removed_at.pop(next(iter(st.removed_at)))
            st.version_ms[v] = committed_ms if committed_ms is not None else int(time.time() * 1000)
            while len(st.version_ms) > _VERSION_MS_CAP:
                st.version_ms.popitem(last=False)
            st.payloads.clear()

    def encoded(self, feed: str, since: int, mode: str) -> Encoded:
        """The message bringing a client from version ``since`` to the newest, encoded once per
        version for every client at ``since`` (in-sync clients all share one)."""
        st = self.state[feed]
        full = since < 0 or mode == "snapshot"
        cache_key = -1 if full else since
        cached = st.payloads.get(cache_key)
        if cached is not None:
            return cached
        if full:
            data = [st.rows[k] for k in sorted(st.rows)]
            removed: list[str] = []
        else:
            data = [st.rows[k] for k in sorted(k for k, at in st.changed_at.items() if at > since)]
            removed = sorted(k for k, at in st.removed_at.items() if at > since)
        oldest = since + 1 if since >= 0 else st.version
        committed = st.version_ms.get(oldest)
        if committed is None and st.version_ms:
            committed = next(iter(st.version_ms.values()))
        # Small fields first: a client can read version and commit time without parsing the rows.
        message: dict[str, Any] = {
            "type": feed,
            "mode": "snapshot" if full else "delta",
            "version": st.version,
            "committed_ms": committed,
            "timestamp": time.time(),
        }
        if removed:
            message["removed"] = removed
        message["data"] = data
        out = st.payloads[cache_key] = Encoded(orjson.dumps(message))
        return out

    def payload(self, feed: str, since: int, mode: str) -> str:
        """:meth:`encoded` as text."""
        return self.encoded(feed, since, mode).text

    # -- the listener and the pacer ----------------------------------------------------------------
    async def listen(self) -> None:
        """Turn pub/sub signals into dirty feeds; reconnect with backoff for as long as the app runs."""
        channels = {spec.channel: name for name, spec in FEEDS.items()}
        backoff = 0.1
        while True:
            pubsub = self.listen_redis.pubsub()
            try:
                await pubsub.subscribe(*channels)
                if self.listener_state != "connected":
                    if self.listener_state == "reconnecting":
                        log.info("push: Redis pub/sub back after %.1f s", time.time() - self.listener_since)
                    self._set_listener("connected")
                    self._mark_all_dirty()  # signals sent while we were away are lost
                backoff = 0.1
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is None:
                        continue
                    channel = message["channel"]
                    feed = channels.get(channel.decode() if isinstance(channel, bytes) else channel)
                    if feed is not None:
                        self._mark_dirty(feed, _commit_ms(message.get("data")))
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if self.listener_state != "reconnecting":
                    log.warning("push: Redis pub/sub lost (%s); reconnecting", type(exc).__name__)
                    self.reconnects += 1
                    LISTENER_RECONNECTS.inc()
                self._set_listener("reconnecting", type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(5.0, backoff * 2)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _mark_dirty(self, feed: str, committed_ms: int | None) -> None:
        have = self._dirty.get(feed, -1)
        if have == -1 or (committed_ms is not None and (have is None or committed_ms < have)):
            self._dirty[feed] = committed_ms
        self._signal.set()

    def _mark_all_dirty(self) -> None:
        for feed in FEEDS:
            self._mark_dirty(feed, None)

    async def pace(self) -> None:
        """Refresh dirty feeds at most once per interval and push to their clients, until cancelled.

        Also, at least once a second, drops fast-lane clients whose socket has not taken data for
        ``send_timeout_s``."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_SWEEP_S):
                    await self._signal.wait()
            self._sweep()
            if not self._signal.is_set():
                continue
            self._signal.clear()
            started = time.monotonic()
            dirty, self._dirty = self._dirty, {}
            for feed, committed_ms in dirty.items():
                if not self.clients[feed]:
                    self.state[feed].loaded = False  # nobody watches: re-read on the next connect
                    continue
                try:
                    await self.refresh(feed, committed_ms)
                except RedisError as exc:
                    log.warning("push: refreshing %s failed (%s); retrying", feed, type(exc).__name__)
                    self._mark_dirty(feed, committed_ms)
                    continue
                self._fan_out(feed)
            await asyncio.sleep(max(0.0, self.interval_s - (time.monotonic() - started)))

    def _fan_out(self, feed: str) -> None:
        """Push the newest version to every client of ``feed`` that is behind it: fast-lane clients
        get the shared frame written now, the others' sender tasks are woken."""
        version = self.state[feed].version
        pushed = {"delta": 0, "snapshot": 0}
        for client in self.clients[feed]:
            if client.sent_version >= version:
                continue
            if client.raw is None:
                client.wake.set()
            else:
                mode = self._push_raw(client)
                if mode is not None:
                    pushed[mode] += 1
        for mode, n in pushed.items():
            if n:
                PUSHES.labels(feed, mode).inc(n)
                SHARED_FRAMES.labels(feed).inc(n)

    def _push_raw(self, client: Client) -> str | None:
        """Write a fast-lane client's pending control replies and the newest data if its socket has
        room; the mode pushed, or None (nothing new, or the socket is full: it gets the newest
        values when it drains, or is dropped by the sweep)."""
        raw = client.raw
        assert raw is not None
        while client.control:
            if not raw.write(client.control[0]):
                return None
            client.control.popleft()
        st = self.state[client.feed]
        version = st.version
        if client.sent_version >= version and client.sent_version >= 0:
            return None
        mode = "snapshot" if client.sent_version < 0 or client.mode == "snapshot" else "delta"
        if not raw.write(self.encoded(client.feed, client.sent_version, client.mode).frame):
            return None
        client.sent_version = version
        return mode

    def _catch_up(self, client: Client) -> None:
        """A fast-lane client's socket drained (transport resumed): send what it missed."""
        if client in self.clients[client.feed]:
            mode = self._push_raw(client)
            if mode is not None:
                PUSHES.labels(client.feed, mode).inc()
                SHARED_FRAMES.labels(client.feed).inc()

    def _sweep(self) -> None:
        now = time.monotonic()
        for feed, clients in self.clients.items():
            for client in [c for c in clients if c.raw is not None and c.raw.blocked_since is not None]:
                assert client.raw is not None and client.raw.blocked_since is not None
                if client.raw.writable():
                    client.raw.blocked_since = None
                elif now - client.raw.blocked_since >= self.send_timeout_s:
                    self._drop_slow(client, feed)

    def _drop_slow(self, client: Client, feed: str) -> None:
        DROPPED.labels(feed, "slow").inc()
        log.info("push: dropped a %s client that did not read for %.0f s", feed, self.send_timeout_s)
        self.clients[feed].discard(client)
        CLIENTS.labels(feed).set(len(self.clients[feed]))
        self._background(self._drop(client))

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- clients ------------------------------------------------------------------------------------
    async def add(self, client: Client) -> None:
        """Register ``client`` and send (fast lane) or queue (sender task) its first snapshot."""
        if not self.state[client.feed].loaded:
            await self.refresh(client.feed)
        self.clients[client.feed].add(client)
        CLIENTS.labels(client.feed).set(len(self.clients[client.feed]))
        if client.raw is not None:
            client.raw.on_writable(lambda: self._catch_up(client))
            self._catch_up(client)
            return
        client.task = asyncio.create_task(self._sender(client), name=f"ws-sender-{client.feed}")
        client.wake.set()

    async def remove(self, client: Client) -> None:
        self.clients[client.feed].discard(client)
        CLIENTS.labels(client.feed).set(len(self.clients[client.feed]))
        if client.raw is not None:
            client.raw.on_writable(None)
        if client.task is not None and client.task is not asyncio.current_task():
            client.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await client.task

    def reply(self, client: Client, text: str) -> None:
        """Queue a control reply (heartbeat response); the oldest is dropped beyond CONTROL_CAP."""
        if client.raw is not None:
            client.control.append(text_frame(text.encode()))
            self._catch_up(client)
            return
        client.control.append(text.encode())
        client.wake.set()

    def total_clients(self) -> int:
        return sum(len(c) for c in self.clients.values())

    async def _sender(self, client: Client) -> None:
        """The ASGI lane (no fast lane on this connection): the only task that writes to
        ``client.ws``, control replies first, then the newest data."""
        feed = client.feed
        try:
            while True:
                await client.wake.wait()
                client.wake.clear()
                while client.control:
                    await self._send(client, client.control.popleft().decode())
                version = self.state[feed].version
                if client.sent_version < version or client.sent_version < 0:
                    text = self.payload(feed, client.sent_version, client.mode)
                    mode = "snapshot" if client.sent_version < 0 or client.mode == "snapshot" else "delta"
                    await self._send(client, text)
                    client.sent_version = version
                    PUSHES.labels(feed, mode).inc()
        except TimeoutError:
            DROPPED.labels(feed, "slow").inc()
            log.info("push: dropped a %s client that did not read for %.0f s", feed, self.send_timeout_s)
            await self._drop(client)
        except Exception:  # the socket is gone: the endpoint's receive loop ends too
            DROPPED.labels(feed, "closed").inc()
            await self._drop(client)

    async def _send(self, client: Client, text: str) -> None:
        await asyncio.wait_for(client.ws.send_text(text), self.send_timeout_s)

    async def _drop(self, client: Client) -> None:
        self.clients[client.feed].discard(client)
        CLIENTS.labels(client.feed).set(len(self.clients[client.feed]))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.ws.close(code=1008, reason="too slow"), 1.0)
        with contextlib.suppress(Exception):
            if client.raw is not None:
                client.raw.abort()
            else:
                transport = client.ws.scope.get("transport")
                if transport is not None:
                    transport.abort()


def _parse_rows(
    raw: Mapping[Any, Any], *, known: Mapping[str, bytes] | None = None
) -> dict[str, tuple[bytes, Any]]:
    """symbol → (value, row) of a feed hash, sorted by symbol and capped; oversized or bad entries
    skipped. Values equal to ``known[symbol]`` are not parsed (their row is None)."""
    out: dict[str, tuple[bytes, Any]] = {}
    for key in sorted(raw):
        if len(out) >= SNAPSHOT_CAP:
            break
        value = raw[key]
        if len(key) > FIELD_CAP or len(value) > VALUE_CAP:
            continue
        symbol = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
        if known is not None and known.get(symbol) == value:
            out[symbol] = (value, None)
            continue
        try:
            row = orjson.loads(value)
        except orjson.JSONDecodeError:
            continue
        out[symbol] = (value, row)
    return out


def _commit_ms(data: Any) -> int | None:
    """The commit time a sink signal carries (``{"timestamp": ms}``), if it is a sane integer."""
    if not isinstance(data, bytes | str) or len(data) > 256:
        return None
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    ts = value.get("timestamp") if isinstance(value, dict) else None
    return ts if isinstance(ts, int) and 0 < ts < 10**13 else None
