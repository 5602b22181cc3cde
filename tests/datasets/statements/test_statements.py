"""income_stmt, cash_flow and earnings_history from Alpha Vantage, against the sandbox and PostgreSQL.

Values are compared with what the sandbox serves for the same symbol; a second forced run changes
nothing; a quota reply leaves the symbol due; the sweeps queue behind the daily AV datasets.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from marketpipe.engine.cli import _budget_priority
from marketpipe.engine.registry import get_dataset
from marketpipe.http.errors import MalformedResponse
from marketpipe.providers.alpha_vantage import fundamentals as statements
from plugins.engine import AV_KEY_1, count, seed_universe

SYMBOLS = 3


def _served(sandbox: Any, function: str, symbol: str) -> dict[str, Any]:
    """What the sandbox answers for ``function`` / ``symbol`` right now (quotas off in these tests)."""
    reply = httpx.get(
        f"{sandbox.base_url('alpha_vantage')}/query",
        params={"function": function, "symbol": symbol, "apikey": AV_KEY_1},
        timeout=10,
    )
    reply.raise_for_status()
    return reply.json()


def _dec(value: str) -> Decimal | None:
    return None if value in ("None", "", None) else Decimal(value)


def _universe(db: Any, sandbox: Any) -> list[str]:
    symbols = sorted(sandbox.admin.constituents())[:SYMBOLS]
    seed_universe(db, symbols)
    sandbox.admin.set_quotas(False)
    return symbols


def test_income_statement_rows_match_the_served_quarterly_reports(collect, db, sandbox):
    symbols = _universe(db, sandbox)
    first = collect("income_stmt")
    assert first.status == "ok", first.message
    assert first.items_done == SYMBOLS and first.calls == SYMBOLS

    for symbol in symbols:
        served = _served(sandbox, "INCOME_STATEMENT", symbol)["quarterlyReports"]
        stored = {
            row[0].isoformat(): row[1:]
            for row in db.execute(
                """SELECT fiscal_date_ending, total_revenue, gross_profit, operating_income, net_income,
                          ebitda, basic_eps, diluted_eps
                     FROM income_stmt WHERE symbol = %s""",
                (symbol,),
            ).fetchall()
        }
        assert set(stored) == {r["fiscalDateEnding"] for r in served}
        for report in served:
            assert stored[report["fiscalDateEnding"]] == (
                _dec(report["totalRevenue"]),
                _dec(report["grossProfit"]),
                _dec(report["operatingIncome"]),
                _dec(report["netIncome"]),
                _dec(report["ebitda"]),
                None,  # basic_eps: not in AV's income statement
                None,  # diluted_eps
            )
    db.commit()
    assert first.rows_inserted == count(db, "SELECT count(*) FROM income_stmt")

    again = collect("income_stmt", force=True)
    assert again.status == "ok" and again.calls == SYMBOLS
    assert (again.rows_inserted, again.rows_updated) == (0, 0)


def test_cash_flow_maps_investing_financing_and_computes_free_cash_flow(collect, db, sandbox):
    symbols = _universe(db, sandbox)
    first = collect("cash_flow")
    assert first.status == "ok", first.message

    symbol = symbols[0]
    served = _served(sandbox, "CASH_FLOW", symbol)["quarterlyReports"]
    stored = {
        row[0].isoformat(): row[1:]
        for row in db.execute(
            """SELECT fiscal_date_ending, operating_cashflow, investing_cashflow, financing_cashflow,
                      capital_expenditures, free_cash_flow FROM cash_flow WHERE symbol = %s""",
            (symbol,),
        ).fetchall()
    }
    db.commit()
    assert len(stored) == len(served) > 0
    for report in served:
        operating, capex = _dec(report["operatingCashflow"]), _dec(report["capitalExpenditures"])
        assert stored[report["fiscalDateEnding"]] == (
            operating,
            _dec(report["cashflowFromInvestment"]),
            _dec(report["cashflowFromFinancing"]),
            capex,
            operating - capex,
        )
    assert count(db, "SELECT count(DISTINCT symbol) FROM cash_flow") == SYMBOLS

    again = collect("cash_flow", force=True)
    assert (again.rows_inserted, again.rows_updated) == (0, 0)


def test_earnings_history_keeps_report_dates_eps_and_surprise(collect, db, sandbox):
    symbols = _universe(db, sandbox)
    first = collect("earnings_history")
    assert first.status == "ok", first.message

    for symbol in symbols:
        served = _served(sandbox, "EARNINGS", symbol)["quarterlyEarnings"]
        stored = {
            row[0].isoformat(): row[1:]
            for row in db.execute(
                """SELECT report_date, eps_estimate, eps_actual, surprise_pct, price_open, gap_pct
                     FROM earnings_history WHERE symbol = %s""",
                (symbol,),
            ).fetchall()
        }
        assert len(stored) == len(served) > 0
        for report in served:
            assert stored[report["reportedDate"]] == (
                _dec(report["estimatedEPS"]),
                _dec(report["reportedEPS"]),
                _dec(report["surprisePercentage"]),
                None,  # prices: no daily series on the free tier
                None,
            )
    db.commit()
    again = collect("earnings_history", force=True)
    assert (again.rows_inserted, again.rows_updated) == (0, 0)


def test_quota_reply_leaves_the_symbol_due_and_the_next_day_resumes(collect, db, sandbox, engine_clock):
    symbols = sorted(sandbox.admin.constituents())[:SYMBOLS]
    seed_universe(db, symbols)
    sandbox.admin.set_provider_quota("alpha_vantage", windows=[{"name": "day", "limit": 1, "seconds": 86400}])
    windows = {"alpha_vantage": ()}  # the provider, not our ledger, says "quota"
    stopped = collect("cash_flow", quota_windows=windows)
    assert stopped.status == "partial" and stopped.error_class == "QuotaExhausted"
    assert stopped.items_done == 1 and stopped.items_pending == SYMBOLS - 1
    assert count(db, "SELECT count(DISTINCT symbol) FROM cash_flow") == 1
    due = db.execute(
        "SELECT item FROM collect_cursors WHERE dataset = 'cash_flow' AND last_done_at IS NOT NULL"
    ).fetchall()
    db.commit()
    assert [row[0] for row in due] == symbols[:1]


def test_statement_sweeps_queue_behind_the_existing_alpha_vantage_datasets():
    order = sorted(
        (get_dataset(n) for n in ("income_stmt", "cash_flow", "earnings_history", "balance_sheet",
                                  "company_overview", "etf_profile_holdings", "top_gainers")),
        key=_budget_priority,
    )  # fmt: skip
    names = [spec.name for spec in order]
    assert names.index("balance_sheet") < min(names.index(n) for n in ("income_stmt", "cash_flow"))
    assert set(names[-3:]) == {"income_stmt", "cash_flow", "earnings_history"}
    for name in ("income_stmt", "cash_flow", "earnings_history"):
        spec = get_dataset(name)
        assert spec.max_items_per_run is not None and spec.max_items_per_run <= 10


# -- pure parsers on the reply shapes of docs/providers.md ------------------------------------------------------------


def test_parsers_turn_none_strings_into_null_and_skip_undated_reports():
    body = {
        "symbol": "AAPL",
        "quarterlyReports": [
            {"fiscalDateEnding": "2024-12-31", "totalRevenue": "124300000000", "grossProfit": "None",
             "operatingIncome": "42832000000", "netIncome": "-1", "ebitda": "None"},
            {"fiscalDateEnding": "None", "totalRevenue": "1"},
        ],
    }  # fmt: skip
    rows = statements.parse_income_statement(body, "AAPL")
    assert rows == [
        {"symbol": "AAPL", "fiscal_date_ending": rows[0]["fiscal_date_ending"],
         "total_revenue": Decimal("124300000000"), "gross_profit": None,
         "operating_income": Decimal("42832000000"), "net_income": Decimal("-1"), "ebitda": None}
    ]  # fmt: skip
    flows = statements.parse_cash_flow(
        {"quarterlyReports": [{"fiscalDateEnding": "2024-12-31", "operatingCashflow": "100",
                               "capitalExpenditures": "None", "cashflowFromInvestment": "-5",
                               "cashflowFromFinancing": "-7"}]},
        "MSFT",
    )  # fmt: skip
    assert flows[0]["symbol"] == "MSFT" and flows[0]["free_cash_flow"] is None
    earnings = statements.parse_earnings(
        {"symbol": "AAPL", "quarterlyEarnings": [
            {"fiscalDateEnding": "2024-12-31", "reportedDate": "2025-01-30", "reportedEPS": "2.40",
             "estimatedEPS": "2.34", "surprise": "0.06", "surprisePercentage": "2.5641",
             "reportTime": "post-market"},
            {"fiscalDateEnding": "2024-03-31", "reportedDate": "2024-05-02", "reportedEPS": "1.53",
             "estimatedEPS": "None", "surprise": "None", "surprisePercentage": "None"}]},
        "AAPL",
    )  # fmt: skip
    assert [
        (str(r["report_date"]), r["eps_actual"], r["eps_estimate"], r["surprise_pct"]) for r in earnings
    ] == [
        ("2025-01-30", Decimal("2.40"), Decimal("2.34"), Decimal("2.5641")),
        ("2024-05-02", Decimal("1.53"), None, None),
    ]


@pytest.mark.parametrize("body", [[], {"symbol": "X"}, {"quarterlyReports": "nope"}])
def test_parsers_reject_bodies_without_report_lists(body):
    with pytest.raises(MalformedResponse):
        statements.parse_income_statement(body, "X")
