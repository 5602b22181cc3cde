"""The dataset registry: declarations are complete and agree with the migrated schema."""

from __future__ import annotations

import pytest

from marketpipe.engine.registry import (
    DERIVED,
    UnknownDatasetError,
    all_datasets,
    datasets_in_group,
    get_dataset,
    in_dependency_order,
)
from marketpipe.providers.catalogue import provider_names

PRESETS = {"@once", "@hourly", "@daily", "@weekly", "@monthly", "@yearly"}
ISSUE_DATASETS = {
    "sp500_companies": "stocks", "sp500_top50": "stocks", "top_gainers": "stocks",
    "company_overview": "fundamentals", "balance_sheet": "fundamentals",
    "earnings_calendar": "calendars", "ipo_calendar": "calendars",
    "cpi": "macro", "inflation": "macro", "federal_funds_rate": "macro", "treasury_yield": "macro",
}  # fmt: skip


def test_every_issue_dataset_is_declared_in_its_group():
    declared = {spec.name: spec.group for spec in all_datasets()}
    assert ISSUE_DATASETS.items() <= declared.items()
    assert {spec.name for spec in datasets_in_group("macro")} >= {"cpi", "treasury_yield"}
    assert datasets_in_group("no_such_group") == []
    with pytest.raises(UnknownDatasetError):
        get_dataset("nope")


def test_declarations_are_complete():
    for spec in all_datasets():
        assert spec.schedule in PRESETS or len(spec.schedule.split()) == 5, spec.name
        assert spec.key, spec.name
        for provider in spec.providers:
            assert provider in provider_names(), (spec.name, provider)
            assert provider in spec.fetch or provider in spec.pipeline, (spec.name, provider)
        if not spec.providers:
            assert DERIVED in spec.fetch, spec.name


def test_merge_keys_are_unique_keys_of_their_tables(db):
    for spec in all_datasets():
        unique_keys = {
            tuple(sorted(row[0]))
            for row in db.execute(
                """SELECT array_agg(a.attname::text) FROM pg_index i
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                    WHERE i.indrelid = to_regclass(%s) AND i.indisunique GROUP BY i.indexrelid""",
                (spec.table,),
            ).fetchall()
        }
        assert tuple(sorted(spec.key)) in unique_keys, spec.name
        if spec.batch_sequence:
            assert db.execute("SELECT to_regclass(%s)", (spec.batch_sequence,)).fetchone()[0] is not None


def test_dependency_waves_put_the_universe_first():
    waves = [{spec.name for spec in wave} for wave in in_dependency_order(all_datasets())]
    position = {name: i for i, wave in enumerate(waves) for name in wave}
    assert position["sp500_companies"] < position["company_overview"] < position["sp500_top50"]
    assert position["sp500_companies"] < position["balance_sheet"]
