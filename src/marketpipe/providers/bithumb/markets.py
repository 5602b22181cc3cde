"""Bithumb ``/v1/market/all`` request and parser (docs/providers.md §8.1)."""

from __future__ import annotations

from typing import Any

from marketpipe.http.errors import MalformedResponse
from marketpipe.http.types import ApiRequest
from marketpipe.providers.base import clean_text, drop
from marketpipe.providers.bithumb.client import NAME


def markets_request(*, details: bool = True) -> ApiRequest:
    """Every market (KRW-, BTC-, USDT- quotes), with ``market_warning`` when ``details``
    (``isDetails=true``)."""
    return ApiRequest(
        provider=NAME,
        path="/v1/market/all",
        params={"isDetails": "true" if details else "false"},
        label="bithumb market/all",
    )


def parse_markets(body: Any) -> list[dict[str, Any]]:
    """``market_code_bithumb`` rows; a market needs its code and both names."""
    if not isinstance(body, list):
        raise MalformedResponse(NAME, "market/all reply is not a list")
    rows: list[dict[str, Any]] = []
    for market in body:
        if not isinstance(market, dict):
            drop("market entry is not an object")
            continue
        code = clean_text(market.get("market"))
        korean, english = clean_text(market.get("korean_name")), clean_text(market.get("english_name"))
        if not code or "-" not in code or not korean or not english:
            drop("market without a valid code or names")
            continue
        rows.append(
            {
                "market_code": code,
                "korean_name": korean,
                "english_name": english,
                # "NONE" is a real value here (no warning), not a null spelling.
                "market_warning": str(market["market_warning"]).strip() or None
                if market.get("market_warning") is not None
                else None,
            }
        )
    if body and not rows:
        raise MalformedResponse(NAME, "market/all reply has no usable market")
    return rows
