"""Validation before the merge (pure, on hand-made column rules) and the runner's per-item isolation
of parser exceptions (against the sandbox): hostile values cost one row or one item, never the run."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketpipe.engine.validate import MAX_INDEXED_BYTES, ColumnRule, clean_str, validate_rows
from marketpipe.providers.base import WrongType, to_decimal, to_instant
from plugins.engine import count

RULES = {
    "symbol": ColumnRule("symbol", "text", "S", indexed=True, required=True),
    "name": ColumnRule("name", "text", "S", indexed=False, required=False),
    "price": ColumnRule("price", "numeric", "N", indexed=False, required=False),
    "volume": ColumnRule("volume", "int8", "N", indexed=False, required=False),
    "at": ColumnRule("at", "timestamptz", "D", indexed=False, required=False),
    "raw": ColumnRule("raw", "jsonb", "U", indexed=False, required=False),
    "ratio": ColumnRule("ratio", "numeric", "N", indexed=False, required=False, max_digits=6),
}


@given(st.text(alphabet=st.characters(codec=None, categories=None), max_size=200))
def test_cleaned_text_always_encodes_as_utf8_and_has_no_nul(text):
    cleaned = clean_str(text + "\ud800\x00")
    cleaned.encode("utf-8")  # raises on a surrogate
    assert "\x00" not in cleaned and cleaned.endswith("\ufffd")


@given(st.recursive(st.none() | st.integers() | st.text(max_size=5), lambda c: st.lists(c, max_size=3)))
def test_any_json_value_is_stored_clean_or_rejected_with_a_reason(value):
    kept, rejected = validate_rows([{"symbol": "A", "raw": {"v": value}}], RULES)
    assert len(kept) + len(rejected) == 1
    assert all(r.reason.startswith("raw:") for r in rejected)


def test_each_hostile_value_rejects_its_row_only_with_a_named_reason():
    rows = [
        {"symbol": "OK", "name": "fine\x00\ud83d", "price": "1.5", "volume": 10},
        {"symbol": "X" * (MAX_INDEXED_BYTES + 1), "name": "long key"},
        {"symbol": "B", "price": {"wrong": "type"}},
        {"symbol": "C", "volume": 2**70},
        {"symbol": "D", "at": datetime(9999, 1, 1, tzinfo=UTC)},
        {"symbol": "E", "raw": _nested(100)},
        {"symbol": None},
        {"symbol": "F", "price": "abc"},
        {"symbol": "G", "name": ["a", "list"]},
        {"symbol": "H", "ratio": Decimal("1e12")},
    ]
    kept, rejected = validate_rows(rows, RULES)
    assert [row["symbol"] for row in kept] == ["OK"]
    assert kept[0]["name"] == "fine\ufffd" and kept[0]["price"] == Decimal("1.5")
    assert [r.category for r in rejected] == [
        "symbol: value too long for an index",
        "price: wrong type",
        "volume: out of range",
        "at: out of range",
        "raw: nested deeper than 32 levels",
        "symbol: missing",
        "price: not a number",
        "name: wrong type",
        "ratio: out of range",
    ]


def _nested(depth: int):
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def test_shared_converters_refuse_wrong_types_and_out_of_range_epochs():
    with pytest.raises(WrongType):
        to_decimal({"a": 1})
    with pytest.raises(WrongType):
        to_instant(10**15)  # milliseconds-as-seconds far beyond any real instant
    assert to_instant(1_700_000_000) == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert to_decimal("None") is None and to_decimal("12.5%") == Decimal("12.5")


def test_a_deeply_nested_reply_fails_that_item_and_the_run_goes_on(collect, db, sandbox):
    """A reply nested 100 000 deep makes the JSON decoder raise RecursionError — an untyped exception
    that used to escape and end the run. Now: that symbol is a MalformedItem, the others are stored."""
    sandbox.admin.set_quotas(False)
    collect("sp500_companies", quotas=False)
    body = '{"Symbol": ' + "[" * 100_000 + "]" * 100_000 + "}"
    sandbox.admin.add_fault("alpha_vantage", "reply", count=1, body=body, content_type="application/json")
    result = collect("company_overview", quotas=False, universe_limit=5)
    assert result.status == "partial" and result.errors == {"MalformedItem": 1}, result.message
    assert result.items_done == 4 and "RecursionError" in result.message
    assert count(db, "SELECT count(DISTINCT symbol) FROM company_overview") == 4
    failed = db.execute(
        "SELECT last_error_class FROM collect_cursors WHERE dataset='company_overview' AND last_error_at IS NOT NULL"
    ).fetchall()
    db.commit()
    assert failed == [("MalformedItem",)]
    again = collect("company_overview", quotas=False, universe_limit=5)
    assert again.status == "ok" and again.items_done == 1  # the failed item stayed due, first in line
