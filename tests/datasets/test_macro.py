"""Macro datasets against the sandbox: FRED first, Alpha Vantage as fallback, idempotent reruns."""

from __future__ import annotations

from plugins.engine import count


def test_cpi_full_run_fills_table_and_second_run_is_idempotent(collect, db, sandbox):
    first = collect("cpi")
    assert first.status == "ok", first.message
    assert first.provider == "fred"
    assert first.calls == 1
    rows = count(db, "SELECT count(*) FROM cpi")
    assert rows > 100 and first.rows_inserted == rows
    assert count(db, "SELECT count(*) FROM cpi WHERE cpi_value IS NULL") < rows

    second = collect("cpi")
    assert second.status == "ok"
    assert second.calls == 0 and second.rows_inserted == 0 and second.rows_updated == 0
    assert count(db, "SELECT count(*) FROM cpi") == rows

    forced = collect("cpi", force=True)
    assert forced.calls == 1 and forced.rows_inserted == 0 and forced.rows_updated == 0


def test_treasury_yield_stores_each_maturity(collect, db, sandbox):
    result = collect("treasury_yield")
    assert result.status == "ok", result.message
    assert result.items_done == 3
    maturities = {row[0] for row in db.execute("SELECT DISTINCT maturity FROM treasury_yield").fetchall()}
    assert maturities == {"2year", "10year", "30year"}
