"""Social routes: X and Truth Social posts by account or mentioning a ticker."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from marketpipe.query import social
from marketpipe.query.models import PostsPage
from marketpipe.serve.routers._http import NEWS, QueryRoute, respond, source

router = APIRouter(prefix="/api/v1/social", tags=["social"], route_class=QueryRoute)


@router.get("/posts", response_model=PostsPage, summary="Posts by account and/or mentioning a ticker")
async def posts(
    request: Request,
    account: str | None = Query(None, max_length=50),
    ticker: str | None = Query(None, max_length=15),
    limit: int = Query(20, ge=1, le=social.MAX_POSTS),
    cursor: str | None = Query(None, max_length=256),
) -> Response:
    return respond(request, await social.posts(source(request), account, ticker, limit, cursor), NEWS)
