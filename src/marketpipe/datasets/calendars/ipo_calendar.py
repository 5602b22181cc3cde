"""Alpha Vantage IPO_CALENDAR (CSV, next ~3 months), header-driven, quota rows recognised."""

from __future__ import annotations

from datetime import timedelta

from marketpipe.engine.registry import DatasetSpec, Row, RunContext
from marketpipe.providers import alpha_vantage


def fetch(ctx: RunContext, item: str) -> list[Row]:
    request = alpha_vantage.request("IPO_CALENDAR", label="AV IPO_CALENDAR", expect="csv")
    return alpha_vantage.parse_ipo_calendar_csv(ctx.call(request).text)


DATASET = DatasetSpec(
    name="ipo_calendar",
    table="ipo_calendar",
    group="calendars",
    schedule="@monthly",
    providers=("alpha_vantage",),
    description="Upcoming IPOs with price ranges and exchange",
    key=("symbol", "ipo_date"),
    fetch={"alpha_vantage": fetch},
    touch="updated_at",
    refresh_after=timedelta(days=20),
)
