"""What the query routers share (no ``router`` here, so this module is not mounted).

- :class:`QueryRoute`: every failure a client causes is a 4xx with a short JSON ``detail`` — bad
  input 400 (from :class:`marketpipe.query.BadInput`) or 422 (a parameter of the wrong type or out of
  bounds), unknown symbol/series 404 — and never echoes the input back.
- :func:`respond`: the JSON body with an ``ETag`` (a digest of the body) and ``Cache-Control``;
  ``If-None-Match`` with the current tag answers 304 without a body.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from marketpipe.query import BadInput, NotFound, Source
from marketpipe.serve import deps

MAX_DETAIL = 160
#: Cache lifetimes (seconds) by how fast the data moves.
SLOW = 3600  # fundamentals, statements, macro, mappings: collected daily or less often
DAILY = 300  # daily bars, earnings, calendars
NEWS = 60
LIVE = 0  # quotes, candles, premium freshness: always revalidate


def _short(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body"))
    message = str(first.get("msg", "invalid value"))
    return f"invalid {where or 'request'}: {message}"[:MAX_DETAIL]


class QueryRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return JSONResponse({"detail": _short(exc)}, status_code=422)
            except BadInput as exc:
                return JSONResponse({"detail": str(exc)[:MAX_DETAIL]}, status_code=400)
            except NotFound as exc:
                return JSONResponse({"detail": str(exc)[:MAX_DETAIL]}, status_code=404)

        return route


def source(request: Request) -> Source:
    return Source(deps.pool(request), deps.redis_client(request))


def respond(request: Request, model: BaseModel, max_age: int) -> Response:
    body = model.model_dump_json(by_alias=True).encode()
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={max_age}" if max_age else "no-cache",
    }
    if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
