"""Macro routes: the series catalog and one series with its unit and dates."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Query, Request, Response

from marketpipe.query import macro
from marketpipe.query.models import MacroCatalog, MacroSeries
from marketpipe.serve.routers._http import SLOW, QueryRoute, respond, source

router = APIRouter(prefix="/api/v1/macro", tags=["macro"], route_class=QueryRoute)


@router.get("", response_model=MacroCatalog, summary="Every macro series collected")
async def catalog(request: Request) -> Response:
    return respond(request, await macro.catalog(source(request)), SLOW)


@router.get("/{series}", response_model=MacroSeries, summary="One macro series (oldest first)")
async def series(
    request: Request,
    series: str,
    start: date | None = None,
    end: date | None = None,
    limit: int = Query(600, ge=1, le=macro.MAX_POINTS),
) -> Response:
    return respond(request, await macro.series(source(request), series, start, end, limit), SLOW)
