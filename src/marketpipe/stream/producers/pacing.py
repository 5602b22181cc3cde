"""Rates for producers: a token bucket for outgoing requests, and a stop-aware wait.

The bucket never sleeps a fixed amount: it waits exactly until the next token is due. Retries use
the one backoff policy in :mod:`marketpipe.backoff` (re-exported here for the producers).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from marketpipe.backoff import Backoff

__all__ = ["RECONNECT_FLOOR", "Backoff", "TokenBucket", "wait_or_stop"]

#: Producers never wait less than a tenth of the attempt's ceiling, so a reconnect storm cannot spin.
RECONNECT_FLOOR = 0.1

#: A token counts as whole within float rounding (a wake-up exactly on time must not spin).
_ONE = 1 - 1e-9


class TokenBucket:
    """Allow ``rate`` operations per second on average, with bursts of up to ``burst``.

    Used to pace WebSocket subscribe messages (Finnhub throttles bursts) and REST polls.
    """

    def __init__(self, rate: float, burst: int = 1, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._tokens = float(self.burst)
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def delay(self) -> float:
        """Seconds until a token is available (0 when one is available now)."""
        self._refill()
        return 0.0 if self._tokens >= _ONE else (1 - self._tokens) / self.rate

    def try_take(self) -> bool:
        """Take a token if one is available now."""
        self._refill()
        if self._tokens >= _ONE:
            self._tokens = max(0.0, self._tokens - 1)
            return True
        return False

    async def take(self) -> None:
        """Wait until a token is available, then take it."""
        while not self.try_take():
            await asyncio.sleep(self.delay())


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Wait up to ``seconds`` for ``stop``; True if it was set. (``asyncio.timeout`` rather than
    ``wait_for``, which on Python 3.11 can swallow a cancellation of the waiting task.)"""
    try:
        async with asyncio.timeout(max(0.0, seconds)):
            await stop.wait()
    except TimeoutError:
        return False
    return True
