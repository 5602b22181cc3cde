"""Fixtures for the collection engine's tests: settings pointed at the sandbox, an engine clock that
starts at the sandbox's time, and a ``collect`` helper that runs one dataset.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr

from marketpipe.config import Settings
from marketpipe.engine.clock import ManualClock
from marketpipe.engine.runner import RunOptions, RunResult, run_dataset
from marketpipe.engine.session import RetryPolicy
from marketpipe.http.types import per_day, per_second

AV_KEY_1 = "sandbox-av-1"
AV_KEY_2 = "sandbox-av-2"
FRED_KEY_1 = "sandboxfredkey000000000000000001"
FMP_KEY_1 = "sandbox-fmp-1"

#: Tests allow the sandbox's AV burst (5/s) instead of the published safe pace of 1/s.
TEST_WINDOWS = {"alpha_vantage": (per_day(25), per_second(5))}


def engine_settings(settings: Settings, port: int, **keys: list[str]) -> Settings:
    """``settings`` in sandbox mode on ``port`` with the given key pools."""
    pools = {"alpha_vantage_keys": [AV_KEY_1], "fred_keys": [FRED_KEY_1], "fmp_keys": [FMP_KEY_1]}
    pools.update(keys)
    update: dict[str, Any] = {"sandbox": True, "sandbox_port": port}
    update.update({name: [SecretStr(k) for k in values] for name, values in pools.items()})
    return settings.model_copy(update=update)


@pytest.fixture
def collect_settings(settings: Settings, sandbox: Any) -> Settings:
    return engine_settings(settings, sandbox.port)


@pytest.fixture
def engine_clock(sandbox: Any) -> ManualClock:
    """Starts at the sandbox's now and waits for real (the sandbox's clock flows); advance both to cross
    a day."""
    return ManualClock(sandbox.admin.now(), real_sleep=True)


def run_options(clock: ManualClock, **overrides: Any) -> RunOptions:
    base: dict[str, Any] = {
        "clock": clock,
        "universe_limit": 30,
        "quota_windows": TEST_WINDOWS,
        "max_wait_s": 2.0,
        "timeout_s": 3.0,
        "retry": RetryPolicy(attempts=3, base_s=0.01, cap_s=0.05),
    }
    base.update(overrides)
    return RunOptions(**base)


@pytest.fixture
def collect(collect_settings: Settings, engine_clock: ManualClock) -> Callable[..., RunResult]:
    """``collect("cpi", settings=None, **options)`` runs one dataset against the sandbox."""

    def run(name: str, settings: Settings | None = None, **overrides: Any) -> RunResult:
        interval = {
            k: overrides.pop(k) for k in ("data_interval_start", "data_interval_end") if k in overrides
        }
        return run_dataset(
            name,
            settings=settings or collect_settings,
            options=run_options(engine_clock, **overrides),
            logical_date=engine_clock.now(),
            **interval,
        )

    return run


def count(conn: psycopg.Connection, sql: str, *params: Any) -> int:
    row = conn.execute(sql, params).fetchone()
    conn.commit()
    return int(row[0]) if row else 0


def seed_universe(conn: psycopg.Connection, symbols: list[str]) -> None:
    """Current constituents for datasets that sweep the universe (when the page is not collected)."""
    with conn.transaction():
        for symbol in symbols:
            conn.execute(
                "INSERT INTO sp500_companies (symbol, company_name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (symbol, f"{symbol} Inc"),
            )
    conn.commit()


ONE_DAY = timedelta(days=1)
