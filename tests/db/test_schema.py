"""The seed-compatible schema (migrations 0001-0099) against a real PostgreSQL.

Table-driven: every table of the seed exists with its exact key; the columns the seed's backend
reads exist with sensible types; instants are timestamptz, text is never truncated, measures never
overflow; the top_gainers trigger sends one NOTIFY per batch; the views run; re-applying is a no-op.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from marketpipe.db import available_migrations, merge_rows, migrate

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "src" / "marketpipe" / "db" / "migrations"

# table -> primary key columns, in key order. The 30 tables of the seed README come first.
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    # stocks / fundamentals / calendars (R30)
    "sp500_companies": ("id",),
    "sp500_top50": ("symbol",),
    "company_overview": ("batch_id", "symbol"),
    "balance_sheet": ("symbol", "fiscaldateending"),
    "earnings_calendar": ("symbol", "report_date"),
    "top_gainers": ("batch_id", "symbol", "category"),
    "company_news": ("symbol", "url"),
    "earnings_news": ("symbol", "report_date", "source", "url"),
    "earnings_news_finnhub": ("symbol", "report_date", "url"),
    # crypto (R30)
    "bithumb_ticker": ("market", "timestamp_field"),
    "market_code_bithumb": ("market_code",),
    "coingecko_coin_details": ("coingecko_id",),
    "coingecko_derivatives": ("batch_id", "market", "symbol"),
    "coingecko_global": ("collected_at",),
    "coingecko_id_mapping": ("coingecko_id",),
    "coingecko_tickers": ("batch_id", "coingecko_id", "market_identifier", "base_symbol", "target_symbol"),
    "coingecko_tickers_bithumb": ("coingecko_id", "exchange_id", "base", "target", "timestamp"),
    "bithumb_coingecko_mapping": ("id",),
    # news / social (R30)
    "market_news": ("source", "url"),
    "market_news_finnhub": ("category", "news_id"),
    "market_news_sentiment": ("batch_id", "url"),
    "truth_social_posts": ("id",),
    "truth_social_tags": ("name", "collected_date"),
    "truth_social_trends": ("id",),
    "x_posts": ("tweet_id",),
    "x_user_profiles": ("username",),
    # macro (R30)
    "cpi": ("date",),
    "inflation": ("date",),
    "federal_funds_rate": ("date",),
    "treasury_yield": ("date", "maturity", "interval_type"),
    # extra tables used by the seed's DAGs and backend
    "symbols": ("symbol",),
    "ipo_calendar": ("id",),
    "etf_basic_info": ("symbol",),
    "etf_profile_holdings": ("id",),
    "earnings_history": ("symbol", "report_date"),
    "sp500_earnings_calendar": ("id",),
    "sp500_earnings_news": ("id",),
    "sp500_market_snapshots": ("symbol", "snapshot_time"),
    "etf_market_snapshots": ("symbol", "snapshot_time"),
    "email_subscriptions": ("id",),
    "sp500_websocket_trades": ("symbol", "timestamp_ms", "seq"),
    "finnhub_trades": ("symbol", "timestamp_ms", "seq"),
    "etf_realtime_prices": ("symbol", "timestamp_ms", "seq"),
    "post_analysis_cache": ("id",),
    "post_keywords": ("post_id", "post_source", "keyword", "keyword_position"),
    "balance_sheet_yfinance": ("symbol", "fiscal_date_ending"),
    "income_stmt": ("symbol", "fiscal_date_ending"),
    "cash_flow": ("symbol", "fiscal_date_ending"),
    "institutional_holders": ("symbol", "holder_name"),
    "insider_trading": ("symbol", "insider_name", "transaction_date", "transaction_type"),
    "data_collection_metrics": ("dag_id", "task_id", "run_id", "execution_date"),
}

# Natural keys of tables whose primary key is a surrogate id: the merge key datasets use.
UNIQUE_KEYS: dict[str, tuple[str, ...]] = {
    "sp500_companies": ("symbol",),
    "bithumb_coingecko_mapping": ("market_code",),
    "x_user_profiles": ("user_id",),
    "ipo_calendar": ("symbol", "ipo_date"),
    "etf_profile_holdings": ("symbol",),
    "sp500_earnings_calendar": ("symbol", "report_date"),
    "sp500_earnings_news": ("calendar_id", "url"),
    "email_subscriptions": ("email", "scope"),
    "post_analysis_cache": ("post_id", "post_source"),
}

# Columns the seed's backend (and its DAG-side readers) select, with the type family expected.
BACKEND_COLUMNS: dict[str, dict[str, str]] = {
    "market_news": {
        "source": "text",
        "url": "text",
        "author": "text",
        "title": "text",
        "description": "text",
        "content": "text",
        "published_at": "timestamptz",
        "fetched_at": "timestamptz",
    },
    "market_news_finnhub": {
        "category": "text",
        "news_id": "int",
        "datetime": "timestamptz",
        "headline": "text",
        "image": "text",
        "related": "text",
        "source": "text",
        "summary": "text",
        "url": "text",
    },
    "company_news": {
        "symbol": "text",
        "title": "text",
        "description": "text",
        "content": "text",
        "published_at": "timestamptz",
    },
    "top_gainers": {
        "batch_id": "int",
        "category": "text",
        "rank_position": "int",
        "symbol": "text",
        "price": "numeric",
        "change_amount": "numeric",
        "change_percentage": "text",
        "change_percentage_value": "numeric",
        "volume": "int",
        "last_updated": "timestamptz",
    },
    "market_news_sentiment": {
        "batch_id": "int",
        "time_published": "timestamptz",
        "overall_sentiment_score": "numeric",
        "overall_sentiment_label": "text",
        "ticker_sentiment": "jsonb",
        "topics": "jsonb",
        "query_type": "text",
    },
    "x_posts": {
        "tweet_id": "text",
        "text": "text",
        "source_account": "text",
        "display_name": "text",
        "created_at": "timestamptz",
        "like_count": "int",
        "retweet_count": "int",
        "reply_count": "int",
    },
    "truth_social_posts": {
        "id": "text",
        "clean_content": "text",
        "username": "text",
        "display_name": "text",
        "created_at": "timestamptz",
        "favourites_count": "int",
        "reblogs_count": "int",
        "replies_count": "int",
        "has_media": "boolean",
        "media_attachments": "jsonb",
    },
    "truth_social_trends": {
        "id": "text",
        "clean_content": "text",
        "username": "text",
        "display_name": "text",
        "created_at": "timestamptz",
        "favourites_count": "int",
        "reblogs_count": "int",
        "replies_count": "int",
        "has_media": "boolean",
        "media_attachments": "jsonb",
    },
    "post_analysis_cache": {
        "id": "int",
        "post_id": "text",
        "post_source": "text",
        "post_timestamp": "timestamptz",
        "author_username": "text",
        "affected_assets": "jsonb",
        "market_data": "jsonb",
        "price_analysis": "jsonb",
        "volume_analysis": "jsonb",
        "analysis_status": "text",
        "error_message": "text",
        "created_at": "timestamptz",
        "updated_at": "timestamptz",
    },
    "earnings_calendar": {
        "symbol": "text",
        "company_name": "text",
        "report_date": "date",
        "fiscal_date_ending": "date",
        "estimate": "numeric",
        "currency": "text",
        "event_description": "text",
        "fetched_at": "timestamptz",
    },
    "sp500_earnings_calendar": {
        "id": "int",
        "symbol": "text",
        "company_name": "text",
        "report_date": "date",
        "fiscal_date_ending": "date",
        "estimate": "numeric",
        "currency": "text",
        "gics_sector": "text",
        "gics_sub_industry": "text",
        "headquarters": "text",
        "event_type": "text",
        "event_title": "text",
        "event_description": "text",
        "total_news_count": "int",
        "forecast_news_count": "int",
        "reaction_news_count": "int",
        "created_at": "timestamptz",
        "updated_at": "timestamptz",
    },
    "sp500_earnings_news": {
        "calendar_id": "int",
        "source_table": "text",
        "title": "text",
        "url": "text",
        "summary": "text",
        "content": "text",
        "source": "text",
        "published_at": "timestamptz",
        "news_section": "text",
        "days_from_earnings": "int",
    },
    "inflation": {"date": "date", "inflation_rate": "numeric"},
    "federal_funds_rate": {"date": "date", "rate": "numeric"},
    "cpi": {"date": "date", "cpi_value": "numeric"},
    "treasury_yield": {"date": "date", "maturity": "text", "interval_type": "text", "yield_rate": "numeric"},
    "balance_sheet": {
        "symbol": "text",
        "fiscaldateending": "date",
        "totalassets": "numeric",
        "totalcurrentassets": "numeric",
        "totalcurrentliabilities": "numeric",
        "inventory": "numeric",
        "cashandcashequivalentsatcarryingvalue": "numeric",
        "totalliabilities": "numeric",
        "totalshareholderequity": "numeric",
    },
    "sp500_websocket_trades": {
        "id": "int",
        "symbol": "text",
        "price": "numeric",
        "volume": "int",
        "volume_exact": "numeric",
        "timestamp_ms": "int",
        "trade_conditions": "text[]",
        "pod_name": "text",
        "source": "text",
        "pod_index": "int",
        "created_at": "timestamptz",
    },
    "finnhub_trades": {
        "id": "int",
        "symbol": "text",
        "price": "numeric",
        "volume": "int",
        "volume_exact": "numeric",
        "timestamp_ms": "int",
        "trade_conditions": "text[]",
        "pod_name": "text",
        "source": "text",
        "pod_index": "int",
        "created_at": "timestamptz",
    },
    "sp500_companies": {
        "symbol": "text",
        "company_name": "text",
        "gics_sector": "text",
        "gics_sub_industry": "text",
        "founded": "text",
        "market_cap": "int",
        "is_current": "boolean",
        "removed_at": "timestamptz",
    },
    "company_overview": {
        "batch_id": "int",
        "symbol": "text",
        "name": "text",
        "description": "text",
        "sector": "text",
        "industry": "text",
        "market_capitalization": "int",
        "pe_ratio": "numeric",
        "beta": "numeric",
        "dividend_yield": "numeric",
        "week_52_high": "numeric",
        "week_52_low": "numeric",
    },
    "etf_basic_info": {"symbol": "text", "name": "text"},
    "etf_profile_holdings": {
        "symbol": "text",
        "net_assets": "int",
        "net_expense_ratio": "numeric",
        "portfolio_turnover": "numeric",
        "dividend_yield": "numeric",
        "inception_date": "date",
        "leveraged": "text",
        "sectors": "jsonb",
        "holdings": "jsonb",
    },
    "etf_realtime_prices": {
        "id": "int",
        "symbol": "text",
        "price": "numeric",
        "volume": "int",
        "volume_exact": "numeric",
        "timestamp_ms": "int",
        "trade_conditions": "text",
        "created_at": "timestamptz",
    },
    "coingecko_coin_details": {
        "coingecko_id": "text",
        "description_en": "text",
        "categories": "jsonb",
        "genesis_date": "date",
        "community_score": "numeric",
        "developer_score": "numeric",
        "github_repos": "jsonb",
        "ath_usd": "numeric",
        "ath_change_percentage": "numeric",
        "atl_change_percentage": "numeric",
        "market_cap_rank": "int",
    },
    "coingecko_tickers_bithumb": {
        "market_code": "text",
        "coingecko_id": "text",
        "symbol": "text",
        "exchange_id": "text",
        "converted_last_usd": "numeric",
        "converted_volume_usd": "int",
        "converted_volume_usd_exact": "numeric",
        "timestamp": "timestamptz",
        "last_traded_at": "timestamptz",
        "created_at": "timestamptz",
    },
    "coingecko_derivatives": {
        "batch_id": "text",
        "index_id": "text",
        "funding_rate": "numeric",
        "open_interest_usd": "numeric",
        "volume_24h_usd": "numeric",
        "collected_at": "timestamptz",
        "expired_at": "timestamptz",
    },
    "coingecko_global": {
        "total_market_cap_usd": "numeric",
        "btc_dominance": "numeric",
        "collected_at": "timestamptz",
        "market_cap_percentage_json": "jsonb",
    },
    "bithumb_ticker": {
        "market": "text",
        "trade_price": "numeric",
        "change_rate": "numeric",
        "signed_change_rate": "numeric",
        "acc_trade_price_24h": "numeric",
        "trade_timestamp": "int",
        "timestamp_field": "int",
        "source": "text",
    },
    "market_code_bithumb": {"market_code": "text", "korean_name": "text", "english_name": "text"},
    "ipo_calendar": {
        "symbol": "text",
        "company_name": "text",
        "ipo_date": "date",
        "price_range_low": "numeric",
        "price_range_high": "numeric",
        "exchange": "text",
    },
    "email_subscriptions": {
        "id": "int",
        "email": "text",
        "scope": "text",
        "unsubscribe_token": "uuid",
        "is_active": "boolean",
        "is_verified": "boolean",
        "verification_token": "uuid",
        "verification_expires_at": "timestamptz",
        "verified_at": "timestamptz",
        "agreed_at": "timestamptz",
        "created_at": "timestamptz",
    },
}

SEED_VIEWS = (
    "coingecko_bithumb_mapping",
    "crypto_detail_with_bithumb",
    "v_kimchi_premium_realtime",
    "latest_crypto_market_overview",
    "crypto_market_trends",
    "monthly_dominance_history",
    "latest_derivatives_summary",
    "derivatives_by_market",
    "v_bithumb_coingecko_mapping_summary",
    "v_bithumb_coingecko_issues",
    "v_bithumb_coingecko_successful",
)

_TYPE_FAMILY = {
    "text": "text",
    "character varying": "text",
    "integer": "int",
    "bigint": "int",
    "smallint": "int",
    "numeric": "numeric",
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp",
    "date": "date",
    "jsonb": "jsonb",
    "boolean": "boolean",
    "uuid": "uuid",
}


def _family(data_type: str, udt_name: str) -> str:
    if data_type == "ARRAY":
        return f"{udt_name.lstrip('_')}[]"
    return _TYPE_FAMILY.get(data_type, data_type)


def _columns(conn: psycopg.Connection, table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT column_name, data_type, udt_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = %s",
        (table,),
    ).fetchall()
    return {name: _family(data_type, udt) for name, data_type, udt in rows}


def _primary_key(conn: psycopg.Connection, table: str) -> tuple[str, ...]:
    rows = conn.execute(
        """SELECT a.attname
             FROM pg_index i
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
            WHERE i.indrelid = to_regclass(%s) AND i.indisprimary
            ORDER BY array_position(i.indkey::int2[], a.attnum)""",
        (f"public.{table}",),
    ).fetchall()
    return tuple(r[0] for r in rows)


def _unique_keys(conn: psycopg.Connection, table: str) -> set[tuple[str, ...]]:
    rows = conn.execute(
        """SELECT i.indexrelid, a.attname
             FROM pg_index i
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
            WHERE i.indrelid = to_regclass(%s) AND i.indisunique AND i.indpred IS NULL
            ORDER BY i.indexrelid, array_position(i.indkey::int2[], a.attnum)""",
        (f"public.{table}",),
    ).fetchall()
    keys: dict[int, list[str]] = {}
    for index_id, column in rows:
        keys.setdefault(index_id, []).append(column)
    return {tuple(cols) for cols in keys.values()}


@pytest.fixture(scope="module")
def schema(pg_session_dsn: str) -> Iterator[psycopg.Connection]:
    """A read-only look at the migrated schema, shared by the catalog tests (no per-test database)."""
    conn = psycopg.connect(pg_session_dsn, autocommit=True)
    yield conn
    conn.close()


def test_the_seed_readme_tables_and_the_extras_are_all_covered() -> None:
    assert len(PRIMARY_KEYS) == 51  # 30 README tables + 21 used by the seed's code and backend


@pytest.mark.parametrize(("table", "key"), sorted(PRIMARY_KEYS.items()))
def test_table_exists_with_its_primary_key(
    schema: psycopg.Connection, table: str, key: tuple[str, ...]
) -> None:
    assert _primary_key(schema, table) == key


@pytest.mark.parametrize(("table", "key"), sorted(UNIQUE_KEYS.items()))
def test_surrogate_keyed_table_has_its_natural_unique_key(
    schema: psycopg.Connection, table: str, key: tuple[str, ...]
) -> None:
    assert key in _unique_keys(schema, table)


def test_no_unexpected_tables_in_the_seed_range(schema: psycopg.Connection) -> None:
    """Everything public is either a seed table or another helper's state table (0100+)."""
    tables = {
        r[0]
        for r in schema.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
    }
    assert set(PRIMARY_KEYS) <= tables


