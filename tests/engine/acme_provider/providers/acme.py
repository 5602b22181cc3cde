"""A provider that does not exist (tests/engine/test_catalogue.py adds it to prove the catalogue).

This file is everything marketpipe's side of a new provider needs: its catalogue entry (base URL,
sandbox prefix, auth placement, quota windows, pool) and the probe ``marketpipe check`` sends.
"""

from __future__ import annotations

from typing import Any

from marketpipe.http.client import Auth
from marketpipe.http.types import OK, ApiRequest, Outcome, Reply, per_day
from marketpipe.providers.base import Probe, Provider, classify_status

NAME = "acme"


def classify(request: ApiRequest, reply: Reply) -> Outcome:
    return classify_status(reply) or OK


PROVIDER = Provider(
    name=NAME,
    base_url="https://api.acme.example/v1",
    sandbox_prefix="/acme/v1",
    auth=Auth(query_param="token"),
    windows=(per_day(100),),
    classify=classify,
    timeout_s=5.0,
    listing_order=99,
    pool_slots=3,
)


def parse_quotes(body: Any) -> list[dict[str, Any]]:
    return [{"symbol": str(row["s"]), "price": float(row["p"])} for row in body["quotes"]]


PROBE = Probe(
    "quotes",
    lambda _: ApiRequest(provider=NAME, path="/quotes", label="acme quotes"),
    lambda reply: parse_quotes(reply.json()),
)
