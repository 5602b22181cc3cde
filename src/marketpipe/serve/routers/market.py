"""Market-wide routes: movers, market news, IPO calendar."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Query, Request, Response

from marketpipe.query import market, news
from marketpipe.query.models import IpoCalendar, Movers, NewsPage
from marketpipe.serve.routers._http import DAILY, NEWS, QueryRoute, respond, source

router = APIRouter(prefix="/api/v1/market", tags=["market"], route_class=QueryRoute)


@router.get("/movers", response_model=Movers, summary="Top gainers, losers, most active (latest batch)")
async def movers(
    request: Request,
    category: Literal["top_gainers", "top_losers", "most_actively_traded"] = "top_gainers",
    limit: int = Query(20, ge=1, le=market.MAX_MOVERS),
) -> Response:
    return respond(request, await market.movers(source(request), category, limit), DAILY)


@router.get("/news", response_model=NewsPage, summary="Market news from every feed, deduplicated")
async def market_news(
    request: Request,
    limit: int = Query(20, ge=1, le=news.MAX_NEWS),
    cursor: str | None = Query(None, max_length=256),
) -> Response:
    return respond(request, await news.news(source(request), None, limit, cursor), NEWS)


@router.get("/ipos", response_model=IpoCalendar, summary="IPO calendar from a date on")
async def ipos(
    request: Request,
    from_date: date | None = None,
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, max_length=256),
) -> Response:
    return respond(request, await market.ipos(source(request), from_date, limit, cursor), DAILY)
