"""The simulated clock: wall-clock speed by default, but tests can jump or freeze it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime


class SimClock:
    """Simulated "now" = an anchor time plus real elapsed time scaled by ``rate``.

    ``rate=1`` follows the wall clock, ``rate=0`` freezes time (only :meth:`advance` / :meth:`set`
    move it). Re-anchoring on every change keeps ``now()`` continuous and cheap (one subtraction).
    """

    def __init__(
        self,
        start: datetime | None = None,
        rate: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._anchor_sim = (start or datetime.now(UTC)).timestamp()
        self._anchor_real = monotonic()
        self._rate = float(rate)

    @property
    def rate(self) -> float:
        return self._rate

    def timestamp(self) -> float:
        """Simulated now as Unix seconds (UTC)."""
        return self._anchor_sim + (self._monotonic() - self._anchor_real) * self._rate

    def now(self) -> datetime:
        """Simulated now as an aware UTC datetime."""
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def advance(self, seconds: float) -> datetime:
        """Jump forward (or back, with a negative value) by ``seconds`` of simulated time."""
        with self._lock:
            self._anchor_sim = self.timestamp() + seconds
            self._anchor_real = self._monotonic()
        return self.now()

    def set(self, when: datetime | None = None, rate: float | None = None) -> datetime:
        """Set simulated now to ``when`` (keep it if None) and optionally change the rate."""
        with self._lock:
            target = when.timestamp() if when is not None else self.timestamp()
            self._anchor_sim = target
            self._anchor_real = self._monotonic()
            if rate is not None:
                self._rate = float(rate)
        return self.now()

    def snapshot(self) -> dict[str, object]:
        now = self.now()
        return {
            "now": now.isoformat().replace("+00:00", "Z"),
            "timestamp": now.timestamp(),
            "rate": self._rate,
        }
