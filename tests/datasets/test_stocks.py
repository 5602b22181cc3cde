"""Stocks datasets against the sandbox: constituents (leavers marked), top 50, top gainers batches."""

from __future__ import annotations

import json
from decimal import Decimal

import psycopg

from plugins.engine import count


def test_sp500_companies_full_run_then_idempotent_rerun(collect, db, sandbox):
    first = collect("sp500_companies")
    assert first.status == "ok", first.message
    assert first.calls == 1 and first.provider == "sp500_list"
    listed = set(sandbox.admin.constituents())
    stored = {row[0] for row in db.execute("SELECT symbol FROM sp500_companies WHERE is_current").fetchall()}
    assert stored == listed and len(stored) > 480
    assert count(db, "SELECT count(*) FROM sp500_companies WHERE cik !~ '^[0-9]{10}$'") == 0

    again = collect("sp500_companies", force=True)
    assert again.status == "ok" and again.calls == 1
    assert again.rows_inserted == 0 and again.rows_updated == 0


def test_a_constituent_that_left_the_index_is_marked_not_current(collect, db, sandbox):
    assert collect("sp500_companies").status == "ok"
    leaver = sorted(sandbox.admin.constituents())[3]
    sandbox.admin.change_membership(remove=leaver)
    result = collect("sp500_companies", force=True)
    assert result.status == "ok", result.message
    is_current, removed_at = db.execute(
        "SELECT is_current, removed_at FROM sp500_companies WHERE symbol = %s", (leaver,)
    ).fetchone()
    assert is_current is False and removed_at is not None
    assert count(db, "SELECT count(*) FROM sp500_companies WHERE is_current") == len(
        sandbox.admin.constituents()
    )


def test_top50_ranks_current_constituents_by_latest_market_cap(collect, db, sandbox):
    assert collect("sp500_companies").status == "ok"
    assert collect("company_overview", universe_limit=20).status == "ok"
    result = collect("sp500_top50")
    assert result.status == "ok" and result.calls == 0
    assert count(db, "SELECT count(*) FROM sp500_top50") == 50
    biggest = db.execute(
        """SELECT symbol FROM (SELECT DISTINCT ON (symbol) symbol, market_capitalization FROM company_overview
                               ORDER BY symbol, batch_id DESC) latest
            ORDER BY market_capitalization DESC NULLS LAST LIMIT 5"""
    ).fetchall()
    top = {row[0] for row in db.execute("SELECT symbol FROM sp500_top50").fetchall()}
    assert {row[0] for row in biggest} <= top


def test_top_gainers_batch_is_numeric_and_announced_once(collect, db, settings, sandbox):
    # One market snapshot for the whole test: on a loaded machine a running clock moves the sandbox's
    # market to its next minute between the two collections, which is a new batch by right.
    sandbox.admin.freeze()
    listener = psycopg.connect(settings.database_url.get_secret_value(), autocommit=True)
    listener.execute("LISTEN top_gainers_updated")
    result = collect("top_gainers")
    assert result.status == "ok", result.message
    assert result.calls == 1 and result.rows_inserted > 0
    batches = db.execute("SELECT DISTINCT batch_id FROM top_gainers").fetchall()
    assert len(batches) == 1
    pct, text = db.execute(
        "SELECT change_percentage_value, change_percentage FROM top_gainers"
        " WHERE category = 'top_gainers' ORDER BY rank_position LIMIT 1"
    ).fetchone()
    assert isinstance(pct, Decimal) and pct > 0
    assert text == f"{pct}%"  # the seed backend's string, as Alpha Vantage wrote it
    notices = list(listener.notifies(timeout=2.0, stop_after=1))
    assert json.loads(notices[0].payload)["batch_id"] == batches[0][0]

    # The same market snapshot again: no new batch, no new notification.
    again = collect("top_gainers", force=True)
    assert again.status == "ok" and again.rows_inserted == 0
    assert count(db, "SELECT count(DISTINCT batch_id) FROM top_gainers") == 1
    assert list(listener.notifies(timeout=0.5, stop_after=1)) == []
    listener.close()
