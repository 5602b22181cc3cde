"""Rates and retries for producers: a token bucket for outgoing requests, jittered backoff.

Neither sleeps a fixed amount: the bucket waits exactly until the next token is due, and the
backoff waits a growing, randomised delay that resets once a connection has proved healthy.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

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


class Backoff:
    """Exponential backoff with full jitter: attempt k waits uniform(0, min(cap, base * 2**k)).

    ``reset()`` after a success so one blip does not leave the next failure waiting minutes.
    """

    def __init__(self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """The delay before the next attempt; advances the attempt counter."""
        ceiling = min(self.cap, self.base * (2**self.attempt))
        self.attempt += 1
        # Full jitter, but never below a tenth of the ceiling so a reconnect storm cannot spin.
        return self._rng.uniform(ceiling / 10, ceiling)

    def reset(self) -> None:
        """Forget past failures."""
        self.attempt = 0
