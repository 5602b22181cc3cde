"""Gaps in a bar series: where a bar was expected and none is stored.

- **Daily bars**: every NYSE session (``exchange_calendars`` XNYS: weekends, holidays) in the asked
  range without a bar in ``daily_prices``.
- **Streamed candles**: a hole between two consecutive candles longer than one interval, when both
  sides of the hole are on the same NYSE session day (a hole across the close or a weekend is the market
  being shut, not a gap).

Both are computed from the bars the query already read, so they cost no extra query. The time-series
work records stream gaps as they happen (``marketpipe.timeseries.gaps.gaps_between``); once that is
on main, :func:`intraday_gaps` is the one place to ask it instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Any

from marketpipe.query.core import Source
from marketpipe.query.models import Gap


@lru_cache(maxsize=8)
def _calendar(first_year: int, last_year: int) -> Any:
    import exchange_calendars  # pandas-heavy: imported on first use

    return exchange_calendars.get_calendar("XNYS", start=f"{first_year}-01-01", end=f"{last_year}-12-31")


def sessions(start: date, end: date) -> list[date]:
    """NYSE sessions in ``[start, end]`` (both inclusive; the calendar covers 1990 … next year)."""
    start, end = max(start, date(1990, 1, 1)), min(end, date(date.today().year + 1, 12, 31))
    if start > end:
        return []
    calendar = _calendar(start.year, end.year)
    # The calendar refuses bounds outside its own sessions (1990-01-01 is a holiday before its first).
    first, last = calendar.first_session.date(), calendar.last_session.date()
    start, end = max(start, first), min(end, last)
    if start > end:
        return []
    return [ts.date() for ts in calendar.sessions_in_range(start.isoformat(), end.isoformat())]


def _runs(missing: Sequence[date], all_sessions: Sequence[date]) -> list[Gap]:
    index = {d: i for i, d in enumerate(all_sessions)}
    out: list[Gap] = []
    for d in missing:
        if out and index[d] == index[out[-1].end] + 1:
            out[-1] = Gap(start=out[-1].start, end=d, missing=out[-1].missing + 1)
        else:
            out.append(Gap(start=d, end=d, missing=1))
    return out


async def daily_gaps(src: Source, symbol: str, start: date, end: date, present: Sequence[date]) -> list[Gap]:
    """Runs of NYSE sessions in ``[start, end]`` missing from ``present``."""
    all_sessions = sessions(start, min(end, date.today()))
    have = set(present)
    return _runs([d for d in all_sessions if d not in have], all_sessions)


async def intraday_gaps(
    src: Source, stream: str, symbol: str, step_s: int, starts: Sequence[datetime]
) -> list[Gap]:
    """Holes longer than one interval between consecutive candles within one NYSE session day."""
    if len(starts) < 2:
        return []
    session_days = set(sessions(starts[0].date(), starts[-1].date()))
    step = timedelta(seconds=step_s)
    out = []
    for before, after in pairwise(starts):
        hole = after - before
        if hole > step and before.date() == after.date() and before.date() in session_days:
            out.append(Gap(start=before + step, end=after - step, missing=int(hole / step) - 1))
    return out
