"""Per-symbol routes: quote, overview, statements, earnings, news, daily and intraday bars."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from marketpipe.query import news, stocks
from marketpipe.query.core import MAX_DAILY_LIMIT
from marketpipe.query.models import (
    Candles,
    DailyBars,
    Earnings,
    NewsPage,
    Quote,
    StatementKind,
    Statements,
    StockOverview,
)
from marketpipe.serve.routers._http import DAILY, LIVE, NEWS, SLOW, QueryRoute, respond, source

router = APIRouter(prefix="/api/v1/stocks", tags=["stocks"], route_class=QueryRoute)

Symbol = Annotated[str, "ticker, e.g. AAPL"]


@router.get("/{symbol}/quote", response_model=Quote, summary="Latest streamed trade (Redis)")
async def quote(request: Request, symbol: str) -> Response:
    return respond(request, await stocks.quote(source(request), symbol), LIVE)


@router.get("/{symbol}/overview", response_model=StockOverview, summary="Profile and overview history")
async def overview(
    request: Request, symbol: str, history: int = Query(20, ge=1, le=stocks.MAX_HISTORY)
) -> Response:
    return respond(request, await stocks.overview(source(request), symbol, history), SLOW)


@router.get("/{symbol}/statements", response_model=Statements, summary="Quarterly financial statements")
async def statements(
    request: Request,
    symbol: str,
    kind: StatementKind = "income",
    limit: int = Query(8, ge=1, le=stocks.MAX_PERIODS),
) -> Response:
    return respond(request, await stocks.statements(source(request), symbol, kind, limit), SLOW)


@router.get("/{symbol}/earnings", response_model=Earnings, summary="Earnings history and calendar")
async def earnings(
    request: Request, symbol: str, limit: int = Query(12, ge=1, le=stocks.MAX_PERIODS)
) -> Response:
    return respond(request, await stocks.earnings(source(request), symbol, limit), DAILY)


@router.get("/{symbol}/news", response_model=NewsPage, summary="News from every feed, deduplicated")
async def symbol_news(
    request: Request,
    symbol: str,
    limit: int = Query(20, ge=1, le=news.MAX_NEWS),
    cursor: str | None = Query(None, max_length=256),
) -> Response:
    return respond(request, await news.news(source(request), symbol, limit, cursor), NEWS)


@router.get("/{symbol}/daily", response_model=DailyBars, summary="Daily bars with missing sessions")
async def daily(
    request: Request,
    symbol: str,
    start: date | None = None,
    end: date | None = None,
    limit: int = Query(260, ge=1, le=MAX_DAILY_LIMIT),
) -> Response:
    return respond(request, await stocks.daily(source(request), symbol, start, end, limit), DAILY)


@router.get("/{symbol}/candles", response_model=Candles, summary="Streamed intraday candles with gaps")
async def candles(
    request: Request,
    symbol: str,
    interval: str = Query("5m", pattern="^(1m|5m|1h)$"),
    limit: int = Query(120, ge=1, le=stocks.MAX_CANDLES),
) -> Response:
    return respond(request, await stocks.candles(source(request), symbol, interval, limit), LIVE)
