"""Crypto reference routes: Bithumb markets with their CoinGecko mapping, coin details, kimchi premium.

(``GET /api/v1/crypto`` itself, the live Bithumb prices, is served by the app.)
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from marketpipe.query import crypto
from marketpipe.query.models import CoinDetails, CryptoMarkets, KimchiPremium
from marketpipe.serve.routers._http import LIVE, SLOW, QueryRoute, respond, source

router = APIRouter(prefix="/api/v1/crypto", tags=["crypto"], route_class=QueryRoute)


@router.get("/markets", response_model=CryptoMarkets, summary="Bithumb KRW markets and CoinGecko ids")
async def markets(
    request: Request,
    limit: int = Query(100, ge=1, le=500),
    cursor: str | None = Query(None, max_length=256),
) -> Response:
    return respond(request, await crypto.markets(source(request), limit, cursor), SLOW)


@router.get("/{symbol}/details", response_model=CoinDetails, summary="CoinGecko coin details")
async def details(request: Request, symbol: str) -> Response:
    return respond(request, await crypto.details(source(request), symbol), SLOW)


@router.get("/{symbol}/premium", response_model=KimchiPremium, summary="Kimchi premium with its freshness")
async def premium(request: Request, symbol: str) -> Response:
    return respond(request, await crypto.premium(source(request), symbol), LIVE)
