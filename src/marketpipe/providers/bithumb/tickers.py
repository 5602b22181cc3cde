"""Bithumb ``/v1/ticker`` request and parser (docs/providers.md §8.1): the live ticker of many
markets in one call (``markets=KRW-BTC,KRW-ETH,...``), as the streaming producer polls it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from marketpipe.http.errors import MalformedResponse
from marketpipe.http.types import ApiRequest
from marketpipe.providers.bithumb.client import NAME

#: Bithumb's ``trade_timestamp`` is KST wall time encoded as UTC: 9 h ahead (docs/providers.md §8.1 quirk).
KST_SKEW_MS = 32_400_000

#: Statuses with which ``/v1/ticker`` refuses a ``markets=`` list as too long (the caller halves it).
TOO_LARGE_STATUSES = frozenset({400, 413, 414})


def tickers_request(markets: Sequence[str]) -> ApiRequest:
    """``GET /v1/ticker?markets=<code>,<code>,...``."""
    return ApiRequest(
        provider=NAME,
        path="/v1/ticker",
        params={"markets": ",".join(markets)},
        label=f"bithumb ticker ({len(markets)} markets)",
    )


def parse_tickers(text: str) -> list[dict[str, Any]]:
    """A ``/v1/ticker`` body → ticker dicts with Decimal numbers (raises :class:`MalformedResponse`).

    Takes the body text, not decoded JSON: floats would lose Bithumb's long tails
    (``1.76373410121466379999997512``)."""
    try:
        data = json.loads(text, parse_float=Decimal)
    except ValueError:
        raise MalformedResponse(NAME, f"ticker body is not JSON: {text[:80]!r}") from None
    if not isinstance(data, list):
        raise MalformedResponse(NAME, f"ticker body is not a list: {str(data)[:120]!r}")
    tickers = []
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("market"), str):
            raise MalformedResponse(NAME, f"ticker item without a market: {str(item)[:120]!r}")
        if not isinstance(item.get("timestamp"), int):
            raise MalformedResponse(NAME, f"ticker {item['market']} without an integer timestamp")
        tickers.append(item)
    return tickers


def corrected_trade_timestamp(ticker: dict[str, Any]) -> int | None:
    """``trade_timestamp`` in true epoch ms: minus 9 h when it is more than 1 h ahead of ``timestamp``."""
    trade_ts, snapshot_ts = ticker.get("trade_timestamp"), ticker.get("timestamp")
    if not isinstance(trade_ts, int):
        return None
    if isinstance(snapshot_ts, int) and trade_ts - snapshot_ts > 3_600_000:
        return trade_ts - KST_SKEW_MS
    return trade_ts
