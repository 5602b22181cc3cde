"""Alpha Vantage economic indicators (docs/providers.md §1): CPI, INFLATION, FEDERAL_FUNDS_RATE,
TREASURY_YIELD as (envelope, points)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marketpipe.http.errors import MalformedResponse
from marketpipe.providers.alpha_vantage.client import NAME
from marketpipe.providers.base import clean_text, drop, to_date, to_decimal


def parse_economic_series(body: Any) -> tuple[dict[str, str | None], list[tuple[Any, Decimal | None]]]:
    """CPI / INFLATION / FEDERAL_FUNDS_RATE / TREASURY_YIELD → (envelope, [(date, value)]).

    The FRED missing marker ``"."`` becomes None; points without a valid date are dropped.
    """
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise MalformedResponse(NAME, "economic series: expected an object with a data list")
    envelope = {key: clean_text(body.get(key)) for key in ("name", "interval", "unit")}
    points = []
    for point in body["data"]:
        when = to_date(point.get("date")) if isinstance(point, dict) else None
        if when is None:
            drop("data point without a valid date")
            continue
        points.append((when, to_decimal(point.get("value"))))
    return envelope, points
