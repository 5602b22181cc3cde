"""Per-key quota windows, counted against the simulated clock.

Windows are fixed and aligned (a "day" resets at 00:00 UTC plus an optional offset, a "month" on the
1st), which is how the providers describe their free tiers and what a test can cross with the admin
clock. A refused call does not consume budget.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

SECOND = 1
MINUTE = 60
HOUR = 3600
DAY = 86400


class QuotaWindow(BaseModel):
    """One published limit: ``limit`` calls per fixed window of ``seconds`` (or per calendar month)."""

    model_config = {"frozen": True}

    name: str = Field(description="Label used in replies and counters, e.g. 'day', 'minute', 'burst'.")
    limit: int = Field(ge=0)
    seconds: int | None = Field(default=None, gt=0, description="Window length; None with calendar.")
    calendar: Literal["month"] | None = None
    offset_s: int = Field(default=0, description="Shift of the window boundary (e.g. a 09:00 reset).")

    def bounds(self, ts: float) -> tuple[int, float, float]:
        """(window index, window start, window end) containing Unix time ``ts``."""
        if self.calendar == "month":
            moment = datetime.fromtimestamp(ts - self.offset_s, UTC)
            index = moment.year * 12 + moment.month - 1
            start = datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp() + self.offset_s
            year, month = divmod(index + 1, 12)
            end = datetime(year, month + 1, 1, tzinfo=UTC).timestamp() + self.offset_s
            return index, start, end
        length = self.seconds or DAY
        index = int((ts - self.offset_s) // length)
        start = index * length + self.offset_s
        return index, start, start + length


def per_second(limit: int, name: str = "second") -> QuotaWindow:
    return QuotaWindow(name=name, limit=limit, seconds=SECOND)


def per_minute(limit: int, name: str = "minute") -> QuotaWindow:
    return QuotaWindow(name=name, limit=limit, seconds=MINUTE)


def per_hours(hours: int, limit: int, name: str | None = None) -> QuotaWindow:
    return QuotaWindow(name=name or f"{hours}h", limit=limit, seconds=hours * HOUR)


def per_day(limit: int, name: str = "day") -> QuotaWindow:
    return QuotaWindow(name=name, limit=limit, seconds=DAY)


def per_month(limit: int, name: str = "month") -> QuotaWindow:
    return QuotaWindow(name=name, limit=limit, calendar="month")


@dataclass(frozen=True)
class QuotaDecision:
    """The outcome of one quota check, with what a provider needs for its headers or refusal text."""

    allowed: bool
    window: str  # the refusing window, or the tightest one when allowed
    limit: int
    remaining: int
    reset_ts: float  # Unix seconds when ``window`` resets
    used: int


UNLIMITED = QuotaDecision(allowed=True, window="", limit=0, remaining=0, reset_ts=0.0, used=0)


class QuotaLedger:
    """Counts calls per (provider, key id, scope, window) for the current window only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (provider, key_id, scope, window name) -> [window index, count]
        self._counts: dict[tuple[str, str, str, str], list[int]] = {}

    def hit(
        self, provider: str, key_id: str, windows: tuple[QuotaWindow, ...], ts: float, scope: str = ""
    ) -> QuotaDecision:
        """Reserve one call in every window, or refuse (consuming nothing) if one is full."""
        if not windows:
            return UNLIMITED
        with self._lock:
            states = []
            for window in windows:
                index, _start, end = window.bounds(ts)
                slot = self._counts.setdefault((provider, key_id, scope, window.name), [index, 0])
                if slot[0] != index:
                    slot[0], slot[1] = index, 0
                states.append((window, slot, end))
            for window, slot, end in states:
                if slot[1] >= window.limit:
                    return QuotaDecision(False, window.name, window.limit, 0, end, slot[1])
            tightest: QuotaDecision | None = None
            for window, slot, end in states:
                slot[1] += 1
                decision = QuotaDecision(
                    True, window.name, window.limit, window.limit - slot[1], end, slot[1]
                )
                if tightest is None or decision.remaining < tightest.remaining:
                    tightest = decision
            assert tightest is not None
            return tightest

    def usage(self, provider: str | None = None) -> list[dict[str, Any]]:
        """Current-window usage rows (for the admin API)."""
        with self._lock:
            return [
                {"provider": p, "key_id": k, "scope": s, "window": w, "index": slot[0], "used": slot[1]}
                for (p, k, s, w), slot in sorted(self._counts.items())
                if provider is None or p == provider
            ]

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
