"""US Treasury constant-maturity yields, monthly, for the seed's maturities (one item each).

FRED's daily constant-maturity series (DGS2/DGS10/DGS30) aggregated by FRED to monthly averages first; Alpha Vantage TREASURY_YIELD (interval=monthly) as
fallback. A maturity that fails stays due on its own; the others are stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from marketpipe.datasets.macro.series import Point, SeriesSource, pipes
from marketpipe.engine.registry import DatasetSpec, Row, RunContext

MATURITIES = ("2year", "10year", "30year")
FRED_SERIES = {
    "3month": "DGS3MO",
    "2year": "DGS2",
    "5year": "DGS5",
    "7year": "DGS7",
    "10year": "DGS10",
    "30year": "DGS30",
}
ENVELOPE = {"unit": "percent", "interval": "monthly"}


def maturities(ctx: RunContext) -> Sequence[str]:
    return MATURITIES


def build(item: str, point: Point, envelope: dict[str, str | None]) -> Row:
    return {"date": point[0], "maturity": item, "interval_type": "monthly", "yield_rate": point[1]}


DATASET = DatasetSpec(
    name="treasury_yield",
    table="treasury_yield",
    group="macro",
    schedule="@monthly",
    providers=("fred", "alpha_vantage"),
    description="Treasury constant-maturity yields (2y, 10y, 30y), monthly",
    key=("date", "maturity", "interval_type"),
    pipeline=pipes(
        SeriesSource(
            FRED_SERIES.__getitem__,
            "TREASURY_YIELD",
            lambda item: {"interval": "monthly", "maturity": item},
            fred_params=lambda item: {"frequency": "m", "aggregation_method": "avg"},
        ),
        build,
        dict(ENVELOPE),
    ),
    items=maturities,
    touch="updated_at",
    refresh_after=timedelta(days=20),
)
