"""FastAPI app: what the collected and streamed data looks like to an investment assistant.

- ``GET /api/v1/stocks/sp500`` and ``/api/v1/crypto``: the latest value per symbol/market, read from
  the seed-compatible Redis hashes ``sp500_realtime_data`` / ``crypto_realtime_data``.
- ``GET /api/v1/stocks/sp500/{symbol}/candles?interval=1m``: OHLCV from the candles the sink keeps.
- ``GET /api/v1/tables`` (row counts) and ``/api/v1/runs`` (the collection run ledger).
- ``GET /api/v1/etf`` (universe, profile facts, latest streamed price), ``/api/v1/etf/{symbol}`` (with
  sector weights and holdings) and ``/api/v1/etf/{symbol}/candles``.
- ``WS /api/v1/ws/{sp500|crypto|etf}``: a snapshot on connect, then paced deltas (see
  :mod:`marketpipe.serve.push`); ``{"action": "heartbeat"}`` is answered with ``heartbeat_response``.
- ``GET /api/v1/health``: PostgreSQL, Redis and the push path's state (503 when any is down).
- ``GET /``: the dashboard (live prices and a candle chart); ``GET /metrics``: Prometheus.

Limits (all in :class:`marketpipe.serve.settings.ApiSettings`): bounded Redis and PostgreSQL pools
that wait up to ``pool_timeout_s`` for a connection and then shed the request with 503 +
``Retry-After`` (never a 500); NUL anywhere in a path or query → 400; symbols are validated; a
database error never reaches a client as text; security headers (CSP, nosniff, frame denial, no
referrer) on every HTTP response; WebSocket connects from a foreign ``Origin`` are refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import orjson
import psycopg
import redis.asyncio as aioredis
from fastapi import FastAPI, HTTPException, Path, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marketpipe.serve import routers
from marketpipe.serve.push import FEEDS, Client, Hub
from marketpipe.serve.settings import ApiSettings

log = logging.getLogger(__name__)

#: interval → (the sink's candle size it is built from, in seconds; the bucket as a SQL interval)
CANDLE_SOURCES = {
    "1m": (60, "1 minute"),
    "5m": (300, "5 minutes"),
    "15m": (300, "15 minutes"),
    "1h": (3600, "1 hour"),
    "1d": (3600, "1 day"),
}
SHUTDOWN_S = 5.0
SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.^=_-]{0,19}$"
RETRY_AFTER_S = 1

CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self' ws: wss:"
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]

SHED = Counter("marketpipe_api_shed_total", "Requests answered 503 (no connection free in time)", ["backend"])


class GuardMiddleware:
    """Pure ASGI: 400 for a NUL in the path or query; security headers on every HTTP response."""

    def __init__(self, app: ASGIApp, max_header_bytes: int = 16 * 1024) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or b""
        query = scope.get("query_string") or b""
        if "\x00" in scope.get("path", "") or b"%00" in raw_path or b"%00" in query or b"\x00" in query:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": "bad path"})
                return
            response = JSONResponse({"detail": "NUL is not allowed in a path or query"}, status_code=400)
            await response(scope, receive, self._with_headers(send))
            return
        if sum(len(k) + len(v) for k, v in scope.get("headers", [])) > self.max_header_bytes:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1009, "reason": "headers too large"})
                return
            response = JSONResponse({"detail": "request headers too large"}, status_code=431)
            await response(scope, receive, self._with_headers(send))
            return
        if scope["type"] == "http":
            await self.app(scope, receive, self._with_headers(send))
        else:
            await self.app(scope, receive, send)

    @staticmethod
    def _with_headers(send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *[(name, value) for name, value in SECURITY_HEADERS if name not in present],
                ]
            await send(message)

        return wrapped


def _unavailable(backend: str) -> JSONResponse:
    SHED.labels(backend).inc()
    return JSONResponse(
        {"detail": f"{backend} is busy or unavailable; retry shortly"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def origin_allowed(ws: WebSocket, allowed: list[str]) -> bool:
    """No Origin (not a browser), the API's own origin, or one configured in ``allowed_origins``."""
    origin = ws.headers.get("origin")
    if origin is None:
        return True
    if origin in allowed:
        return True
    host = ws.headers.get("host", "")
    parts = urlsplit(origin)
    return bool(parts.scheme in ("http", "https") and parts.netloc and parts.netloc == host)


