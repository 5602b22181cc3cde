"""Calendars: FMP first with names filled, Alpha Vantage CSV as fallback, IPO CSV, CSV quota rows."""

from __future__ import annotations

from plugins.engine import count, engine_settings


def test_earnings_calendar_from_fmp_has_company_names(collect, db, sandbox):
    assert collect("sp500_companies").status == "ok"
    result = collect("earnings_calendar")
    assert result.status == "ok", result.message
    assert result.provider == "fmp" and result.calls >= 4
    total = count(db, "SELECT count(*) FROM earnings_calendar")
    assert total > 0
    sp500_named = count(
        db,
        """SELECT count(*) FROM earnings_calendar e JOIN sp500_companies c USING (symbol)
            WHERE e.company_name IS NULL OR e.company_name = ''""",
    )
    assert sp500_named == 0
    again = collect("earnings_calendar", force=True)
    assert again.rows_inserted == 0 and again.rows_updated == 0


def test_earnings_calendar_falls_back_to_alpha_vantage_csv(settings, collect, db, sandbox):
    no_fmp = engine_settings(settings, sandbox.port, fmp_keys=[])
    result = collect("earnings_calendar", settings=no_fmp)
    assert result.status == "ok", result.message
    assert result.provider == "alpha_vantage" and result.calls == 1
    assert count(db, "SELECT count(*) FROM earnings_calendar") > 0
    assert (
        count(db, "SELECT count(*) FROM earnings_calendar WHERE company_name IS NULL OR company_name = ''")
        == 0
    )


def test_earnings_calendar_switches_provider_when_fmp_quota_ends(collect, db, sandbox):
    sandbox.admin.set_provider_quota("fmp", windows=[{"name": "day", "limit": 2, "seconds": 86400}])
    result = collect("earnings_calendar")
    assert result.status == "ok", result.message
    assert result.provider == "alpha_vantage"
    assert sandbox.admin.calls("fmp") == 3  # two served windows, then the quota reply
    assert sandbox.admin.calls("alpha_vantage") == 1


def test_ipo_calendar_fills_table_idempotently(collect, db, sandbox):
    first = collect("ipo_calendar")
    assert first.status == "ok", first.message
    assert first.calls == 1
    total = count(db, "SELECT count(*) FROM ipo_calendar")
    assert total > 0 and first.rows_inserted == total
    again = collect("ipo_calendar", force=True)
    assert again.rows_inserted == 0 and again.rows_updated == 0


def test_csv_quota_row_stops_the_run_without_rows(collect, db, sandbox):
    body = "symbol,name,ipoDate,priceRangeLow,priceRangeHigh,currency,exchange\r\nI,n,f,o,r,m,a\r\n"
    sandbox.admin.add_fault(
        "alpha_vantage", "reply", "IPO_CALENDAR", count=1, body=body, content_type="text/csv"
    )
    refused = collect("ipo_calendar")
    assert refused.status == "partial" and refused.error_class == "QuotaExhausted"
    assert refused.resume_at is not None
    assert count(db, "SELECT count(*) FROM ipo_calendar") == 0
    assert sandbox.admin.calls("alpha_vantage") == 1
    # The key rests until its window resets: the next run sends nothing.
    assert collect("ipo_calendar").calls == 0
    assert sandbox.admin.calls("alpha_vantage") == 1
