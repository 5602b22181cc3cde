"""The one backoff policy (marketpipe.backoff): bounds, growth, reset, no overflow."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketpipe.backoff import Backoff
from marketpipe.engine.session import RetryPolicy


@given(
    base=st.floats(0.001, 10),
    factor=st.floats(1, 1000),
    floor=st.floats(0, 1),
    attempt=st.integers(0, 10_000),
    seed=st.integers(0, 2**32),
)
def test_every_delay_lies_between_the_floor_and_the_capped_ceiling(
    base: float, factor: float, floor: float, attempt: int, seed: int
) -> None:
    backoff = Backoff(base, base * factor, floor=floor, rng=random.Random(seed))
    ceiling = min(base * factor, base * 2 ** min(attempt, 64))
    delay = backoff.delay_for(attempt)
    assert ceiling * floor - 1e-9 <= delay <= ceiling + 1e-9
    assert delay <= backoff.cap + 1e-9


def test_without_jitter_it_doubles_to_the_cap_and_reset_starts_over() -> None:
    backoff = Backoff(0.05, 2.0, floor=1.0)
    assert [backoff.next_delay() for _ in range(8)] == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    assert backoff.current == 2.0
    backoff.reset()
    assert backoff.current == 0.05 and backoff.next_delay() == 0.05


@pytest.mark.parametrize("kwargs", [{"base": 0}, {"base": 2, "cap": 1}, {"floor": 1.5}, {"floor": -0.1}])
def test_nonsense_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)


def test_the_engine_retry_policy_uses_the_same_policy() -> None:
    policy = RetryPolicy(base_s=0.5, cap_s=8.0)
    delays = [policy.backoff(k) for k in range(20)]
    assert all(0 <= d <= min(8.0, 0.5 * 2**k) for k, d in enumerate(delays))
