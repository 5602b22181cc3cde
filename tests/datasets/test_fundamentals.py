"""company_overview and balance_sheet: progressive sweeps, quota stops, resume next day, key rotation."""

from __future__ import annotations

from marketpipe.http.types import per_day
from plugins.engine import AV_KEY_1, AV_KEY_2, ONE_DAY, count, engine_settings, seed_universe


def _sandbox_av_day_limit(sandbox, limit: int) -> None:
    sandbox.admin.set_provider_quota(
        "alpha_vantage",
        windows=[
            {"name": "day", "limit": limit, "seconds": 86400},
            {"name": "burst", "limit": 5, "seconds": 1},
        ],
    )


def _done_items(db, dataset: str, run_id: int) -> list[str]:
    rows = db.execute(
        "SELECT item FROM collect_cursors WHERE dataset = %s AND last_run_id = %s AND last_done_at IS NOT NULL ORDER BY item",
        (dataset, run_id),
    ).fetchall()
    db.commit()
    return [row[0] for row in rows]


def test_overview_fills_a_batch_and_second_run_spends_nothing(collect, db, sandbox):
    symbols = sorted(sandbox.admin.constituents())[:30]
    seed_universe(db, symbols)
    sandbox.admin.set_quotas(False)
    first = collect("company_overview", max_items=10)
    assert first.status == "ok", first.message
    assert first.calls == 10 and first.rows_inserted == 10
    assert count(db, "SELECT count(DISTINCT batch_id) FROM company_overview") == 1
    assert _done_items(db, "company_overview", first.run_id) == symbols[:10]

    second = collect("company_overview", max_items=10)
    assert second.status == "ok"
    assert _done_items(db, "company_overview", second.run_id) == symbols[10:20]
    assert count(db, "SELECT count(DISTINCT batch_id) FROM company_overview") == 2
    # The last 10 symbols, then everything is fresh: a further run makes no call at all.
    assert collect("company_overview", quota_windows={"alpha_vantage": ()}).items_done == 10
    idle = collect("company_overview")
    assert idle.calls == 0 and idle.status == "ok" and idle.rows_inserted == 0


def test_quota_mid_run_stops_partial_and_resumes_next_day_at_first_unfinished(
    collect, db, sandbox, engine_clock
):
    symbols = sorted(sandbox.admin.constituents())[:30]
    seed_universe(db, symbols)
    _sandbox_av_day_limit(sandbox, 5)
    windows = {"alpha_vantage": (per_day(1000),)}  # let the provider, not our ledger, say "quota"

    stopped = collect("company_overview", quota_windows=windows)
    assert stopped.status == "partial" and stopped.error_class == "QuotaExhausted"
    assert stopped.resume_at is not None and stopped.resume_at.date() > engine_clock.now().date()
    assert sandbox.admin.calls("alpha_vantage") == 6  # 5 served + the refusal, nothing after it
    assert sandbox.admin.refused("alpha_vantage") == 1
    assert _done_items(db, "company_overview", stopped.run_id) == symbols[:5]
    assert stopped.items_done == 5 and stopped.items_pending == 15
    assert stopped.calls == 6 and stopped.wasted_calls == 1

    same_day = collect("company_overview", quota_windows=windows)
    assert same_day.status == "partial" and same_day.calls == 0
    assert sandbox.admin.calls("alpha_vantage") == 6

    sandbox.admin.advance(days=1)
    engine_clock.advance(ONE_DAY)
    resumed = collect("company_overview", quota_windows=windows)
    assert _done_items(db, "company_overview", resumed.run_id) == symbols[5:10]
    assert count(db, "SELECT count(*) FROM company_overview") == 10


def test_key_two_takes_over_when_key_one_is_spent(settings, collect, db, sandbox):
    symbols = sorted(sandbox.admin.constituents())[:30]
    seed_universe(db, symbols)
    _sandbox_av_day_limit(sandbox, 4)
    two_keys = engine_settings(settings, sandbox.port, alpha_vantage_keys=[AV_KEY_1, AV_KEY_2])
    result = collect(
        "company_overview", settings=two_keys, max_items=7, quota_windows={"alpha_vantage": (per_day(1000),)}
    )
    assert result.status == "ok", result.message
    assert result.items_done == 7
    assert sandbox.admin.calls("alpha_vantage", key=AV_KEY_1) == 5  # 4 served + 1 quota reply
    assert sandbox.admin.calls("alpha_vantage", key=AV_KEY_2) == 3
    assert result.calls == 8 and result.wasted_calls == 1
    assert count(db, "SELECT count(*) FROM company_overview") == 7


def test_balance_sheet_stores_quarterly_reports_idempotently(collect, db, sandbox):
    symbols = sorted(sandbox.admin.constituents())[:30]
    seed_universe(db, symbols)
    first = collect("balance_sheet", max_items=3)
    assert first.status == "ok", first.message
    rows = count(db, "SELECT count(*) FROM balance_sheet")
    assert rows >= 3 and first.rows_inserted == rows
    assert count(db, "SELECT count(DISTINCT symbol) FROM balance_sheet") == 3
    again = collect("balance_sheet", max_items=3, force=True)
    assert again.rows_inserted == 0 and again.rows_updated == 0
    assert count(db, "SELECT count(*) FROM balance_sheet") == rows
