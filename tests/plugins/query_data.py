"""``query_db``: one database for the session filled by collecting from the sandbox (what the query
API, the MCP tools and the dashboard read), plus the rows no dataset collects on this branch
(streamed candles, daily bars) written the way their writers write them.

Session-scoped so the suite collects once; tests only read it (and write nothing to it).
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from marketpipe.config import Settings
from marketpipe.db.connect import with_database
from marketpipe.engine.clock import ManualClock
from marketpipe.engine.registry import get_dataset, in_dependency_order
from marketpipe.engine.runner import run_dataset
from plugins.engine import engine_settings, run_options

#: What the query API reads, in the order the engine runs them.
QUERY_DATASETS = [
    "sp500_companies", "company_overview", "income_stmt", "balance_sheet", "cash_flow", "earnings_history",
    "earnings_calendar", "company_news", "earnings_news_finnhub", "market_news", "market_news_finnhub",
    "market_news_sentiment", "top_gainers", "ipo_calendar", "cpi", "inflation", "federal_funds_rate",
    "treasury_yield", "x_user_profiles", "x_posts", "truth_social_posts", "market_code_bithumb",
    "coingecko_id_mapping", "bithumb_coingecko_mapping", "coingecko_coin_details", "coingecko_tickers_bithumb",
]  # fmt: skip
SYMBOLS = 3  # A, AAPL, ABBV …: the first symbols of the sandbox universe
_ids = itertools.count(1)


@dataclass
class QueryDb:
    dsn: str
    sandbox_now: datetime
    #: The first minute of the streamed candles written for AAPL (5-minute candles, one hole).
    candles_start: datetime


def fill_stream_rows(dsn: str, start: datetime) -> None:
    """AAPL's streamed 5-minute candles (with a 15-minute hole) and daily bars (one session missing)."""
    five = timedelta(minutes=5)
    slots = [0, 1, 2, 6, 7]  # 3, 4, 5 missing: a gap of three candles
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO trade_candles (stream, symbol, interval_s, bucket_start, open, high, low, close,
                                          volume, trades, open_key, close_key)
               VALUES ('trades', 'AAPL', 300, %s, %s, %s, %s, %s, 10, 3, 0, 0)""",
            [(start + i * five, 190 + i, 191 + i, 189 + i, 190.5 + i) for i in slots],
        )
        # Daily bars for the two weeks before; Wednesday 2026-11-11 is missing (Veterans Day is not an
        # NYSE holiday, so it is a real gap).
        day = date(2026, 11, 2)
        while day <= date(2026, 11, 13):
            if day.weekday() < 5 and day != date(2026, 11, 11):
                cur.execute(
                    """INSERT INTO daily_prices (symbol, date, open, high, low, close, adj_close, volume, source)
                       VALUES ('AAPL', %s, 200, 205, 199, 204, 204, 1000000, 'sandbox')""",
                    (day,),
                )
            day += timedelta(days=1)


@pytest.fixture(scope="session")
def query_db(pg_server: str, sandbox_server, redis_url: str) -> Iterator[QueryDb]:  # type: ignore[no-untyped-def]
    name = f"mp_query_{os.getpid()}_{next(_ids)}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE marketpipe_template").format(sql.Identifier(name)))
    dsn = with_database(pg_server, name)
    sandbox_server.admin.reset()
    sandbox_server.admin.set_quotas(False)
    data_dir = Path(tempfile.mkdtemp(prefix="mp-query-"))
    base = Settings(_env_file=None, data_dir=data_dir, database_url=dsn, redis_url=redis_url)  # type: ignore[call-arg]
    settings = engine_settings(
        base,
        sandbox_server.port,
        finnhub_keys=["sandbox-finnhub-1"],
        newsapi_keys=["sandbox-newsapi-1"],
        x_keys=[f"sandbox-x-token-{i}" for i in range(1, 5)],
        truth_social_keys=["sandbox-truth-token"],
        coingecko_keys=["sandbox-cg-1", "sandbox-cg-2"],
    )
    clock = ManualClock(sandbox_server.admin.now(), real_sleep=True)
    specs = [get_dataset(n) for n in QUERY_DATASETS]
    for wave in in_dependency_order(specs):
        for spec in wave:
            result = run_dataset(
                spec.name,
                settings=settings,
                options=run_options(
                    clock,
                    universe_limit=SYMBOLS,
                    quotas=False,
                    max_items=SYMBOLS if spec.progressive or spec.name == "market_news_sentiment" else None,
                ),
                logical_date=clock.now(),
            )
            assert result.status == "ok", (spec.name, result.message)
    start = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
    fill_stream_rows(dsn, start)
    yield QueryDb(dsn=dsn, sandbox_now=clock.now(), candles_start=start)
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
