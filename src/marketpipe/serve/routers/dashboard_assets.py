"""The dashboard's script and stylesheet as files of their own (``GET /static/dashboard.js`` and
``/static/dashboard.css``), so the page needs no inline script or style and runs under
``Content-Security-Policy: default-src 'self'``. The page itself is ``GET /`` (the app)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from fastapi import APIRouter, HTTPException, Response

router = APIRouter(tags=["dashboard"], include_in_schema=False)

ASSETS = {"dashboard.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8"}


@lru_cache(maxsize=len(ASSETS))
def _read(name: str) -> bytes:
    return (resources.files("marketpipe.serve") / "static" / name).read_bytes()


@router.get("/static/{name}")
async def asset(name: str) -> Response:
    if name not in ASSETS:
        raise HTTPException(404, "no such asset")
    return Response(_read(name), media_type=ASSETS[name], headers={"Cache-Control": "no-cache"})
