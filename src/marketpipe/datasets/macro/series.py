"""Shared shape of the macro datasets: one series from FRED (first, as the seed README says) or the
same series re-served by Alpha Vantage (the seed code's source), mapped to seed-compatible rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from marketpipe.engine.registry import FetchFn, Row, RunContext
from marketpipe.providers import alpha_vantage, fred

Point = tuple[Any, Decimal | None]
RowBuilder = Callable[[str, Point, dict[str, str | None]], Row]


@dataclass(frozen=True)
class SeriesSource:
    """Where item ``item`` of a macro dataset lives at each provider."""

    fred_series: Callable[[str], str]
    av_function: str
    av_params: Callable[[str], dict[str, str]]
    fred_params: Callable[[str], dict[str, str]] = lambda item: {}


def fetchers(
    source: SeriesSource, build: RowBuilder, fred_envelope: dict[str, str | None]
) -> dict[str, FetchFn]:
    """The FRED and Alpha Vantage fetch functions of one macro dataset."""

    def fetch_fred(ctx: RunContext, item: str) -> list[Row]:
        reply = ctx.call(fred.observations_request(source.fred_series(item), **source.fred_params(item)))
        return [build(item, point, fred_envelope) for point in fred.parse_observations(reply.json())]

    def fetch_alpha_vantage(ctx: RunContext, item: str) -> list[Row]:
        params = {**source.av_params(item), "datatype": "json"}
        reply = ctx.call(alpha_vantage.request(source.av_function, **params))
        envelope, points = alpha_vantage.parse_economic_series(reply.json())
        merged = {**fred_envelope, **{k: v for k, v in envelope.items() if v}}
        return [build(item, point, merged) for point in points]

    return {"fred": fetch_fred, "alpha_vantage": fetch_alpha_vantage}
