"""Deterministic FRED series: catalogue, observations, unit transforms (docs/providers.md §3).

Each value is a closed-form function of (series, date) — trend + slow cycles + hashed noise — so any
window is computed without replaying history, and the same date always has the same value. Values are
rendered as strings with the series' own precision; missing observations are ``"."``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

#: Observation value: float, or None for a missing one (rendered as ".").
Value = float | None


@dataclass(frozen=True)
class FredSeries:
    """Catalogue entry of one simulated series (the subset of FRED's series metadata we serve)."""

    series_id: str
    title: str
    frequency: str  # "Monthly", "Daily", "Daily, 7-Day", "Annual"
    frequency_short: str  # "M", "D", "A"
    units: str
    units_short: str
    seasonal_adjustment: str
    seasonal_adjustment_short: str
    first: date
    decimals: int
    level: Callable[[float], float]  # years since 2000 -> value
    noise: float
    #: Publication lag in days after the period start (monthly/annual) or the day itself (daily).
    lag_days: int
    weekends: bool = False  # daily series that include weekends (DFF, target range)
    holidays_missing: bool = True  # daily market series report "." on US federal holidays
    popularity: int = 50


def _years(day: date) -> float:
    return (day.toordinal() - date(2000, 1, 1).toordinal()) / 365.25


def _noise(series_id: str, day: date) -> float:
    digest = hashlib.blake2b(f"{series_id}:{day.isoformat()}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 * 2 - 1


def _cpi(base: float, growth: float) -> Callable[[float], float]:
    return lambda y: base * math.exp(growth * y) * (1 + 0.004 * math.sin(y * 2.1))


def _rate(mean: float, swing: float, period: float, phase: float = 0.0) -> Callable[[float], float]:
    return lambda y: max(0.05, mean + swing * math.sin(2 * math.pi * y / period + phase))


def _yield(tenor_years: float) -> Callable[[float], float]:
    # A curve that is mostly upward sloping and sometimes inverts as the short end cycles.
    short = _rate(2.6, 2.3, 9.0)
    term = 0.9 * math.log1p(tenor_years) / math.log1p(30)
    return lambda y: max(0.02, short(y) * (1 - term) + (3.6 + 0.6 * math.sin(y / 3)) * term)


def _monthly(
    sid: str,
    title: str,
    units: str,
    units_short: str,
    level: Callable[[float], float],
    *,
    sa: bool = True,
    decimals: int = 3,
    noise: float = 0.0005,
    first: date = date(1947, 1, 1),
    popularity: int = 80,
) -> FredSeries:
    return FredSeries(
        sid, title, "Monthly", "M", units, units_short,
        "Seasonally Adjusted" if sa else "Not Seasonally Adjusted", "SA" if sa else "NSA",
        first, decimals, level, noise, lag_days=44, holidays_missing=False, popularity=popularity,
    )  # fmt: skip


def _daily(
    sid: str,
    title: str,
    level: Callable[[float], float],
    *,
    first: date = date(1962, 1, 2),
    weekends: bool = False,
    holidays_missing: bool = True,
    noise: float = 0.01,
    popularity: int = 70,
) -> FredSeries:
    return FredSeries(
        sid, title, "Daily, 7-Day" if weekends else "Daily", "D", "Percent", "%",
        "Not Seasonally Adjusted", "NSA", first, 2, level, noise, lag_days=1,
        weekends=weekends, holidays_missing=holidays_missing, popularity=popularity,
    )  # fmt: skip


_INDEX_UNITS = "Index 1982-1984=100"
_TREASURY = {
    "1MO": 1 / 12,
    "3MO": 0.25,
    "6MO": 0.5,
    "1": 1,
    "2": 2,
    "3": 3,
    "5": 5,
    "7": 7,
    "10": 10,
    "20": 20,
    "30": 30,
}
_TREASURY_NAMES = {"MO": "Month", "": "Year"}


def _treasury_title(code: str) -> str:
    number = code.removesuffix("MO")
    unit = "Month" if code.endswith("MO") else "Year"
    return f"Market Yield on U.S. Treasury Securities at {number}-{unit} Constant Maturity, Quoted on an Investment Basis"


def _catalogue() -> dict[str, FredSeries]:
    series = [
        _monthly("CPIAUCSL", "Consumer Price Index for All Urban Consumers: All Items in U.S. City Average",
                 _INDEX_UNITS, _INDEX_UNITS, _cpi(169.3, 0.0272), popularity=95),
        _monthly("CPIAUCNS", "Consumer Price Index for All Urban Consumers: All Items in U.S. City Average",
                 _INDEX_UNITS, _INDEX_UNITS, _cpi(168.8, 0.0272), sa=False, first=date(1913, 1, 1)),
        _monthly("CPILFESL", "Consumer Price Index for All Urban Consumers: All Items Less Food and Energy "
                 "in U.S. City Average", _INDEX_UNITS, _INDEX_UNITS, _cpi(179.3, 0.0262), first=date(1957, 1, 1)),
        _monthly("PCEPI", "Personal Consumption Expenditures: Chain-type Price Index", "Index 2017=100",
                 "Index 2017=100", _cpi(72.6, 0.0215), first=date(1959, 1, 1)),
        _monthly("PCEPILFE", "Personal Consumption Expenditures Excluding Food and Energy (Chain-Type Price Index)",
                 "Index 2017=100", "Index 2017=100", _cpi(74.1, 0.0205), first=date(1959, 1, 1)),
        _monthly("FEDFUNDS", "Federal Funds Effective Rate", "Percent", "%", _rate(2.4, 2.3, 9.0),
                 sa=False, decimals=2, noise=0.01, first=date(1954, 7, 1), popularity=90),
        _monthly("GS10", "Market Yield on U.S. Treasury Securities at 10-Year Constant Maturity, Quoted on an "
                 "Investment Basis", "Percent", "%", _yield(10), sa=False, decimals=2, noise=0.01,
                 first=date(1953, 4, 1)),
        _monthly("GS2", "Market Yield on U.S. Treasury Securities at 2-Year Constant Maturity, Quoted on an "
                 "Investment Basis", "Percent", "%", _yield(2), sa=False, decimals=2, noise=0.01,
                 first=date(1976, 6, 1)),
        FredSeries("FPCPITOTLZGUSA", "Inflation, consumer prices for the United States", "Annual", "A",
                   "Percent", "%", "Not Seasonally Adjusted", "NSA", date(1960, 1, 1), 7,
                   _rate(3.0, 1.4, 7.0, 1.0), 0.05, lag_days=500, holidays_missing=False, popularity=75),
        _daily("DFF", "Federal Funds Effective Rate", _rate(2.4, 2.3, 9.0), first=date(1954, 7, 1),
               weekends=True, holidays_missing=False, noise=0.002, popularity=85),
        _daily("DFEDTARU", "Federal Funds Target Range - Upper Limit", lambda y: math.ceil(_rate(2.4, 2.3, 9.0)(y) * 4) / 4,
               first=date(2008, 12, 16), weekends=True, holidays_missing=False, noise=0.0),
        _daily("DFEDTARL", "Federal Funds Target Range - Lower Limit",
               lambda y: max(0.0, math.ceil(_rate(2.4, 2.3, 9.0)(y) * 4) / 4 - 0.25),
               first=date(2008, 12, 16), weekends=True, holidays_missing=False, noise=0.0),
        _daily("T10YIE", "10-Year Breakeven Inflation Rate", _rate(2.2, 0.3, 6.0), first=date(2003, 1, 2)),
        _daily("T5YIE", "5-Year Breakeven Inflation Rate", _rate(2.1, 0.4, 6.0), first=date(2003, 1, 2)),
        _daily("T10Y2Y", "10-Year Treasury Constant Maturity Minus 2-Year Treasury Constant Maturity",
               lambda y: _yield(10)(y) - _yield(2)(y), first=date(1976, 6, 1)),
        _daily("T10Y3M", "10-Year Treasury Constant Maturity Minus 3-Month Treasury Constant Maturity",
               lambda y: _yield(10)(y) - _yield(0.25)(y), first=date(1982, 1, 4)),
    ]  # fmt: skip
    for code, tenor in _TREASURY.items():
        series.append(_daily(f"DGS{code}", _treasury_title(code), _yield(tenor), popularity=80))
    return {entry.series_id: entry for entry in series}


CATALOGUE: dict[str, FredSeries] = _catalogue()


@lru_cache(maxsize=256)
def us_holidays(year: int) -> frozenset[date]:
    """Fixed-date and nth-weekday US federal holidays (enough for bond-market "." gaps)."""

    def nth(month: int, weekday: int, n: int) -> date:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))

    def last(month: int, weekday: int) -> date:
        end = date(year + (month // 12), month % 12 + 1, 1) - timedelta(days=1)
        return end - timedelta(days=(end.weekday() - weekday) % 7)

    def observed(day: date) -> date:
        # A Saturday holiday is observed on Friday, a Sunday one on Monday.
        return (
            day - timedelta(days=1)
            if day.weekday() == 5
            else day + timedelta(days=1)
            if day.weekday() == 6
            else day
        )

    fixed = [date(year, 1, 1), date(year, 7, 4), date(year, 11, 11), date(year, 12, 25)]
    if year >= 2021:
        fixed.append(date(year, 6, 19))
    return frozenset({observed(day) for day in fixed}) | {
        nth(1, 0, 3),
        nth(2, 0, 3),
        last(5, 0),
        nth(9, 0, 1),
        nth(10, 0, 2),
        nth(11, 3, 4),
    }


def raw_value(series: FredSeries, day: date) -> Value:
    """The observation of ``series`` dated ``day`` (None = missing)."""
    if series.frequency_short == "D" and series.holidays_missing and day in us_holidays(day.year):
        return None
    value = series.level(_years(day)) * (1 + series.noise * _noise(series.series_id, day))
    return round(value, series.decimals)


def _period_dates(series: FredSeries, first: date, last: date) -> list[date]:
    dates: list[date] = []
    if series.frequency_short == "D":
        day = first
        while day <= last:
            if series.weekends or day.weekday() < 5:
                dates.append(day)
            day += timedelta(days=1)
    elif series.frequency_short == "M":
        year, month = first.year, first.month
        while date(year, month, 1) <= last:
            dates.append(date(year, month, 1))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    else:
        dates = [date(year, 1, 1) for year in range(first.year, last.year + 1)]
    return dates


def last_available(series: FredSeries, today: date) -> date:
    """The newest observation date published by ``today`` (monthly CPI appears mid next month)."""
    return today - timedelta(days=series.lag_days)


@lru_cache(maxsize=64)
def history(series_id: str, today: date) -> tuple[tuple[date, Value], ...]:
    """The series' full published history as of ``today``, oldest first (cached per sandbox day)."""
    series = CATALOGUE[series_id]
    return tuple(
        (day, raw_value(series, day))
        for day in _period_dates(series, series.first, last_available(series, today))
    )


# -- frequency aggregation and unit transforms -------------------------------------------------------

FREQUENCIES = {
    "d",
    "w",
    "bw",
    "m",
    "q",
    "sa",
    "a",
    "wef",
    "weth",
    "wew",
    "wetu",
    "wem",
    "wesu",
    "wesa",
    "bwew",
    "bwem",
}
_FREQ_RANK = {"D": 0, "W": 1, "M": 3, "Q": 4, "SA": 5, "A": 6}
_REQUEST_RANK = {"d": 0, "w": 1, "bw": 2, "m": 3, "q": 4, "sa": 5, "a": 6}
UNITS = ("lin", "chg", "ch1", "pch", "pc1", "pca", "cch", "cca", "log")
PERIODS_PER_YEAR = {"D": 260, "W": 52, "BW": 26, "M": 12, "Q": 4, "SA": 2, "A": 1}


def periods_per_year(frequency: str) -> int:
    """Observations per year of a requested ``frequency`` (for the annualised unit transforms)."""
    if frequency.startswith("bw"):
        return 26
    if frequency.startswith("w"):
        return 52
    return PERIODS_PER_YEAR[frequency.upper()]


def _period_key(day: date, frequency: str) -> date:
    if frequency == "m":
        return date(day.year, day.month, 1)
    if frequency == "q":
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    if frequency == "sa":
        return date(day.year, 1 if day.month <= 6 else 7, 1)
    if frequency == "a":
        return date(day.year, 1, 1)
    # Weekly variants: FRED labels a week ending Friday by its last day; we use the Friday.
    friday = day + timedelta(days=(4 - day.weekday()) % 7)
    if frequency in {"bw", "bwew", "bwem"}:
        friday += timedelta(days=7 * ((friday.toordinal() // 7) % 2))
    return friday


def can_aggregate(series: FredSeries, frequency: str) -> bool:
    """FRED only aggregates to an equal or lower frequency."""
    target = _REQUEST_RANK.get(frequency, 1 if frequency.startswith(("we", "bw")) else 0)
    return target >= _FREQ_RANK[series.frequency_short]


def aggregate(
    rows: tuple[tuple[date, Value], ...] | list[tuple[date, Value]], frequency: str, method: str
) -> list[tuple[date, Value]]:
    """Aggregate observations down to ``frequency`` with ``avg``, ``sum`` or ``eop``."""
    groups: dict[date, list[float]] = {}
    for day, value in rows:
        bucket = groups.setdefault(_period_key(day, frequency), [])
        if value is not None:
            bucket.append(value)
    out: list[tuple[date, Value]] = []
    for key in sorted(groups):
        values = groups[key]
        if not values:
            out.append((key, None))
        elif method == "sum":
            out.append((key, sum(values)))
        elif method == "eop":
            out.append((key, values[-1]))
        else:
            out.append((key, sum(values) / len(values)))
    return out


def transform(rows: list[tuple[date, Value]], units: str, periods_per_year: int) -> list[tuple[date, Value]]:
    """Apply FRED's ``units`` transform (chg, ch1, pch, pc1, pca, cch, cca, log) to ordered rows."""
    if units == "lin":
        return rows
    by_date = dict(rows)
    out: list[tuple[date, Value]] = []
    for index, (day, value) in enumerate(rows):
        previous = rows[index - 1][1] if index > 0 else None
        year_ago = by_date.get(
            date(day.year - 1, day.month, min(day.day, 28))
            if day.day > 28
            else date(day.year - 1, day.month, day.day)
        )
        result: Value = None
        if value is not None:
            if units == "log":
                result = math.log(value) if value > 0 else None
            elif units == "chg" and previous is not None:
                result = value - previous
            elif units == "ch1" and year_ago is not None:
                result = value - year_ago
            elif units == "pch" and previous:
                result = (value / previous - 1) * 100
            elif units == "pc1" and year_ago:
                result = (value / year_ago - 1) * 100
            elif units == "pca" and previous and value > 0 and previous > 0:
                result = ((value / previous) ** periods_per_year - 1) * 100
            elif units == "cch" and previous and value > 0 and previous > 0:
                result = (math.log(value) - math.log(previous)) * 100
            elif units == "cca" and previous and value > 0 and previous > 0:
                result = (math.log(value) - math.log(previous)) * 100 * periods_per_year
        out.append((day, result))
    return out


def render(value: Value, decimals: int) -> str:
    """FRED's string rendering: fixed decimals, ``"."`` when missing."""
    return "." if value is None else f"{value:.{decimals}f}"
