"""Shared shape of the macro datasets: one series from FRED (first, as the seed README says) or the
same series re-served by Alpha Vantage (the seed code's source), mapped to seed-compatible rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from marketpipe.engine.registry import Item, Pipe, Row, RunContext
from marketpipe.http.types import ApiRequest
from marketpipe.providers import alpha_vantage, fred
from marketpipe.providers.alpha_vantage import economics as alpha_vantage_economics

Point = tuple[Any, Decimal | None]
RowBuilder = Callable[[str, Point, dict[str, str | None]], Row]


@dataclass(frozen=True)
class SeriesSource:
    """Where item ``item`` of a macro dataset lives at each provider."""

    fred_series: Callable[[str], str]
    av_function: str
    av_params: Callable[[str], dict[str, str]]
    fred_params: Callable[[str], dict[str, str]] = lambda item: {}


def pipes(source: SeriesSource, build: RowBuilder, fred_envelope: dict[str, str | None]) -> dict[str, Pipe]:
    """The FRED and Alpha Vantage request/parse pipelines of one macro dataset."""

    def request_fred(ctx: RunContext, item: str) -> ApiRequest:
        return fred.observations_request(source.fred_series(item), **source.fred_params(item))

    def parse_fred(body: Any, item: Item) -> list[Row]:
        return [build(item.name, point, fred_envelope) for point in fred.parse_observations(body)]

    def request_alpha_vantage(ctx: RunContext, item: str) -> ApiRequest:
        return alpha_vantage.request(source.av_function, **{**source.av_params(item), "datatype": "json"})

    def parse_alpha_vantage(body: Any, item: Item) -> list[Row]:
        envelope, points = alpha_vantage_economics.parse_economic_series(body)
        merged = {**fred_envelope, **{k: v for k, v in envelope.items() if v}}
        return [build(item.name, point, merged) for point in points]

    return {
        "fred": Pipe(request_fred, parse_fred),
        "alpha_vantage": Pipe(request_alpha_vantage, parse_alpha_vantage),
    }
