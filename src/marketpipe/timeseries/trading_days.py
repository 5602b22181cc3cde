"""NYSE sessions (``exchange_calendars`` XNYS: weekends, holidays, early closes) for daily bars."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

#: End-of-day providers publish a session's bar some time after the close.
PUBLISH_DELAY = timedelta(hours=1)


@lru_cache(maxsize=4)
def _xnys(year: int) -> Any:
    import exchange_calendars  # pandas-heavy: imported on first use, not at registry discovery

    return exchange_calendars.get_calendar("XNYS", start=f"{year - 1}-01-01", end=f"{year + 1}-12-31")


def sessions(first: date, last: date) -> list[date]:
    """NYSE sessions in ``[first, last]``."""
    if last < first:
        return []
    out: list[date] = []
    for year in range(first.year, last.year + 1):
        calendar = _xnys(year)
        lo = max(first, date(year, 1, 1))
        hi = min(last, date(year, 12, 31))
        out += [ts.date() for ts in calendar.sessions_in_range(lo.isoformat(), hi.isoformat())]
    return out


def last_closed_session(now: datetime, delay: timedelta = PUBLISH_DELAY) -> date:
    """The latest NYSE session whose close (plus ``delay``) is at or before ``now``."""
    moment = (now - delay).astimezone(UTC)
    calendar = _xnys(moment.year)
    for day in reversed(sessions(moment.date() - timedelta(days=10), moment.date())):
        close = calendar.session_close(day.isoformat()).to_pydatetime()
        if close <= moment:
            return day
    raise ValueError(f"no NYSE session in the ten days before {moment.isoformat()}")  # pragma: no cover