@pytest.mark.parametrize(("table", "expected"), sorted(BACKEND_COLUMNS.items()))
def test_backend_columns_exist_with_sensible_types(
    schema: psycopg.Connection, table: str, expected: dict[str, str]
) -> None:
    actual = _columns(schema, table)
    wrong = {col: (want, actual.get(col)) for col, want in expected.items() if actual.get(col) != want}
    assert wrong == {}


def test_seed_tables_use_timestamptz_text_and_unbounded_numeric(schema: psycopg.Connection) -> None:
    """No naive timestamps, no varchar(n) truncation, no NUMERIC(p,s) that can overflow."""
    rows = schema.execute(
        """SELECT table_name, column_name, data_type, character_maximum_length, numeric_precision
             FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name = ANY (%s)""",
        (list(PRIMARY_KEYS),),
    ).fetchall()
    assert rows, "seed tables must exist"
    naive = [(t, c) for t, c, dt, _, _ in rows if dt == "timestamp without time zone"]
    bounded_text = [(t, c) for t, c, dt, length, _ in rows if dt == "character varying" or length]
    bounded_numeric = [(t, c) for t, c, dt, _, prec in rows if dt == "numeric" and prec is not None]
    assert (naive, bounded_text, bounded_numeric) == ([], [], [])


def test_top_gainers_change_percentage_is_a_number_and_the_backend_string(db: psycopg.Connection) -> None:
    db.execute(
        "INSERT INTO top_gainers (batch_id, symbol, category, change_percentage_value) "
        "VALUES (1, 'ABC', 'top_losers', -12.3456)"
    )
    value = db.execute("SELECT change_percentage_value, change_percentage FROM top_gainers").fetchone()
    assert value == (Decimal("-12.3456"), "-12.3456%")


