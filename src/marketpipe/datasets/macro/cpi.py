"""US CPI, monthly (FRED CPIAUCSL; Alpha Vantage CPI as fallback). Full history, merged by date."""

from __future__ import annotations

from datetime import timedelta

from marketpipe.datasets.macro.series import Point, SeriesSource, pipes
from marketpipe.engine.registry import DatasetSpec, Row

ENVELOPE = {
    "name": "Consumer Price Index for all Urban Consumers",
    "unit": "index 1982-1984=100",
    "interval": "monthly",
}


def build(item: str, point: Point, envelope: dict[str, str | None]) -> Row:
    return {
        "date": point[0],
        "cpi_value": point[1],
        "interval_type": envelope.get("interval") or "monthly",
        "unit": envelope.get("unit"),
        "name": envelope.get("name"),
    }


DATASET = DatasetSpec(
    name="cpi",
    table="cpi",
    group="macro",
    schedule="@monthly",
    providers=("fred", "alpha_vantage"),
    description="Consumer Price Index for all urban consumers, monthly",
    key=("date",),
    pipeline=pipes(
        SeriesSource(lambda item: "CPIAUCSL", "CPI", lambda item: {"interval": "monthly"}),
        build,
        dict(ENVELOPE),
    ),
    refresh_after=timedelta(days=20),
)
