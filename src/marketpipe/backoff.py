"""The one backoff policy of marketpipe: exponential growth, capped, with jitter.

Used by the batch engine (``engine/session.py``, retrying a transient provider failure), the streaming
producers (reconnecting a WebSocket, re-polling a REST endpoint) and the stream sink (reconnecting to
PostgreSQL or Redis). Attempt ``k`` (0-based) waits ``uniform(floor * c, c)`` with
``c = min(cap, base * 2**k)``: ``floor=0`` is "full jitter" (the AWS Architecture Blog's recommended
variant), ``floor=1`` is a plain deterministic doubling. ``reset()`` after a success, so one blip
does not leave the next failure waiting at the cap.

This is a small helper rather than ``tenacity`` on purpose: none of the callers fits a decorator —
the engine sleeps on an injectable clock and distinguishes throttle, quota and transient replies,
the producers wait on an ``asyncio.Event`` so a stop request interrupts the wait, and the sink waits
between poll loops with the consumer kept alive.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays for successive attempts; ``next_delay()`` advances, ``reset()`` forgets."""

    base: float = 0.5
    cap: float = 30.0
    #: The smallest delay as a fraction of the attempt's ceiling (0 = full jitter, 1 = no jitter).
    floor: float = 0.0
    attempt: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base or not 0.0 <= self.floor <= 1.0:
            raise ValueError("backoff needs 0 < base <= cap and 0 <= floor <= 1")

    def ceiling(self, attempt: int) -> float:
        """The longest delay attempt ``attempt`` may wait."""
        # Cap the exponent too: 2**attempt overflows a float after ~1000 attempts.
        return min(self.cap, self.base * 2 ** min(attempt, 64))

    def delay_for(self, attempt: int) -> float:
        """The delay before attempt ``attempt`` without touching the counter."""
        top = self.ceiling(attempt)
        return top if self.floor >= 1.0 else self.rng.uniform(top * self.floor, top)

    def next_delay(self) -> float:
        """The delay before the next attempt; advances the attempt counter."""
        delay = self.delay_for(self.attempt)
        self.attempt += 1
        return delay

    @property
    def current(self) -> float:
        """The ceiling of the next attempt's delay."""
        return self.ceiling(self.attempt)

    def reset(self) -> None:
        """Forget past failures."""
        self.attempt = 0
