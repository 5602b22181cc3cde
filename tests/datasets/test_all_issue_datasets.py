"""Every dataset of the first family: a full run fills each table, a second run is idempotent."""

from __future__ import annotations

from marketpipe.engine.registry import get_dataset, in_dependency_order
from plugins.engine import count

DATASETS = [
    "sp500_companies", "top_gainers", "company_overview", "balance_sheet", "earnings_calendar",
    "ipo_calendar", "cpi", "inflation", "federal_funds_rate", "treasury_yield", "sp500_top50",
]  # fmt: skip


def test_full_run_fills_every_table_and_a_second_run_changes_nothing(collect, db, sandbox):
    sandbox.admin.set_quotas(False)
    order = [spec.name for wave in in_dependency_order([get_dataset(n) for n in DATASETS]) for spec in wave]
    first = {name: collect(name, quotas=False) for name in order}
    for name, result in first.items():
        assert result.status == "ok", (name, result.message)
        table = get_dataset(name).table
        assert count(db, f"SELECT count(*) FROM {table}") > 0, name
    assert count(db, "SELECT count(DISTINCT symbol) FROM company_overview") >= 29  # 30-symbol universe
    assert count(db, "SELECT count(DISTINCT symbol) FROM balance_sheet") >= 29

    second = {name: collect(name, quotas=False) for name in order}
    for name, result in second.items():
        assert result.status == "ok", (name, result.message)
        assert result.calls == 0, name
        assert (result.rows_inserted, result.rows_updated) == (0, 0), name
