"""Effective federal funds rate, monthly (FRED FEDFUNDS; Alpha Vantage FEDERAL_FUNDS_RATE fallback)."""

from __future__ import annotations

from datetime import timedelta

from marketpipe.datasets.macro.series import Point, SeriesSource, pipes
from marketpipe.engine.registry import DatasetSpec, Row

ENVELOPE = {"name": "Effective Federal Funds Rate", "unit": "percent", "interval": "monthly"}


def build(item: str, point: Point, envelope: dict[str, str | None]) -> Row:
    return {
        "date": point[0],
        "rate": point[1],
        "interval_type": envelope.get("interval") or "monthly",
        "unit": envelope.get("unit"),
        "name": envelope.get("name"),
    }


DATASET = DatasetSpec(
    name="federal_funds_rate",
    table="federal_funds_rate",
    group="macro",
    schedule="@monthly",
    providers=("fred", "alpha_vantage"),
    description="Effective federal funds rate, monthly",
    key=("date",),
    pipeline=pipes(
        SeriesSource(lambda item: "FEDFUNDS", "FEDERAL_FUNDS_RATE", lambda item: {"interval": "monthly"}),
        build,
        dict(ENVELOPE),
    ),
    refresh_after=timedelta(days=20),
)
