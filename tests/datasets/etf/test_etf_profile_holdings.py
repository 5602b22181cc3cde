"""etf_profile_holdings: AV ETF_PROFILE over etf_basic_info, stalest first, quota stop and resume."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx

from marketpipe.http.types import per_day, per_second
from plugins.engine import count

ETFS = ["SPY", "QQQ", "XLK", "XLF", "XLE"]


def _seed_etfs(db, symbols):
    with db.transaction():
        for rank, symbol in enumerate(symbols, start=1):
            db.execute(
                "INSERT INTO etf_basic_info (symbol, name, popularity_rank) VALUES (%s, %s, %s)",
                (symbol, f"{symbol} ETF", rank),
            )
    db.commit()


def test_profiles_hold_weights_as_numbers_and_refresh_the_stalest_first(collect, db, sandbox, engine_clock):
    _seed_etfs(db, ETFS)
    served = httpx.get(
        sandbox.base_url("alpha_vantage") + "/query",
        params={"function": "ETF_PROFILE", "symbol": "XLK", "apikey": "sandbox-av-other"},
    ).json()
    first = collect("etf_profile_holdings")
    assert first.status == "ok", first.message
    assert first.calls == 5 and first.rows_inserted == 5
    row = db.execute(
        "SELECT net_expense_ratio, inception_date::text, holdings->0->>'symbol', (holdings->0->>'weight')::numeric, jsonb_array_length(holdings), sectors->0->>'sector' FROM etf_profile_holdings WHERE symbol='XLK'"
    ).fetchone()
    db.commit()
    assert row[0] == Decimal(served["net_expense_ratio"])
    assert row[1] == served["inception_date"]
    assert row[2] == served["holdings"][0]["symbol"] and float(row[3]) == float(
        served["holdings"][0]["weight"]
    )
    assert row[4] == len(served["holdings"]) and row[5] == served["sectors"][0]["sector"]

    assert collect("etf_profile_holdings").calls == 0  # all fresh
    # 31 days later, two a run: the two stalest (SPY, QQQ by then equal → list order) come first.
    engine_clock.advance(timedelta(days=31))
    sandbox.admin.advance(days=31)
    again = collect("etf_profile_holdings", max_items=2)
    assert again.items_done == 2
    refreshed = [
        r[0]
        for r in db.execute(
            "SELECT item FROM collect_cursors WHERE dataset='etf_profile_holdings' AND last_run_id=%s ORDER BY item",
            (again.run_id,),
        ).fetchall()
    ]
    db.commit()
    assert refreshed == ["QQQ", "SPY"]
    assert count(db, "SELECT count(*) FROM etf_profile_holdings") == 5


def test_quota_stop_leaves_the_rest_due(collect, db, sandbox, engine_clock):
    _seed_etfs(db, ETFS)
    stopped = collect(
        "etf_profile_holdings", quota_windows={"alpha_vantage": (per_day(3), per_second(5))}, max_wait_s=0.0
    )
    assert stopped.status == "partial" and stopped.error_class == "QuotaExhausted"
    assert stopped.items_done == 3 and stopped.items_pending == 2
    engine_clock.advance(timedelta(days=1))
    sandbox.admin.advance(days=1)
    resumed = collect("etf_profile_holdings")
    assert resumed.status == "ok" and resumed.items_done == 2
    assert count(db, "SELECT count(*) FROM etf_profile_holdings") == 5
