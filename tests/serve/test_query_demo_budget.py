"""The demo's collection leaves data behind the query API's per-symbol routes for AAPL within Alpha
Vantage's free quota (25 calls per key per day): every AV dataset gets calls, earnings_history too."""

from __future__ import annotations

from dataclasses import replace

import psycopg
from pydantic import SecretStr

from marketpipe.config import Settings
from marketpipe.demo import av_demo_share
from marketpipe.engine.cli import collect_many
from marketpipe.engine.registry import all_datasets, get_dataset
from marketpipe.engine.runner import RunOptions
from plugins.engine import TEST_WINDOWS, count, run_options

KEYS = [f"sandbox-av-demo-{i}" for i in range(1, 4)]  # the demo invents three keys


def test_demo_share_lets_every_av_dataset_run_and_fills_aapl(
    collect_settings: Settings, engine_clock, sandbox, db
) -> None:  # type: ignore[no-untyped-def]
    settings = collect_settings.model_copy(update={"alpha_vantage_keys": [SecretStr(k) for k in KEYS]})
    options: RunOptions = run_options(engine_clock, universe_limit=40, quota_windows=TEST_WINDOWS)
    collect_many(
        [get_dataset("sp500_companies"), get_dataset("etf_basic_info")], settings=settings, options=options
    )
    av = [s for s in all_datasets() if s.providers and s.providers[0] == "alpha_vantage"]
    share = av_demo_share(settings, av)
    assert share * (len(av) - 2) + 2 <= 25 * len(KEYS)
    results = {
        r.dataset: r for r in collect_many(av, settings=settings, options=replace(options, max_items=share))
    }
    for name, result in results.items():
        assert result.calls > 0 and result.status in ("ok", "partial"), (name, result.status, result.message)
    assert results["earnings_history"].status == "ok"
    for table in ("company_overview", "earnings_history", "income_stmt", "balance_sheet", "cash_flow"):
        assert count(db, f"SELECT count(*) FROM {table} WHERE symbol = 'AAPL'") > 0, table
    assert (
        count(
            db,
            """SELECT count(*) FROM market_news_sentiment
                         WHERE ticker_sentiment @> '[{"ticker": "AAPL"}]'""",
        )
        > 0
    )
    assert isinstance(db, psycopg.Connection)
