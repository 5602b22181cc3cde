"""The simulator of the made-up provider of providers/acme.py: one route, keys checked and metered."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from marketpipe.sandbox.core import ProviderSpec, gate
from marketpipe.sandbox.quota import per_day

router = APIRouter()


@router.get("/quotes")
async def quotes(request: Request) -> Response:
    call = await gate(request, "acme", endpoint="quotes", key=request.query_params.get("token") or None)
    if call.reply is not None:
        return call.reply
    return JSONResponse({"quotes": [{"s": "ACME", "p": 1.5}, {"s": "WILE", "p": 2.25}]})


PROVIDER = ProviderSpec(
    name="acme",
    prefix="/acme/v1",
    router=router,
    quota=(per_day(100),),
    key_format=lambda key: key.startswith("acme-"),
    description="a made-up provider (tests/engine/test_catalogue.py)",
)
