"""Upcoming earnings reports for the next 12 months: FMP first, the Alpha Vantage CSV as fallback.

A full refresh as one item: FMP answers at most 90 days per call, so its fetch walks the horizon in
90-day windows; Alpha Vantage answers the whole horizon in one CSV. Company names are always filled
where known (the seed's were always empty): from the provider, else from our own tables. Events in the
refreshed horizon that the provider no longer lists (rescheduled reports) are removed.
"""

from __future__ import annotations

from datetime import date, timedelta

import psycopg

from marketpipe.db import MergeResult
from marketpipe.engine.registry import DatasetSpec, Row, RunContext
from marketpipe.providers import alpha_vantage, fmp
from marketpipe.providers.alpha_vantage import calendars as alpha_vantage_calendars

HORIZON_DAYS = 365
FMP_WINDOW_DAYS = 90

_KNOWN_NAMES = """
SELECT symbol, company_name FROM sp500_companies WHERE company_name IS NOT NULL
UNION ALL
(SELECT DISTINCT ON (symbol) symbol, name FROM company_overview ORDER BY symbol, batch_id DESC)
"""


def _fill_names(ctx: RunContext, rows: list[Row]) -> list[Row]:
    if all(row.get("company_name") for row in rows):
        return rows
    names: dict[str, str] = {}
    for symbol, name in ctx.query(_KNOWN_NAMES):
        names.setdefault(symbol, name)
    return [{**row, "company_name": row.get("company_name") or names.get(row["symbol"])} for row in rows]


def fetch_fmp(ctx: RunContext, item: str) -> list[Row]:
    rows: list[Row] = []
    start = ctx.logical_date
    end = start + timedelta(days=HORIZON_DAYS)
    while start <= end:
        window_end = min(start + timedelta(days=FMP_WINDOW_DAYS - 1), end)
        reply = ctx.call(fmp.earnings_calendar_request(start, window_end))
        rows.extend(fmp.parse_earnings_calendar(reply.json()))
        start = window_end + timedelta(days=1)
    return _fill_names(ctx, rows)


def fetch_alpha_vantage(ctx: RunContext, item: str) -> list[Row]:
    request = alpha_vantage.request(
        "EARNINGS_CALENDAR", label="AV EARNINGS_CALENDAR 12month", expect="csv", horizon="12month"
    )
    return _fill_names(ctx, alpha_vantage_calendars.parse_earnings_calendar_csv(ctx.call(request).text))


def drop_rescheduled(
    conn: psycopg.Connection, ctx: RunContext, item: str, rows: list[Row], merged: MergeResult
) -> None:
    """Future events no longer listed within the refreshed horizon were moved or cancelled."""
    if not rows:
        return
    start: date = ctx.logical_date
    conn.execute(
        """DELETE FROM earnings_calendar
            WHERE report_date BETWEEN %s AND %s
              AND (symbol, report_date) NOT IN (SELECT * FROM unnest(%s::text[], %s::date[]))""",
        (
            start,
            max(row["report_date"] for row in rows),
            [row["symbol"] for row in rows],
            [row["report_date"] for row in rows],
        ),
    )


DATASET = DatasetSpec(
    name="earnings_calendar",
    table="earnings_calendar",
    group="calendars",
    schedule="@monthly",
    providers=("fmp", "alpha_vantage"),
    description="Earnings report dates and EPS estimates for the next 12 months, company names filled",
    key=("symbol", "report_date"),
    fetch={"fmp": fetch_fmp, "alpha_vantage": fetch_alpha_vantage},
    touch="fetched_at",
    refresh_after=timedelta(days=20),
    after_merge=drop_rescheduled,
)
