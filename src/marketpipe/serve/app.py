"""FastAPI app: what the collected and streamed data looks like to an investment assistant.

- ``GET /api/v1/stocks/sp500`` and ``/api/v1/crypto``: the latest value per symbol/market, read from
  the seed-compatible Redis hashes ``sp500_realtime_data`` / ``crypto_realtime_data``.
- ``GET /api/v1/stocks/sp500/{symbol}/candles?interval=1m``: OHLCV from the candles the sink keeps.
- ``GET /api/v1/tables`` (row counts) and ``/api/v1/runs`` (the collection run ledger).
- ``GET /api/v1/etf`` (universe, profile facts, latest streamed price), ``/api/v1/etf/{symbol}`` (with
  sector weights and holdings) and ``/api/v1/etf/{symbol}/candles``.
- ``WS /api/v1/ws/{sp500|crypto|etf}``: a snapshot on connect, then a fresh snapshot whenever the sink
  PUBLISHes on ``sp500_updates`` / ``crypto_updates`` / ``etf_updates`` (signals within 250 ms coalesce into one push),
  in the seed backend's message shape ``{"type", "data", "timestamp"}``; ``{"action": "heartbeat"}`` is
  answered with ``heartbeat_response``.
- ``GET /``: the dashboard (live prices and a candle chart); ``GET /metrics``: Prometheus.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from typing import Any, Literal

import orjson
import redis.asyncio as aioredis
from fastapi import FastAPI, HTTPException, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, generate_latest
from psycopg_pool import AsyncConnectionPool

from marketpipe.serve import routers

log = logging.getLogger(__name__)

Feed = Literal["sp500", "crypto"]


@dataclass(frozen=True)
class FeedSpec:
    hash_key: str
    channel: str
    sort_field: str


FEEDS: dict[str, FeedSpec] = {
    "sp500": FeedSpec("sp500_realtime_data", "sp500_updates", "symbol"),
    "crypto": FeedSpec("crypto_realtime_data", "crypto_updates", "symbol"),
    "etf": FeedSpec("etf_realtime_data", "etf_updates", "symbol"),
}
#: interval → (the sink's candle size it is built from, in seconds; the bucket as a SQL interval)
CANDLE_SOURCES = {
    "1m": (60, "1 minute"),
    "5m": (300, "5 minutes"),
    "15m": (300, "15 minutes"),
    "1h": (3600, "1 hour"),
    "1d": (3600, "1 day"),
}
SNAPSHOT_CAP = 1000  # the whole S&P 500 (503 lines) and every Bithumb KRW market fit
COALESCE_S = 0.25
SHUTDOWN_S = 5.0

PUSHES = Counter("marketpipe_api_ws_pushes_total", "Snapshots pushed to WebSocket clients", ["feed"])
CLIENTS = Gauge("marketpipe_api_ws_clients", "Connected WebSocket clients", ["feed"])


@dataclass
class Hub:
    """WebSocket subscribers per feed, fed by one Redis pub/sub listener per process."""

    redis: aioredis.Redis
    clients: dict[str, set[WebSocket]] = field(default_factory=lambda: {name: set() for name in FEEDS})

    async def snapshot(self, feed: str) -> list[dict[str, Any]]:
        raw = await self.redis.hgetall(FEEDS[feed].hash_key)
        rows = []
        for value in raw.values():
            try:
                rows.append(orjson.loads(value))
            except orjson.JSONDecodeError:
                continue
        rows.sort(key=lambda r: str(r.get("symbol", "")))
        return rows[:SNAPSHOT_CAP]

    async def message(self, feed: str) -> bytes:
        return orjson.dumps({"type": feed, "data": await self.snapshot(feed), "timestamp": time.time()})

    async def broadcast(self, feed: str) -> None:
        targets = list(self.clients[feed])
        if not targets:
            return
        payload = (await self.message(feed)).decode()
        for ws in targets:
            try:
                await ws.send_text(payload)
            except Exception:  # a dead socket: drop it, keep serving the others
                self.clients[feed].discard(ws)
        PUSHES.labels(feed).inc()
        CLIENTS.labels(feed).set(len(self.clients[feed]))

    async def listen(self) -> None:
        """Turn pub/sub signals into coalesced broadcasts until cancelled."""
        channels = {spec.channel: name for name, spec in FEEDS.items()}
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(*channels)
        pending: set[str] = set()
        try:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=COALESCE_S)
                if message is not None:
                    channel = message["channel"]
                    pending.add(channels[channel.decode() if isinstance(channel, bytes) else channel])
                    continue
                for feed in pending:
                    await self.broadcast(feed)
                pending.clear()
        finally:
            await pubsub.aclose()


def create_app(database_url: str, redis_url: str) -> FastAPI:
    """The API bound to one database and one Redis."""
    pool = AsyncConnectionPool(database_url, min_size=1, max_size=4, open=False)
    redis_client = aioredis.Redis.from_url(redis_url)
    hub = Hub(redis_client)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await pool.open()
        listener = asyncio.create_task(hub.listen())
        try:
            yield
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(listener), SHUTDOWN_S)
            await pool.close(timeout=SHUTDOWN_S)
            await redis_client.aclose()

    app = FastAPI(title="marketpipe live API", version="1", lifespan=lifespan)
    app.state.pool = pool
    app.state.redis = redis_client
    for router in routers.discover():
        app.include_router(router)

    async def query(sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        async with pool.connection() as conn, conn.cursor() as cur:
            await cur.execute(sql, params)
            names = [d.name for d in cur.description or []]
            return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]

    @app.get("/api/v1/health")
    async def health() -> dict[str, Any]:
        await query("SELECT 1")
        await redis_client.ping()
        return {"status": "ok"}

    @app.get("/api/v1/stocks/sp500")
    async def sp500_latest() -> dict[str, Any]:
        return {"data": await hub.snapshot("sp500")}

    @app.get("/api/v1/crypto")
    async def crypto_latest() -> dict[str, Any]:
        return {"data": await hub.snapshot("crypto")}

    def candles_route(stream: str) -> Callable[..., Awaitable[dict[str, Any]]]:
        async def candles(
            symbol: str,
            interval: str = Query("1m", pattern="^(1m|5m|15m|1h|1d)$"),
            limit: int = Query(120, ge=1, le=2000),
        ) -> dict[str, Any]:
            return await stream_candles(stream, symbol, interval, limit)

        return candles

    # The sink's candle stream per instrument family ("trades" = the S&P 500 trades kind).
    app.get("/api/v1/stocks/sp500/{symbol}/candles")(candles_route("trades"))
    app.get("/api/v1/etf/{symbol}/candles")(candles_route("etf"))

    async def stream_candles(stream: str, symbol: str, interval: str, limit: int) -> dict[str, Any]:
        # The sink keeps 1m/5m/1h candles in `trade_candles`; 15m and 1d roll up 5m and 1h ones.
        base_s, bucket = CANDLE_SOURCES[interval]
        rows = await query(
            """
            WITH c AS (
                SELECT date_bin(%(bucket)s::interval, bucket_start, 'epoch') AS bucket, bucket_start,
                       open, high, low, close, volume, trades
                  FROM trade_candles
                 WHERE stream = %(stream)s AND symbol = %(symbol)s AND interval_s = %(base)s
                   AND bucket_start > (SELECT max(bucket_start) FROM trade_candles
                                        WHERE stream = %(stream)s AND symbol = %(symbol)s
                                          AND interval_s = %(base)s) - %(bucket)s::interval * %(limit)s)
            SELECT bucket,
                   (array_agg(open ORDER BY bucket_start))[1] AS open, max(high) AS high, min(low) AS low,
                   (array_agg(close ORDER BY bucket_start DESC))[1] AS close,
                   sum(volume) AS volume, sum(trades) AS trades
              FROM c GROUP BY bucket ORDER BY bucket
            """,
            {"bucket": bucket, "stream": stream, "symbol": symbol.upper(), "base": base_s, "limit": limit},
        )
        if not rows:
            raise HTTPException(404, f"no candles for {symbol.upper()}")
        return {
            "symbol": symbol.upper(),
            "interval": interval,
            "candles": [
                {
                    "t": int(r["bucket"].timestamp() * 1000),
                    "o": float(r["open"]),
                    "h": float(r["high"]),
                    "l": float(r["low"]),
                    "c": float(r["close"]),
                    "v": float(r["volume"]),
                    "n": int(r["trades"]),
                }
                for r in rows
            ],
        }

    @app.get("/api/v1/etf")
    async def etfs() -> dict[str, Any]:
        """The ETF universe with the facts its profiles filled and the latest price streamed (the seed
        backend's /etf list)."""
        rows = await query(
            f"""SELECT {_ETF_COLUMNS}, p.updated_at AS profile_updated_at
                  FROM etf_basic_info b LEFT JOIN etf_profile_holdings p USING (symbol)
                 ORDER BY b.popularity_rank NULLS LAST, b.symbol"""
        )
        live = {item.get("symbol"): item for item in await hub.snapshot("etf")}
        return {
            "data": [
                {
                    **_plain(r),
                    "price": live.get(r["symbol"], {}).get("price"),
                    "price_timestamp": live.get(r["symbol"], {}).get("timestamp"),
                }
                for r in rows
            ]
        }

    @app.get("/api/v1/etf/{symbol}")
    async def etf(symbol: str) -> dict[str, Any]:
        """One ETF: reference facts plus its latest profile (sector weights, holdings), if collected."""
        rows = await query(
            f"""SELECT {_ETF_COLUMNS},
                       CASE WHEN p.symbol IS NULL THEN NULL ELSE jsonb_build_object(
                           'net_assets', p.net_assets, 'net_expense_ratio', p.net_expense_ratio,
                           'portfolio_turnover', p.portfolio_turnover, 'dividend_yield', p.dividend_yield,
                           'inception_date', p.inception_date, 'leveraged', p.leveraged,
                           'sectors', p.sectors, 'holdings', p.holdings, 'updated_at', p.updated_at) END AS profile
                  FROM etf_basic_info b FULL JOIN etf_profile_holdings p USING (symbol)
                 WHERE symbol = %s""",
            (symbol.upper(),),
        )
        if not rows:
            raise HTTPException(404, f"no ETF {symbol.upper()}")
        return _plain(rows[0])

    @app.get("/api/v1/tables")
    async def tables() -> dict[str, Any]:
        rows = await query(
            """SELECT relname AS table, n_live_tup AS approx_rows
                 FROM pg_stat_user_tables WHERE schemaname = 'public' ORDER BY relname"""
        )
        return {"tables": rows}

    @app.get("/api/v1/runs")
    async def runs(limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
        rows = await query(
            "SELECT * FROM collect_runs ORDER BY started_at DESC LIMIT %s",
            (limit,),
        )
        return {"runs": [{k: _jsonable(v) for k, v in r.items()} for r in rows]}

    @app.websocket("/api/v1/ws/{feed}")
    async def push(ws: WebSocket, feed: str) -> None:
        await ws.accept()
        if feed not in FEEDS:
            await ws.close(code=4404, reason=f"unknown feed {feed!r}; use one of {', '.join(FEEDS)}")
            return
        hub.clients[feed].add(ws)
        CLIENTS.labels(feed).set(len(hub.clients[feed]))
        try:
            await ws.send_text((await hub.message(feed)).decode())
            while True:
                incoming = await ws.receive_text()
                try:
                    action = orjson.loads(incoming).get("action")
                except (orjson.JSONDecodeError, AttributeError):
                    continue
                if action == "heartbeat":
                    await ws.send_text(
                        orjson.dumps({"type": "heartbeat_response", "timestamp": time.time()}).decode()
                    )
                elif action == "unsubscribe":
                    break
        except WebSocketDisconnect:
            pass
        finally:
            hub.clients[feed].discard(ws)
            CLIENTS.labels(feed).set(len(hub.clients[feed]))

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=HTMLResponse)
    async def dashboard() -> str:
        return (resources.files("marketpipe.serve") / "static" / "dashboard.html").read_text(encoding="utf-8")

    return app


_ETF_COLUMNS = """symbol, b.name, b.fund_family, b.category, b.popularity_rank, b.aum, b.expense_ratio,
                  b.dividend_yield, b.inception_date"""


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row for JSON: numbers as numbers (numeric → float), dates and times as ISO strings."""
    return {k: float(v) if isinstance(v, Decimal) else _jsonable(v) for k, v in row.items()}


def _jsonable(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    return str(value)