def test_overview_batch_ids_come_from_a_sequence(db: psycopg.Connection) -> None:
    first, second = (
        db.execute("SELECT nextval('company_overview_batch_id_seq')").fetchone()[0] for _ in range(2)
    )
    assert second > first
    for sequence in ("top_gainers_batch_id_seq", "market_news_sentiment_batch_id_seq"):
        assert db.execute("SELECT nextval(%s)", (sequence,)).fetchone()[0] >= 1


def test_removed_constituent_must_say_when(db: psycopg.Connection) -> None:
    db.execute("INSERT INTO sp500_companies (symbol, company_name) VALUES ('OLD', 'Old Co')")
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("UPDATE sp500_companies SET is_current = false WHERE symbol = 'OLD'")


def test_trades_in_the_same_millisecond_are_all_kept_and_replays_are_not(db: psycopg.Connection) -> None:
    trades = [
        {
            "symbol": "AAPL",
            "price": Decimal("190.01"),
            "volume_exact": 10,
            "timestamp_ms": 1_700_000_000_000,
            "seq": seq,
            "trade_conditions": ["1", "12"],
            "pod_name": "p-0",
            "pod_index": 0,
        }
        for seq in range(3)
    ]
    for table in ("sp500_websocket_trades", "finnhub_trades"):
        with db.transaction():
            first = merge_rows(db, table, trades, ["symbol", "timestamp_ms", "seq"], on_conflict="nothing")
            replay = merge_rows(db, table, trades, ["symbol", "timestamp_ms", "seq"], on_conflict="nothing")
        count = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        assert (first.inserted, replay.inserted, count) == (3, 0, 3)


