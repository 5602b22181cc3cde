"""US inflation, annual % (FRED FPCPITOTLZGUSA — the series Alpha Vantage INFLATION re-serves)."""

from __future__ import annotations

from datetime import timedelta

from marketpipe.datasets.macro.series import Point, SeriesSource, pipes
from marketpipe.engine.registry import DatasetSpec, Row

ENVELOPE = {"name": "Inflation - US Consumer Prices", "unit": "percent", "interval": "annual"}


def build(item: str, point: Point, envelope: dict[str, str | None]) -> Row:
    return {
        "date": point[0],
        "inflation_rate": point[1],
        "interval_type": envelope.get("interval") or "annual",
        "unit": envelope.get("unit"),
        "name": envelope.get("name"),
    }


DATASET = DatasetSpec(
    name="inflation",
    table="inflation",
    group="macro",
    # Annual data that lands months after year-end: monthly checks cost one call each.
    schedule="@monthly",
    providers=("fred", "alpha_vantage"),
    description="US consumer price inflation, annual percent",
    key=("date",),
    pipeline=pipes(
        SeriesSource(lambda item: "FPCPITOTLZGUSA", "INFLATION", lambda item: {}), build, dict(ENVELOPE)
    ),
    refresh_after=timedelta(days=20),
)
