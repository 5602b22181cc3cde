"""The MCP tools. Each is a typed function over one :mod:`marketpipe.query` query: its parameters are
the tool's input schema, its pydantic return type the output schema (structured content), and every
list is bounded so a reply fits an assistant's context. A query's short refusal (bad input, nothing
collected) comes back as a tool error with that message.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable
from datetime import date
from typing import Annotated, Literal, TypeVar

import redis.asyncio as aioredis
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from marketpipe.query import QueryError, Source, crypto, macro, news, social, stocks
from marketpipe.query.models import (
    Candles,
    Earnings,
    KimchiPremium,
    MacroSeries,
    NewsPage,
    PostsPage,
    Quote,
    Statements,
    StockOverview,
)

#: Output bounds (an assistant's context is small; the HTTP API allows more).
MAX_CANDLES = 200
MAX_NEWS = 20
MAX_POINTS = 120
MAX_POSTS = 20

T = TypeVar("T")

Ticker = Annotated[str, Field(description="Stock or ETF ticker, e.g. AAPL", min_length=1, max_length=15)]


class Fundamentals(BaseModel):
    overview: StockOverview
    income: Statements | None
    balance: Statements | None
    cash_flow: Statements | None


async def _run(query: Awaitable[T]) -> T:
    try:
        return await query
    except QueryError as exc:
        raise ToolError(str(exc)) from None


def build_server(database_url: str, redis_url: str) -> MCPServer:
    """The marketpipe MCP server bound to one database (use the read-only role) and one Redis."""
    pool = AsyncConnectionPool(database_url, min_size=1, max_size=4, open=False)
    redis_client = aioredis.Redis.from_url(redis_url)
    src = Source(pool, redis_client)

    @contextlib.asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[None]:
        await pool.open()
        try:
            yield
        finally:
            await pool.close()
            await redis_client.aclose()

    server: MCPServer = MCPServer(
        name="marketpipe",
        instructions=(
            "Market data collected by marketpipe: live quotes, candles, news with per-ticker sentiment, "
            "fundamentals, earnings, macro series, social posts and the crypto kimchi premium. "
            "Every answer says how fresh it is (timestamps); lists are short and newest first."
        ),
        lifespan=lifespan,
    )

    @server.tool()
    async def quote(symbol: Ticker) -> Quote:
        """The latest streamed trade price of a stock or ETF."""
        return await _run(stocks.quote(src, symbol))

    @server.tool()
    async def candles(
        symbol: Ticker,
        interval: Literal["1m", "5m", "1h"] = "5m",
        limit: Annotated[int, Field(ge=1, le=MAX_CANDLES)] = 60,
    ) -> Candles:
        """Recent intraday OHLCV candles from the trade stream, with gaps in the stream."""
        return await _run(stocks.candles(src, symbol, interval, limit))

    @server.tool()
    async def ticker_news(
        symbol: Ticker,
        limit: Annotated[int, Field(ge=1, le=MAX_NEWS)] = 10,
        cursor: Annotated[str | None, Field(max_length=256)] = None,
    ) -> NewsPage:
        """News about a ticker from every collected feed, deduplicated, newest first, with sentiment
        per ticker (the provider's, or ours from a lexicon model when no provider scored it)."""
        return await _run(news.news(src, symbol, limit, cursor))

    @server.tool()
    async def fundamentals(symbol: Ticker, periods: Annotated[int, Field(ge=1, le=8)] = 4) -> Fundamentals:
        """Company profile, the latest overview (valuation ratios) and recent quarterly statements."""
        overview = await _run(stocks.overview(src, symbol, 5))
        kinds: dict[str, Statements | None] = {}
        for kind in ("income", "balance", "cash_flow"):
            try:
                kinds[kind] = await stocks.statements(src, symbol, kind, periods)  # type: ignore[arg-type,unused-ignore]
            except QueryError:
                kinds[kind] = None
        return Fundamentals(overview=overview, **kinds)

    @server.tool()
    async def earnings(symbol: Ticker, limit: Annotated[int, Field(ge=1, le=12)] = 8) -> Earnings:
        """Reported quarterly EPS (estimate, actual, surprise %) and the scheduled report dates."""
        return await _run(stocks.earnings(src, symbol, limit))

    @server.tool()
    async def macro_series(
        series: Annotated[
            str,
            Field(
                description="cpi, inflation, federal_funds_rate or treasury_yield_<maturity> "
                "(treasury_yield_2year, treasury_yield_10year, treasury_yield_30year)",
                max_length=40,
            ),
        ],
        start: date | None = None,
        end: date | None = None,
        limit: Annotated[int, Field(ge=1, le=MAX_POINTS)] = 24,
    ) -> MacroSeries:
        """A macro-economic series with its unit and dates (newest ``limit`` points, oldest first)."""
        return await _run(macro.series(src, series, start, end, limit))

    @server.tool()
    async def social_mentions(
        ticker: Annotated[str | None, Field(max_length=15, description="posts mentioning it")] = None,
        account: Annotated[str | None, Field(max_length=50, description="posts by this account")] = None,
        limit: Annotated[int, Field(ge=1, le=MAX_POSTS)] = 10,
    ) -> PostsPage:
        """X and Truth Social posts mentioning a ticker and/or by an account, newest first, scored."""
        return await _run(social.posts(src, account, ticker, limit))

    @server.tool()
    async def crypto_premium(
        symbol: Annotated[str, Field(description="coin symbol, e.g. BTC", min_length=1, max_length=15)],
    ) -> KimchiPremium:
        """The kimchi premium of a coin: Korean venues vs global venues in USD, with its freshness."""
        return await _run(crypto.premium(src, symbol))

    return server
