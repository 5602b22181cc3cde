"""Macro series (FRED first, Alpha Vantage as fallback) with their units and dates.

Series names: ``cpi``, ``inflation``, ``federal_funds_rate`` and ``treasury_yield_<maturity>``
(``treasury_yield_2year``, ``treasury_yield_10year``, …, one per maturity collected).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from marketpipe.query import core
from marketpipe.query.core import BadInput, NotFound, Source, num
from marketpipe.query.models import MacroCatalog, MacroPoint, MacroSeries, MacroSeriesInfo

MAX_POINTS = 5000


@dataclass(frozen=True)
class _Table:
    table: str
    value: str
    name: str
    unit: str
    interval: str


_SIMPLE = {
    "cpi": _Table(
        "cpi", "cpi_value", "Consumer Price Index for All Urban Consumers", "index 1982-1984=100", "monthly"
    ),
    "inflation": _Table(
        "inflation", "inflation_rate", "Inflation, consumer prices (annual %)", "percent", "annual"
    ),
    "federal_funds_rate": _Table(
        "federal_funds_rate", "rate", "Effective Federal Funds Rate", "percent", "monthly"
    ),
}
_TREASURY = "treasury_yield_"
_SERIES_RE = re.compile(r"^[A-Za-z0-9_]{1,40}$")


async def catalog(src: Source) -> MacroCatalog:
    out = []
    for series, spec in _SIMPLE.items():
        rows = await src.rows(
            f"SELECT count(*) AS n, max(date) AS last FROM {spec.table} WHERE {spec.value} IS NOT NULL"
        )
        out.append(
            MacroSeriesInfo(
                series=series,
                name=spec.name,
                unit=spec.unit,
                interval=spec.interval,
                points=rows[0]["n"],
                last_date=rows[0]["last"],
            )
        )
    for r in await src.rows(
        """SELECT maturity, min(interval_type) AS interval, count(*) AS n, max(date) AS last
             FROM treasury_yield WHERE yield_rate IS NOT NULL GROUP BY maturity ORDER BY maturity"""
    ):
        out.append(
            MacroSeriesInfo(
                series=_TREASURY + r["maturity"],
                name=_treasury_name(r["maturity"]),
                unit="percent",
                interval=r["interval"],
                points=r["n"],
                last_date=r["last"],
            )
        )
    return MacroCatalog(series=out)


def _treasury_name(maturity: str) -> str:
    return (
        f"Market yield on U.S. Treasury securities at {maturity.replace('year', '-year')} constant maturity"
    )


async def series(
    src: Source, name: str, start: date | None = None, end: date | None = None, limit: int = 600
) -> MacroSeries:
    """Points of one series in ``[start, end]`` (the newest ``limit``), oldest first."""
    if not isinstance(name, str) or not _SERIES_RE.match(name):
        raise BadInput("invalid series: see GET /api/v1/macro for the names")
    name = name.lower()
    start, end = core.day(start, "start"), core.day(end, "end")
    limit = core.limit(limit, MAX_POINTS)
    params = {"a": start, "b": end, "n": limit}
    window = "(%(a)s::date IS NULL OR date >= %(a)s) AND (%(b)s::date IS NULL OR date <= %(b)s)"
    if name in _SIMPLE:
        spec = _SIMPLE[name]
        rows = await src.rows(
            f"""SELECT * FROM (SELECT date, {spec.value} AS value, unit AS unit_col, name AS name_col
                                 FROM {spec.table}
                                WHERE {window} ORDER BY date DESC LIMIT %(n)s) newest ORDER BY date""",
            params,
        )
        title, unit, interval = spec.name, spec.unit, spec.interval
        if rows:
            title = next((r["name_col"] for r in reversed(rows) if r["name_col"]), title)
            unit = next((r["unit_col"] for r in reversed(rows) if r["unit_col"]), unit)
    elif name.startswith(_TREASURY):
        maturity = name.removeprefix(_TREASURY)
        rows = await src.rows(
            f"""SELECT * FROM (SELECT date, yield_rate AS value, interval_type FROM treasury_yield
                  WHERE maturity = %(m)s AND {window} ORDER BY date DESC LIMIT %(n)s) newest ORDER BY date""",
            {**params, "m": maturity},
        )
        title, unit = _treasury_name(maturity), "percent"
        interval = rows[-1]["interval_type"] if rows else "monthly"
    else:
        raise NotFound(f"no macro series {name[:40]}; see GET /api/v1/macro")
    if not rows:
        raise NotFound(f"no points collected for {name}")
    return MacroSeries(
        series=name,
        name=title,
        unit=unit,
        interval=interval,
        first_date=rows[0]["date"],
        last_date=rows[-1]["date"],
        points=[MacroPoint(date=r["date"], value=num(r["value"])) for r in rows],
    )
