"""Daily history datasets against the sandbox: backfill, resume across quota days, one bar per session."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import httpx

from marketpipe.http.types import per_day
from marketpipe.providers import daily_bars
from marketpipe.timeseries.trading_days import sessions
from plugins.engine import FMP_KEY_1, ONE_DAY, count, seed_universe

# The sandbox starts Monday 2026-11-16 15:00 UTC: the last closed session is Friday 2026-11-13.
LAST_SESSION = date(2026, 11, 13)
SLOW = 20.0  # five years of bars per call: give the sandbox time on a busy machine
LOOSE = {
    "fmp": (per_day(1000),),
    "alpha_vantage": (per_day(1000),),
}  # the provider, not our ledger, says "quota"


def _symbols(sandbox, n: int) -> list[str]:
    return sorted(sandbox.admin.constituents())[:n]


def _bars(db, symbol: str) -> list[tuple]:
    rows = db.execute(
        "SELECT date, open, high, low, close, volume, source FROM daily_prices WHERE symbol = %s ORDER BY date",
        (symbol,),
    ).fetchall()
    db.commit()
    return rows


def test_backfill_fills_five_years_then_a_rerun_costs_nothing_and_a_new_session_adds_one_bar(
    collect, db, sandbox, engine_clock
):
    symbols = _symbols(sandbox, 4)
    seed_universe(db, symbols)
    first = collect("daily_prices", universe_limit=4, timeout_s=SLOW)
    assert first.status == "ok", first.message
    assert first.provider == "fmp" and first.calls == 4
    for symbol in symbols:
        bars = _bars(db, symbol)
        assert bars[-1][0] == LAST_SESSION and {b[6] for b in bars} == {"fmp"}
        assert bars[0][0] <= date(2021, 11, 20)  # five years back
        assert all(
            low <= min(o, c) and high >= max(o, c) and close > 0
            for _, o, high, low, c, _, _ in bars
            for close in [c]
        )
    # The stored bars are the provider's (same figures the FMP route serves).
    served = httpx.get(
        sandbox.base_url("fmp") + "/historical-price-eod/full",
        params={"symbol": symbols[0], "from": "2026-11-02", "to": "2026-11-06", "apikey": FMP_KEY_1},
    ).json()
    stored = {b[0]: b for b in _bars(db, symbols[0])}
    for bar in served:
        day = date.fromisoformat(bar["date"])
        assert stored[day][4] == Decimal(str(bar["close"])) and stored[day][5] == bar["volume"]

    idle = collect("daily_prices", universe_limit=4, timeout_s=SLOW)
    assert idle.status == "ok" and idle.calls == 0 and idle.rows_inserted == 0

    # Monday's session closes: the next run asks for exactly the missing day, one bar each.
    sandbox.admin.advance(days=1)
    engine_clock.advance(ONE_DAY)
    nxt = collect("daily_prices", universe_limit=4, timeout_s=SLOW)
    assert nxt.status == "ok", nxt.message
    assert nxt.calls == 4 and nxt.rows_inserted == 4
    assert all(_bars(db, s)[-1][0] == date(2026, 11, 16) for s in symbols)


def test_the_backfill_spreads_over_quota_days_and_resumes(collect, db, sandbox, engine_clock):
    symbols = _symbols(sandbox, 6)
    seed_universe(db, symbols)
    sandbox.admin.set_provider_quota("fmp", windows=[{"name": "day", "limit": 3, "seconds": 86400}])
    sandbox.admin.set_provider_quota(
        "alpha_vantage",
        windows=[{"name": "day", "limit": 1, "seconds": 86400}, {"name": "burst", "limit": 5, "seconds": 1}],
    )
    day1 = collect("daily_prices", universe_limit=6, quota_windows=LOOSE, timeout_s=SLOW)
    assert day1.status == "partial" and day1.error_class == "QuotaExhausted"
    assert day1.items_done == 4  # 3 from FMP, then Alpha Vantage's one call (compact: 100 sessions)
    assert day1.resume_at is not None and day1.resume_at.date() > engine_clock.now().date()
    by_source = dict(
        db.execute("SELECT source, count(DISTINCT symbol) FROM daily_prices GROUP BY source").fetchall()
    )
    db.commit()
    assert by_source == {"fmp": 3, "alpha_vantage": 1}
    av_symbol = db.execute(
        "SELECT DISTINCT symbol FROM daily_prices WHERE source = 'alpha_vantage'"
    ).fetchone()[0]
    db.commit()
    assert len(_bars(db, av_symbol)) == daily_bars.AV_COMPACT_SESSIONS

    # Next day: the run resumes with the two symbols never collected, then deepens the AV one.
    sandbox.admin.advance(days=1)
    engine_clock.advance(ONE_DAY)
    day2 = collect("daily_prices", universe_limit=6, quota_windows=LOOSE, timeout_s=SLOW)
    assert count(db, "SELECT count(DISTINCT symbol) FROM daily_prices") == 6
    missing_first = {s for s in symbols if _bars(db, s)[0][0] > date(2021, 12, 31)}
    sandbox.admin.advance(days=1)
    engine_clock.advance(ONE_DAY)
    collect("daily_prices", universe_limit=6, quota_windows=LOOSE, timeout_s=SLOW)
    assert day2.items_done >= 3
    # After the AV start the symbol's first FMP call brought the older years too.
    assert missing_first <= {av_symbol}
    assert _bars(db, av_symbol)[0][0] <= date(2021, 12, 31)


def test_etf_history_uses_the_etf_universe(collect, db, sandbox):
    assert collect("etf_basic_info").status == "ok"
    result = collect("daily_prices_etf", universe_limit=3, timeout_s=SLOW)
    assert result.status == "ok", result.message
    etfs = [r[0] for r in db.execute("SELECT symbol FROM etf_basic_info ORDER BY symbol LIMIT 3")]
    db.commit()
    for symbol in etfs:
        bars = _bars(db, symbol)
        assert len(bars) > 1200 and bars[-1][0] == LAST_SESSION


def test_crypto_backfill_pages_back_over_runs_then_adds_each_new_kst_day(collect, db, sandbox, engine_clock):
    assert collect("market_code_bithumb").status == "ok"
    markets = [
        r[0]
        for r in db.execute(
            "SELECT market_code FROM market_code_bithumb WHERE market_code LIKE 'KRW-%' ORDER BY 1 LIMIT 2"
        )
    ]
    db.commit()
    # 2026-11-16 15:00 UTC is 00:00 KST on the 17th: the 16th (KST) is the newest complete day.
    newest = date(2026, 11, 16)
    runs = []
    for _ in range(4):
        runs.append(collect("crypto_daily_prices", universe_limit=2))
        assert runs[-1].status == "ok", runs[-1].message
    assert [r.calls for r in runs] == [2, 2, 2, 2]
    for market in markets:
        symbol = market.split("-", 1)[1]
        days = [
            r[0]
            for r in db.execute(
                "SELECT date FROM crypto_daily_prices WHERE symbol = %s AND quote = 'KRW' ORDER BY date",
                (symbol,),
            )
        ]
        db.commit()
        assert days[-1] == newest and len(days) == 730 and len(set(days)) == 730
        assert days[0] == newest - timedelta(days=729)
    done = collect("crypto_daily_prices", universe_limit=2)
    assert done.calls == 0
    sandbox.admin.advance(days=1)
    engine_clock.advance(ONE_DAY)
    nxt = collect("crypto_daily_prices", universe_limit=2)
    assert nxt.calls == 2 and nxt.rows_inserted == 2


def test_coingecko_chart_parses_to_usd_closes_of_past_days(sandbox):
    body = httpx.get(
        sandbox.base_url("coingecko") + "/coins/bitcoin/market_chart",
        params={"vs_currency": "usd", "days": "30", "interval": "daily"},
    ).json()
    rows = daily_bars.parse_coingecko_chart(body, "BTC", sandbox.admin.now())
    assert len(rows) == 30 and rows[-1]["date"] == date(2026, 11, 15)
    assert rows[-1]["close"] == Decimal(str(body["prices"][-2][1]))  # 00:00 UTC of the 16th closes the 15th
    refused = httpx.get(
        sandbox.base_url("coingecko") + "/coins/bitcoin/market_chart",
        params={"vs_currency": "usd", "days": "366"},
    )
    assert refused.status_code == 401 and refused.json()["error"]["status"]["error_code"] == 10012


def test_av_full_output_is_premium_on_the_free_tier(sandbox):
    from plugins.engine import AV_KEY_1

    reply = httpx.get(
        sandbox.base_url("alpha_vantage") + "/query",
        params={"function": "TIME_SERIES_DAILY", "symbol": "AAPL", "outputsize": "full", "apikey": AV_KEY_1},
    ).json()
    assert "premium" in reply["Information"]


def test_earnings_history_prices_and_basic_eps_are_filled_from_collected_data(collect, db, sandbox):
    symbols = _symbols(sandbox, 2)
    seed_universe(db, symbols)
    for name in ("daily_prices", "earnings_history", "income_stmt", "company_overview"):
        assert collect(name, universe_limit=2, timeout_s=SLOW).status == "ok", name
    result = collect("earnings_prices")
    assert result.status == "ok", result.message and result.rows_updated > 0
    rows = db.execute(
        """SELECT symbol, report_date, price_before_close, price_open, price_close, gap_pct, move_pct
             FROM earnings_history WHERE report_date <= '2026-11-13' ORDER BY symbol, report_date"""
    ).fetchall()
    db.commit()
    assert rows and all(r[2] is not None for r in rows)
    symbol, report, before, opened, closed, gap, move = rows[-1]
    session = next(d for d in sessions(report, report + timedelta(days=7)))
    bar = db.execute(
        "SELECT open, close FROM daily_prices WHERE symbol = %s AND date = %s", (symbol, session)
    ).fetchone()
    prev = db.execute(
        "SELECT close FROM daily_prices WHERE symbol = %s AND date < %s ORDER BY date DESC LIMIT 1",
        (symbol, session),
    ).fetchone()
    db.commit()
    assert (opened, closed, before) == (bar[0], bar[1], prev[0])
    assert gap == round((opened - before) / before * 100, 4) and move == round(
        (closed - before) / before * 100, 4
    )
    eps = db.execute(
        """SELECT i.basic_eps, round(i.net_income / o.shares_outstanding, 4) FROM income_stmt i
             JOIN company_overview o USING (symbol) WHERE i.net_income IS NOT NULL"""
    ).fetchall()
    db.commit()
    assert eps and all(a == b for a, b in eps)
    again = collect("earnings_prices")
    assert again.rows_updated == 0