def test_global_and_derivatives_reruns_do_not_duplicate(db: psycopg.Connection) -> None:
    instant = "2026-11-26T00:00:00+00:00"
    global_row = {"collected_at": instant, "btc_dominance": Decimal("55.1"), "markets": 1000}
    derivative = {
        "batch_id": "20261126_000000",
        "market": "Binance (Futures)",
        "symbol": "BTCUSDT",
        "index_id": "BTC",
        "funding_rate": Decimal("0.0001"),
        "collected_at": instant,
    }
    for _ in range(2):  # the same interval collected twice
        with db.transaction():
            merge_rows(db, "coingecko_global", [global_row], ["collected_at"])
            merge_rows(db, "coingecko_derivatives", [derivative], ["batch_id", "market", "symbol"])
    counts = db.execute(
        "SELECT (SELECT count(*) FROM coingecko_global), (SELECT count(*) FROM coingecko_derivatives)"
    ).fetchone()
    assert counts == (1, 1)


def test_bithumb_ticker_keeps_one_row_per_market_and_instant(db: psycopg.Connection) -> None:
    snapshot = {"market": "KRW-BTC", "trade_price": Decimal("1.5e8"), "timestamp_field": 1_700_000_000_123}
    with db.transaction():
        merge_rows(db, "bithumb_ticker", [snapshot, snapshot], ["market", "timestamp_field"])
        merge_rows(
            db,
            "bithumb_ticker",
            [{**snapshot, "timestamp_field": 1_700_000_001_000}],
            ["market", "timestamp_field"],
        )
    assert db.execute("SELECT count(*) FROM bithumb_ticker").fetchone() == (2,)


