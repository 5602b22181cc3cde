"""Alpha Vantage IPO_CALENDAR (CSV, next ~3 months), header-driven, quota rows recognised."""

from __future__ import annotations

from datetime import timedelta

from marketpipe.engine.registry import DatasetSpec, Item, Pipe, Row, RunContext
from marketpipe.http.types import ApiRequest
from marketpipe.providers import alpha_vantage
from marketpipe.providers.alpha_vantage import calendars as alpha_vantage_calendars


def request(ctx: RunContext, item: str) -> ApiRequest:
    return alpha_vantage.request("IPO_CALENDAR", label="AV IPO_CALENDAR", expect="csv")


def parse(text: str, item: Item) -> list[Row]:
    return alpha_vantage_calendars.parse_ipo_calendar_csv(text)


DATASET = DatasetSpec(
    name="ipo_calendar",
    table="ipo_calendar",
    group="calendars",
    schedule="@monthly",
    providers=("alpha_vantage",),
    description="Upcoming IPOs with price ranges and exchange",
    key=("symbol", "ipo_date"),
    pipeline={"alpha_vantage": Pipe(request, parse)},
    touch="updated_at",
    refresh_after=timedelta(days=20),
)