def create_app(database_url: str, redis_url: str, settings: ApiSettings | None = None) -> FastAPI:
    """The API bound to one database (ideally a ``marketpipe_reader`` login) and one Redis."""
    cfg = settings or ApiSettings(_env_file=None)
    # Read-only transactions as a second line behind the read-only role: even the writers'
    # credentials (an external setup without MARKETPIPE_API_DATABASE_URL) cannot write through it.
    pool = AsyncConnectionPool(
        database_url,
        min_size=1,
        max_size=cfg.pg_pool_max,
        timeout=cfg.pool_timeout_s,
        open=False,
        kwargs={"options": "-c default_transaction_read_only=on", "connect_timeout": 5},
    )
    # Bounded and blocking: a request waits up to pool_timeout_s for a connection, then is shed.
    redis_client = aioredis.Redis(
        connection_pool=aioredis.BlockingConnectionPool.from_url(
            redis_url,
            max_connections=cfg.redis_max_connections,
            timeout=cfg.pool_timeout_s,
            socket_connect_timeout=2,
            socket_timeout=5,
        )
    )
    # The pub/sub listener holds one connection for ever: its own client, never competing with requests.
    listen_client = aioredis.Redis.from_url(redis_url, socket_connect_timeout=2, health_check_interval=5)
    hub = Hub(redis_client, listen_client, interval_s=cfg.push_interval_s, send_timeout_s=cfg.send_timeout_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=False)
        tasks = [asyncio.create_task(hub.listen()), asyncio.create_task(hub.pace())]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), SHUTDOWN_S)
            await pool.close(timeout=SHUTDOWN_S)
            await redis_client.aclose()
            await listen_client.aclose()

    app = FastAPI(title="marketpipe live API", version="1", lifespan=lifespan)
    app.state.pool = pool
    app.state.redis = redis_client
    app.state.hub = hub
    app.state.settings = cfg
    app.add_middleware(GuardMiddleware, max_header_bytes=cfg.max_header_bytes)
    for router in routers.discover():
        app.include_router(router)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Short and without the input echoed back (a 10 kB parameter must not come back as 10 kB).
        errors = [
            {
                "loc": [str(part)[:40] for part in e.get("loc", ())][:4],
                "msg": str(e.get("msg", "invalid"))[:120],
            }
            for e in exc.errors()[:5]
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(PoolTimeout)
    async def pg_busy(_: Request, exc: PoolTimeout) -> JSONResponse:
        return _unavailable("postgresql")

    @app.exception_handler(psycopg.OperationalError)
    async def pg_down(_: Request, exc: psycopg.OperationalError) -> JSONResponse:
        log.warning("api: PostgreSQL unavailable (%s)", type(exc).__name__)
        return _unavailable("postgresql")

    @app.exception_handler(psycopg.Error)
    async def pg_error(request: Request, exc: psycopg.Error) -> JSONResponse:
        # Never the server's text (it names tables, constraints and values): the class, in the log.
        log.error("api: %s %s failed: %s", request.method, request.url.path, type(exc).__name__)
        return JSONResponse({"detail": "database error"}, status_code=500)

    @app.exception_handler(RedisError)
    async def redis_busy(_: Request, exc: RedisError) -> JSONResponse:
        log.warning("api: Redis busy or unavailable (%s)", type(exc).__name__)
        return _unavailable("redis")

    async def query(sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        async with pool.connection() as conn, conn.cursor() as cur:
            await cur.execute(sql, params)
            names = [d.name for d in cur.description or []]
            return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]

    @app.get("/api/v1/health")
    async def health() -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(query("SELECT 1"), cfg.pool_timeout_s + 3)
            checks["postgres"] = "ok"
        except (psycopg.Error, PoolTimeout, TimeoutError) as exc:
            checks["postgres"] = f"down ({type(exc).__name__})"
        try:
            await asyncio.wait_for(redis_client.ping(), cfg.pool_timeout_s + 3)
            checks["redis"] = "ok"
        except (RedisError, OSError, TimeoutError) as exc:
            checks["redis"] = f"down ({type(exc).__name__})"
        push = hub.status()
        ok = checks["postgres"] == "ok" and checks["redis"] == "ok" and push["state"] == "connected"
        return JSONResponse(
            {"status": "ok" if ok else "degraded", **checks, "push": push}, status_code=200 if ok else 503
        )

    @app.get("/api/v1/stocks/sp500")
    async def sp500_latest() -> dict[str, Any]:
        return {"data": await hub.read_rows("sp500")}

    @app.get("/api/v1/crypto")
    async def crypto_latest() -> dict[str, Any]:
        return {"data": await hub.read_rows("crypto")}

    def candles_route(stream: str) -> Callable[..., Awaitable[dict[str, Any]]]:
        async def candles(
            symbol: str = Path(pattern=SYMBOL_PATTERN),
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
        live = {item.get("symbol"): item for item in await hub.read_rows("etf")}
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
    async def etf(symbol: str = Path(pattern=SYMBOL_PATTERN)) -> dict[str, Any]:
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
        """The run ledger. A failed run's ``message`` is the collector's exception text (it may quote
        SQL, constraint names and values), so the API shows the error class only; the details are
        in ``marketpipe runs`` and the collector's log."""
        rows = await query(
            """SELECT run_id, dataset, provider, logical_date, started_at, ended_at, status, calls,
                      rows_inserted, rows_updated, items_done, items_failed, items_pending, error_class,
                      CASE WHEN error_class IS NULL THEN message END AS message, resume_at
                 FROM collect_runs ORDER BY started_at DESC LIMIT %s""",
            (limit,),
        )
        return {"runs": [{k: _jsonable(v) for k, v in r.items()} for r in rows]}

    @app.websocket("/api/v1/ws/{feed}")
    async def push(ws: WebSocket, feed: str) -> None:
        if not origin_allowed(ws, cfg.allowed_origins):
            await ws.close(code=1008)  # before accept: the handshake is answered 403
            return
        if hub.total_clients() >= cfg.max_ws_clients:
            await ws.close(code=1013)  # "try again later"
            return
        await ws.accept()
        if feed not in FEEDS:
            await ws.close(code=4404, reason=f"unknown feed; use one of {', '.join(FEEDS)}")
            return
        mode = "snapshot" if ws.query_params.get("mode") == "snapshot" else "delta"
        client = Client(ws, feed, mode)
        try:
            await hub.add(client)
        except RedisError:
            await ws.close(code=1013, reason="feed unavailable; retry shortly")
            return
        try:
            while True:
                incoming = await ws.receive_text()
                if len(incoming) > cfg.ws_max_message_bytes:
                    continue
                try:
                    action = orjson.loads(incoming).get("action")
                except (orjson.JSONDecodeError, AttributeError):
                    continue
                if action == "heartbeat":
                    hub.reply(
                        client,
                        orjson.dumps({"type": "heartbeat_response", "timestamp": time.time()}).decode(),
                    )
                elif action == "unsubscribe":
                    break
        except (WebSocketDisconnect, RuntimeError):
            pass  # RuntimeError: the sender dropped the client and closed the socket
        finally:
            await hub.remove(client)

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