@pytest.mark.parametrize("view", SEED_VIEWS)
def test_view_selects_on_empty_tables(db: psycopg.Connection, view: str) -> None:
    rows = db.execute(f"SELECT * FROM {view}").fetchall()
    assert rows == [] or view == "v_bithumb_coingecko_mapping_summary"


def test_mapping_summary_counts_nothing_on_empty_tables(db: psycopg.Connection) -> None:
    total, successful = db.execute(
        "SELECT total_mappings, successful_mappings FROM v_bithumb_coingecko_mapping_summary"
    ).fetchone()
    assert (total, successful) == (0, 0)


def test_crypto_detail_view_joins_only_the_latest_bithumb_ticker(db: psycopg.Connection) -> None:
    db.execute(
        "INSERT INTO coingecko_coin_details (coingecko_id, symbol, name, market_cap_rank) "
        "VALUES ('bitcoin', 'btc', 'Bitcoin', 1)"
    )
    db.execute("INSERT INTO market_code_bithumb VALUES ('KRW-BTC', '비트코인', 'Bitcoin', NULL)")
    db.execute(
        "INSERT INTO bithumb_ticker (market, trade_price, timestamp_field) "
        "VALUES ('KRW-BTC', 100, 1), ('KRW-BTC', 300, 3), ('KRW-BTC', 200, 2)"
    )
    rows = db.execute(
        "SELECT coingecko_id, bithumb_market, bithumb_krw_price FROM crypto_detail_with_bithumb"
    ).fetchall()
    assert rows == [("bitcoin", "KRW-BTC", Decimal("300"))]


