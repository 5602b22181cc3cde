"""The engine's notion of "now" (quota windows, freshness, spent-until marks), injectable for tests.

Waiting goes through the clock too, so a test clock can jump instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The wall clock (UTC)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ManualClock:
    """A clock that starts at a given instant, follows real time, and can be moved forward.

    ``sleep`` really waits only when ``real_sleep`` is set; otherwise it advances the clock, so a test
    that crosses a window does not wait for it.
    """

    def __init__(self, start: datetime, *, real_sleep: bool = False) -> None:
        self._lock = threading.Lock()
        self._offset = start - datetime.now(UTC)
        self._real_sleep = real_sleep

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._offset += delta
        return self.now()

    def set(self, when: datetime) -> None:
        with self._lock:
            self._offset = when - datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self._real_sleep:
            time.sleep(seconds)
        else:
            self.advance(timedelta(seconds=seconds))


SYSTEM_CLOCK = SystemClock()
