"""etf_basic_info: the packaged ETF universe, enriched by ETF_PROFILE; the sandbox knows every listed ETF."""

from __future__ import annotations

from decimal import Decimal

import httpx

from marketpipe.datasets.fundamentals import etf_basic_info
from marketpipe.sandbox.providers import alpha_vantage as sandbox_av
from plugins.engine import count


def test_universe_loads_from_the_packaged_list_and_profiles_fill_the_facts(collect, db, sandbox):
    curated = etf_basic_info.curated()
    assert len(curated) >= 20 and [r["popularity_rank"] for r in curated] == list(range(1, len(curated) + 1))

    # A hand-added ETF is never removed, and the list's own rows are written without an API call.
    db.execute(
        "INSERT INTO etf_basic_info (symbol, name, popularity_rank) VALUES ('ZZZX', 'Hand-added', 999)"
    )
    db.commit()
    first = collect("etf_basic_info")
    assert first.status == "ok", first.message
    assert first.calls == 0 and first.rows_inserted == len(curated)
    assert count(db, "SELECT count(*) FROM etf_basic_info") == len(curated) + 1
    spy = db.execute(
        "SELECT name, fund_family, category, popularity_rank, aum, alphavantage_collected FROM etf_basic_info WHERE symbol = 'SPY'"
    ).fetchone()
    db.commit()
    assert spy == ("SPDR S&P 500 ETF Trust", "State Street Global Advisors", "Large Blend", 1, None, False)
    assert collect("etf_basic_info").rows_updated == 0  # unchanged list: nothing rewritten

    # The profile dataset now has a universe; each profile it collects fills the ETF's facts.
    profiles = collect("etf_profile_holdings", max_items=3)
    assert profiles.status == "ok" and profiles.items_done == 3, profiles.message
    served = httpx.get(
        sandbox.base_url("alpha_vantage") + "/query",
        params={"function": "ETF_PROFILE", "symbol": "SPY", "apikey": "sandbox-av-other"},
    ).json()
    facts = db.execute(
        "SELECT aum, expense_ratio, dividend_yield, inception_date::text, alphavantage_collected FROM etf_basic_info WHERE symbol = 'SPY'"
    ).fetchone()
    db.commit()
    assert facts == (
        int(served["net_assets"]),
        Decimal(served["net_expense_ratio"]),
        Decimal(served["dividend_yield"]),
        served["inception_date"],
        True,
    )
    # Re-loading the list keeps the facts the profiles wrote.
    collect("etf_basic_info")
    assert (
        count(db, "SELECT count(*) FROM etf_basic_info WHERE alphavantage_collected AND aum IS NOT NULL") == 3
    )


def test_every_listed_etf_has_a_profile_in_the_sandbox():
    # The sandbox answers ETF_PROFILE with {} for an ETF it does not model (as Alpha Vantage does for
    # unknown symbols): every packaged ETF must be modelled, or the demo would spend calls on nothing.
    assert {r["symbol"] for r in etf_basic_info.curated()} <= set(sandbox_av.ETFS)