def test_latest_market_overview_reads_the_newest_global_row(db: psycopg.Connection) -> None:
    db.execute(
        "INSERT INTO coingecko_global (collected_at, total_market_cap_usd, btc_dominance, eth_dominance) "
        "VALUES ('2026-11-25T00:00Z', 1e12, 50, 10), ('2026-11-26T00:00Z', 4e12, 61, 12)"
    )
    row = db.execute(
        "SELECT market_sentiment, dominance_analysis, altcoin_dominance FROM latest_crypto_market_overview"
    ).fetchall()
    assert row == [("Bull Market", "BTC Dominance High", Decimal("27"))]


# ---- top_gainers NOTIFY: one per batch ---------------------------------------------------------

SENTINEL = "sentinel"


@pytest.fixture
def listener(pg_dsn: str) -> Iterator[psycopg.Connection]:
    conn = psycopg.connect(pg_dsn, autocommit=True)
    conn.execute("LISTEN top_gainers_updated")
    yield conn
    conn.close()


def _notifications_until_sentinel(listener: psycopg.Connection, writer: psycopg.Connection) -> list[str]:
    """Payloads received before a sentinel sent after the writes (notifies arrive in commit order)."""
    writer.execute("SELECT pg_notify('top_gainers_updated', %s)", (SENTINEL,))
    writer.commit()
    payloads: list[str] = []
    for notify in listener.notifies(timeout=10):
        if notify.payload == SENTINEL:
            return payloads
        payloads.append(notify.payload)
    raise AssertionError(f"sentinel not received; got {payloads}")


