"""The seed's backend reads marketpipe's data without a type error: the contract test.

``tests/contract_data/seed-backend-models.md`` lists every table and column the seed backend's ORM
reads, with its SQLAlchemy type. Against a database filled by a sandbox collection and a short
stream (``conftest.filled``), for every table and column:

- the column exists;
- its PostgreSQL type is one psycopg returns as the Python type the SQLAlchemy type implies
  (checked on the catalogue, so it also holds for rows not collected here);
- every stored value arrives as that Python type (``int`` for BIGINT/INTEGER, ``str`` for
  VARCHAR/TEXT, ``Decimal`` for NUMERIC/DECIMAL, ``datetime`` for DATETIME/TIMESTAMP, …);
- key columns the seed always wrote are never NULL.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg import sql

from plugins._contractkit import CONTRACT, Filled, parse_contract

CONTRACT_TABLES = parse_contract(CONTRACT.read_text(encoding="utf-8"))

#: Tables no marketpipe job writes: the seed backend's own subscribe/verify flows fill them.
WRITTEN_BY_THE_BACKEND = {"email_subscriptions"}

#: Columns the seed never left NULL (its keys and NOT NULL columns, and the fields the backend
#: sorts, joins or formats without a NULL check). From docs/seed.md §1 and §5.
SEED_NEVER_NULL: dict[str, tuple[str, ...]] = {
    "balance_sheet": ("symbol", "fiscaldateending"),
    "bithumb_ticker": ("id", "market", "timestamp_field", "trade_price", "trade_timestamp"),
    "coingecko_coin_details": ("coingecko_id", "symbol", "name"),
    "coingecko_derivatives": ("id", "batch_id", "market", "symbol", "collected_at"),
    "coingecko_global": ("id", "collected_at"),
    "coingecko_tickers_bithumb": ("id", "coingecko_id", "exchange_id", "base", "target", "market_code"),
    "company_news": ("symbol", "url", "published_at"),
    "company_overview": ("batch_id", "symbol", "name"),
    "cpi": ("date", "cpi_value"),
    "earnings_calendar": ("symbol", "report_date"),
    "earnings_news_finnhub": ("symbol", "report_date", "url", "published_at"),
    "email_subscriptions": ("id", "email", "scope", "unsubscribe_token", "is_active"),
    "federal_funds_rate": ("date", "rate"),
    "inflation": ("date", "inflation_rate"),
    "ipo_calendar": ("id", "symbol", "ipo_date"),
    "market_news": ("source", "url", "title", "published_at"),
    "market_news_finnhub": ("category", "news_id", "datetime", "url"),
    "market_news_sentiment": ("batch_id", "url", "title", "time_published"),
    "sp500_earnings_calendar": ("id", "symbol", "report_date"),
    "sp500_earnings_news": ("id", "calendar_id", "url", "published_at", "news_section"),
    "sp500_websocket_trades": ("id", "symbol", "price", "volume", "timestamp_ms", "created_at"),
    "top_gainers": ("batch_id", "symbol", "category", "rank_position", "change_percentage", "volume"),
    "treasury_yield": ("date", "maturity", "interval_type", "yield_rate"),
    "truth_social_posts": ("id", "created_at", "username"),
    "truth_social_tags": ("name", "collected_date"),
    "truth_social_trends": ("id", "created_at", "username"),
    "x_posts": ("tweet_id", "created_at", "text"),
}

# SQLAlchemy type (without arguments) → (Python type of the values, PostgreSQL types psycopg loads as it)
_INT = (int, {"int2", "int4", "int8"})
_STR = (str, {"text", "varchar", "bpchar"})
_NUM = (Decimal, {"numeric"})
_TIME = (datetime, {"timestamptz", "timestamp"})
_JSON = ((dict, list), {"jsonb", "json"})
EXPECTED: dict[str, tuple[Any, set[str]]] = {
    "BIGINT": _INT,
    "INTEGER": _INT,
    "VARCHAR": _STR,
    "TEXT": _STR,
    "NUMERIC": _NUM,
    "DECIMAL": _NUM,
    "DATETIME": _TIME,
    "TIMESTAMP": _TIME,
    "DATE": (date, {"date"}),
    "BOOLEAN": (bool, {"bool"}),
    "JSONB": _JSON,
    "UUID": (uuid.UUID, {"uuid"}),
    "ARRAY": (list, set()),  # any array type (typcategory 'A')
}


def expected_for(declared: str) -> tuple[Any, set[str]]:
    base = declared.split("(", 1)[0].strip().upper()
    if base not in EXPECTED:
        raise AssertionError(f"the contract declares {declared!r}, which this test does not map")
    return EXPECTED[base]


def _is(value: Any, python: Any) -> bool:
    if python is int:
        return type(value) is int  # bool is an int subclass; a bool is not what INTEGER reads
    if python is datetime:
        return type(value) is datetime
    return isinstance(value, python)


def _catalogue(conn: psycopg.Connection, table: str) -> dict[str, tuple[str, str]]:
    rows = conn.execute(
        """SELECT a.attname, t.typname, t.typcategory
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped""",
        (f"public.{table}",),
    ).fetchall()
    return {name: (typname, category) for name, typname, category in rows}


def test_the_contract_copy_lists_the_backend_tables() -> None:
    assert len(CONTRACT_TABLES) >= 27
    assert CONTRACT_TABLES["top_gainers"]["change_percentage"] == "VARCHAR(20)"
    assert CONTRACT_TABLES["sp500_websocket_trades"]["volume"] == "BIGINT"
    assert all(columns for columns in CONTRACT_TABLES.values())
    assert set(SEED_NEVER_NULL) == set(CONTRACT_TABLES)


@pytest.mark.parametrize("table", sorted(CONTRACT_TABLES))
def test_every_column_the_backend_reads_arrives_as_its_declared_python_type(
    filled: Filled, table: str
) -> None:
    columns = CONTRACT_TABLES[table]
    problems: list[str] = []
    with psycopg.connect(filled.dsn) as conn:
        catalogue = _catalogue(conn, table)
        assert catalogue, f"table {table} does not exist"
        for column, declared in sorted(columns.items()):
            python, pg_types = expected_for(declared)
            if column not in catalogue:
                problems.append(f"{column}: missing")
                continue
            typname, category = catalogue[column]
            loads_as_declared = category == "A" if declared.upper() == "ARRAY" else typname in pg_types
            if not loads_as_declared:
                problems.append(f"{column}: {declared} in the backend, {typname} here")
        total = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
        rows = int(total[0]) if total else 0
        if table not in WRITTEN_BY_THE_BACKEND:
            assert rows > 0, f"{table}: the collection and stream wrote no row"
        present = [c for c in sorted(columns) if c in catalogue]
        sample = conn.execute(
            sql.SQL("SELECT {} FROM {} LIMIT 500").format(
                sql.SQL(", ").join(map(sql.Identifier, present)), sql.Identifier(table)
            )
        ).fetchall()
        for index, column in enumerate(present):
            python, _ = expected_for(columns[column])
            wrong = sorted(
                {
                    type(r[index]).__name__
                    for r in sample
                    if r[index] is not None and not _is(r[index], python)
                }
            )
            if wrong:
                problems.append(f"{column}: values arrive as {wrong}, the backend reads {columns[column]}")
        for column in SEED_NEVER_NULL[table]:
            assert column in columns, f"{table}.{column} is not a contract column"
            if column not in catalogue:
                continue
            nulls = conn.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE {} IS NULL").format(
                    sql.Identifier(table), sql.Identifier(column)
                )
            ).fetchone()
            if nulls and nulls[0]:
                problems.append(f"{column}: {nulls[0]} of {rows} rows NULL (the seed always wrote it)")
    assert not problems, f"{table}:\n  " + "\n  ".join(problems)


def test_top_gainers_change_percentage_reads_like_alpha_vantage_and_keeps_the_number(filled: Filled) -> None:
    with psycopg.connect(filled.dsn) as conn:
        rows = conn.execute("SELECT change_percentage, change_percentage_value FROM top_gainers").fetchall()
    assert rows
    for text, number in rows:
        assert text.endswith("%") and Decimal(text[:-1]) == number, (text, number)


def test_the_collection_behind_the_contract_succeeded(filled: Filled) -> None:
    failed = {name: r.message for name, r in filled.results.items() if r.status != "ok"}
    assert not failed
    assert {"sp500_market_snapshots", "etf_market_snapshots", "coingecko_coin_details"} <= set(filled.results)
