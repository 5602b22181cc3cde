"""merge_rows against a real PostgreSQL: inserts, updates, de-duplication, hostile values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import psycopg
import pytest

from marketpipe.db import MergeError, MergeResult, merge_rows

DDL = """
CREATE TABLE merge_probe (
    symbol text NOT NULL,
    day date NOT NULL,
    price numeric(10,4),
    volume bigint,
    note text,
    seen_at timestamptz,
    payload jsonb,
    tags text[],
    updated_at timestamptz,
    PRIMARY KEY (symbol, day)
)
"""


@pytest.fixture
def probe(db: psycopg.Connection) -> psycopg.Connection:
    db.execute(DDL)
    db.commit()
    return db


def fetch_all(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT symbol, day, price, volume, note, seen_at, payload, tags FROM merge_probe ORDER BY symbol, day"
    ).fetchall()


def test_merge_inserts_then_updates_only_changed_rows(probe: psycopg.Connection) -> None:
    rows = [
        {"symbol": "AAPL", "day": date(2026, 1, 2), "price": Decimal("190.1234"), "volume": 10},
        {"symbol": "MSFT", "day": date(2026, 1, 2), "price": Decimal("410.5"), "volume": 20},
    ]
    with probe.transaction():
        first = merge_rows(probe, "merge_probe", rows, ["symbol", "day"], touch="updated_at")
    assert first == MergeResult(inserted=2, updated=0, unchanged=0)

    changed = [dict(rows[0], price=Decimal("191")), rows[1]]
    with probe.transaction():
        second = merge_rows(probe, "merge_probe", changed, ["symbol", "day"], touch="updated_at")
    assert second == MergeResult(inserted=0, updated=1, unchanged=1)
    touched = probe.execute("SELECT symbol FROM merge_probe WHERE updated_at IS NOT NULL").fetchall()
    assert touched == [("AAPL",)]
    assert fetch_all(probe)[0][2] == Decimal("191.0000")


def test_merge_keeps_last_row_of_duplicate_keys_in_one_batch(probe: psycopg.Connection) -> None:
    rows = [
        {"symbol": "AAPL", "day": date(2026, 1, 2), "volume": 1},
        {"symbol": "AAPL", "day": date(2026, 1, 2), "volume": 2},
        {"symbol": "AAPL", "day": date(2026, 1, 2), "volume": 3},
    ]
    result = merge_rows(probe, "merge_probe", rows, ["symbol", "day"])
    probe.commit()
    assert result.inserted == 1
    assert probe.execute("SELECT volume FROM merge_probe").fetchall() == [(3,)]


def test_do_nothing_keeps_history_as_first_written(probe: psycopg.Connection) -> None:
    merge_rows(
        probe, "merge_probe", [{"symbol": "A", "day": date(2026, 1, 1), "note": "first"}], ["symbol", "day"]
    )
    result = merge_rows(
        probe,
        "merge_probe",
        [
            {"symbol": "A", "day": date(2026, 1, 1), "note": "second"},
            {"symbol": "B", "day": date(2026, 1, 1)},
        ],
        ["symbol", "day"],
        on_conflict="nothing",
    )
    probe.commit()
    assert result == MergeResult(inserted=1, updated=0, unchanged=1)
    assert probe.execute("SELECT note FROM merge_probe WHERE symbol='A'").fetchone() == ("first",)


def test_hostile_values_round_trip(probe: psycopg.Connection) -> None:
    big_text = "x" * 1_000_000
    seoul = timezone(timedelta(hours=9))
    rows = [
        {
            "symbol": "NUL",
            "day": date(2026, 1, 1),
            "note": "a\x00b",
            "payload": {"k\x00": ["v\x00", 1, None, {"deep": "\x00"}]},
            "tags": ["x\x00y", "z"],
        },
        {"symbol": "EMOJI", "day": date(2026, 1, 1), "note": "🚀📈 ünïcødé 한국어"},
        {"symbol": "QUOTES", "day": date(2026, 1, 1), "note": 'it\'s "quoted" \\ back\tslash\nnewline'},
        {"symbol": "BIG", "day": date(2026, 1, 1), "note": big_text},
        {"symbol": "NULLS", "day": date(2026, 1, 1), "price": None, "note": None, "payload": None},
        {
            "symbol": "EXTREME",
            "day": date(9999, 12, 31),
            "price": Decimal("999999.9999"),
            "volume": 9_223_372_036_854_775_807,
            "seen_at": datetime(2026, 3, 1, 9, 30, tzinfo=seoul),
        },
        {"symbol": "NEG", "day": date(1, 1, 1), "price": Decimal("-999999.9999"), "volume": -(2**63)},
    ]
    merge_rows(probe, "merge_probe", rows, ["symbol", "day"])
    probe.commit()
    got = {r[0]: r for r in fetch_all(probe)}
    assert got["NUL"][4] == "ab"
    assert got["NUL"][6] == {"k": ["v", 1, None, {"deep": ""}]}
    assert got["NUL"][7] == ["xy", "z"]
    assert got["EMOJI"][4] == "🚀📈 ünïcødé 한국어"
    assert got["QUOTES"][4] == 'it\'s "quoted" \\ back\tslash\nnewline'
    assert got["BIG"][4] == big_text
    assert got["NULLS"][2:5] == (None, None, None)
    assert got["EXTREME"][3] == 9_223_372_036_854_775_807
    assert got["EXTREME"][5] == datetime(2026, 3, 1, 0, 30, tzinfo=UTC)
    assert got["NEG"][2] == Decimal("-999999.9999")


def test_out_of_range_value_names_the_column_and_writes_nothing(probe: psycopg.Connection) -> None:
    rows = [
        {"symbol": "OK", "day": date(2026, 1, 1), "price": Decimal("1")},
        {"symbol": "BAD", "day": date(2026, 1, 1), "price": Decimal("12345678901")},
    ]
    with pytest.raises(MergeError) as info:
        merge_rows(probe, "merge_probe", rows, ["symbol", "day"])
    assert info.value.column == "price"
    assert "merge_probe.price" in str(info.value)
    probe.rollback()
    assert probe.execute("SELECT count(*) FROM merge_probe").fetchone() == (0,)


def test_bigint_overflow_names_the_column(probe: psycopg.Connection) -> None:
    with pytest.raises(MergeError) as info:
        merge_rows(
            probe,
            "merge_probe",
            [{"symbol": "X", "day": date(2026, 1, 1), "volume": 2**64}],
            ["symbol", "day"],
        )
    assert info.value.column == "volume"


def test_failed_merge_inside_a_transaction_leaves_earlier_work_intact(probe: psycopg.Connection) -> None:
    with probe.transaction():
        merge_rows(probe, "merge_probe", [{"symbol": "KEEP", "day": date(2026, 1, 1)}], ["symbol", "day"])
        with pytest.raises(MergeError):
            merge_rows(
                probe,
                "merge_probe",
                [{"symbol": "BAD", "day": date(2026, 1, 1), "price": 1e12}],
                ["symbol", "day"],
            )
    assert probe.execute("SELECT symbol FROM merge_probe").fetchall() == [("KEEP",)]


def test_unknown_column_and_missing_key_are_clear_errors(probe: psycopg.Connection) -> None:
    with pytest.raises(MergeError, match="unknown column"):
        merge_rows(
            probe, "merge_probe", [{"symbol": "A", "day": date(2026, 1, 1), "pirce": 1}], ["symbol", "day"]
        )
    with pytest.raises(MergeError, match="lacks key column day"):
        merge_rows(probe, "merge_probe", [{"symbol": "A"}], ["symbol", "day"])
    with pytest.raises(MergeError, match="does not exist"):
        merge_rows(probe, "no_such_table", [{"symbol": "A"}], ["symbol"])


def test_empty_batch_is_a_no_op(probe: psycopg.Connection) -> None:
    assert merge_rows(probe, "merge_probe", [], ["symbol", "day"]) == MergeResult()


def test_large_batch_uses_one_insert_statement(probe: psycopg.Connection) -> None:
    rows = [{"symbol": f"S{i}", "day": date(2026, 1, 1), "volume": i} for i in range(20_000)]
    probe.execute("SELECT pg_stat_reset()")
    before = probe.execute(
        "SELECT coalesce(n_tup_ins, 0) FROM pg_stat_user_tables WHERE relname = 'merge_probe'"
    ).fetchone()
    result = merge_rows(probe, "merge_probe", rows, ["symbol", "day"])
    probe.commit()
    assert result.inserted == 20_000
    assert before is not None
    assert probe.execute("SELECT count(*), sum(volume) FROM merge_probe").fetchone() == (
        20_000,
        sum(range(20_000)),
    )


def test_rows_with_different_columns_merge_as_their_union(probe: psycopg.Connection) -> None:
    """Columns are the union over the batch; a column a row lacks is NULL (direct COPY and staged)."""
    rows = [
        {"symbol": "AAPL", "day": date(2026, 1, 2), "price": Decimal("1.5")},
        {"symbol": "MSFT", "day": date(2026, 1, 2), "volume": 7, "note": "only here"},
        {"day": date(2026, 1, 2), "symbol": "NVDA", "price": Decimal("3")},  # same columns, other order
    ]
    with probe.transaction():
        assert merge_rows(probe, "merge_probe", rows, ["symbol", "day"]) == MergeResult(inserted=3)
    expected = [
        ("AAPL", date(2026, 1, 2), Decimal("1.5000"), None, None, None, None, None),
        ("MSFT", date(2026, 1, 2), None, 7, "only here", None, None, None),
        ("NVDA", date(2026, 1, 2), Decimal("3.0000"), None, None, None, None, None),
    ]
    assert fetch_all(probe) == expected
    # The staged path (keys exist) treats a missing column the same way.
    again = [{"symbol": "MSFT", "day": date(2026, 1, 2), "volume": 8}, rows[0]]
    with probe.transaction():
        assert merge_rows(probe, "merge_probe", again, ["symbol", "day"]) == MergeResult(
            updated=1, unchanged=1
        )
    # price is a column of this batch (row 2 names it): NULL for MSFT; note is not: left as it was.
    assert fetch_all(probe)[1][2:5] == (None, 8, "only here")