def _batch(batch_id: int) -> list[dict[str, object]]:
    sizes = {"top_gainers": 20, "top_losers": 10, "most_actively_traded": 20}
    return [
        {
            "batch_id": batch_id,
            "symbol": f"{category[:3].upper()}{rank}",
            "category": category,
            "rank_position": rank,
            "price": Decimal("10.5"),
            "change_percentage_value": Decimal("12.3"),
            "volume": 1000,
            "last_updated": "2026-11-26T00:00:00+00:00",
        }
        for category, size in sizes.items()
        for rank in range(1, size + 1)
    ]


def test_top_gainers_batch_sends_exactly_one_notify_with_batch_and_time(
    db: psycopg.Connection, listener: psycopg.Connection
) -> None:
    batch_id = db.execute("SELECT nextval('top_gainers_batch_id_seq')").fetchone()[0]
    before = time.time()
    with db.transaction():
        result = merge_rows(db, "top_gainers", _batch(batch_id), ["batch_id", "symbol", "category"])
    db.commit()
    payloads = _notifications_until_sentinel(listener, db)
    assert result.inserted == 50
    assert len(payloads) == 1
    message = json.loads(payloads[0])
    assert set(message) == {"batch_id", "timestamp"}
    assert message["batch_id"] == batch_id
    assert before - 5 <= message["timestamp"] <= time.time() + 5


def test_each_new_batch_notifies_once_and_a_rerun_of_a_batch_is_silent(
    db: psycopg.Connection, listener: psycopg.Connection
) -> None:
    with db.transaction():
        merge_rows(db, "top_gainers", _batch(7), ["batch_id", "symbol", "category"])
    db.commit()
    with db.transaction():  # one plain INSERT carrying two new batches: one notify each
        db.execute(
            "INSERT INTO top_gainers (batch_id, symbol, category, rank_position) "
            "SELECT b, 'S' || r, 'top_gainers', r FROM generate_series(8, 9) b, generate_series(1, 20) r"
        )
    db.commit()
    with db.transaction():  # rerun of batch 7: rows updated, none inserted
        merge_rows(
            db,
            "top_gainers",
            [{**r, "price": Decimal("11")} for r in _batch(7)],
            ["batch_id", "symbol", "category"],
        )
    db.commit()
    batches = [json.loads(p)["batch_id"] for p in _notifications_until_sentinel(listener, db)]
    assert batches == [7, 8, 9]


def test_top_gainers_trigger_is_statement_level_with_a_transition_table(schema: psycopg.Connection) -> None:
    row = schema.execute(
        "SELECT tgtype & 1, tgnewtable FROM pg_trigger WHERE tgrelid = 'top_gainers'::regclass "
        "AND NOT tgisinternal"
    ).fetchall()
    assert row == [(0, "inserted_top_gainers")]  # bit 0 clear: FOR EACH STATEMENT


# ---- migrations ---------------------------------------------------------------------------------


def test_schema_migrations_are_recorded_once_and_reapplying_is_a_no_op(db: psycopg.Connection) -> None:
    ours = [m.name for m in available_migrations() if m.name < "0100"]
    assert [name[:4] for name in ours] == [f"{n:04d}" for n in range(1, len(ours) + 1)]
    assert migrate(db) == []
    recorded = db.execute(
        "SELECT name, count(*) FROM schema_migrations WHERE name < '0100' GROUP BY name ORDER BY name"
    ).fetchall()
    assert recorded == [(name, 1) for name in ours]


def test_schema_migrations_run_inside_one_transaction() -> None:
    """No statement that PostgreSQL refuses inside a transaction block."""
    offending = [
        path.name
        for path in sorted(MIGRATIONS_DIR.glob("00*.sql"))
        for line in path.read_text().upper().splitlines()
        if not line.strip().startswith("--")
        and any(word in line for word in ("CONCURRENTLY", "VACUUM", "COMMIT;", "BEGIN;"))
    ]
    assert offending == []
