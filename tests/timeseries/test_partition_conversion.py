"""Migration 0155 converts filled, non-partitioned tick tables into day partitions without losing a row."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql

from marketpipe.db import available_migrations, migrate
from marketpipe.db.connect import with_database

CONVERSION = "0155_timeseries.sql"
TICK_TABLES = {
    "sp500_websocket_trades": "timestamp_ms",
    "finnhub_trades": "timestamp_ms",
    "etf_realtime_prices": "timestamp_ms",
    "bithumb_ticker": "timestamp_field",
}
DAY_MS = 86_400_000


def _apply_before(conn: psycopg.Connection, stop_at: str) -> None:
    """Apply every migration before ``stop_at`` as the migrator would (recorded in its ledger)."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, checksum text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    for migration in available_migrations():
        if migration.name >= stop_at:
            break
        with conn.transaction():
            conn.execute(migration.sql.encode())
            conn.execute(
                "INSERT INTO schema_migrations (name, checksum) VALUES (%s, %s)",
                (migration.name, migration.checksum),
            )


@pytest.fixture
def legacy_db(pg_server: str) -> Iterator[psycopg.Connection]:
    """A database migrated up to (not including) 0155: the tick tables are plain tables."""
    name = f"mp_legacy_{os.getpid()}"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conn = psycopg.connect(with_database(pg_server, name), autocommit=True)
    _apply_before(conn, CONVERSION)
    yield conn
    conn.close()
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _fill(conn: psycopg.Connection, now_ms: int) -> None:
    """Trades over the last 40 days (several per millisecond), one far-future and one ancient row."""
    for table in ("sp500_websocket_trades", "finnhub_trades"):
        conn.execute(
            f"""INSERT INTO {table} (symbol, price, volume_exact, timestamp_ms, seq, trade_conditions, pod_name,
                                     pod_index, created_at)
                SELECT 'S' || (g % 37), 100 + (g % 1000) / 7.0, g % 500, {now_ms} - (g::bigint * 172799) % {40 * DAY_MS},
                       (g / 37) % 3, ARRAY['1', (g % 9)::text], 'pod-' || (g % 4), g % 4,
                       now() - make_interval(secs => g % 100000)
                  FROM generate_series(1, 20000) g
                ON CONFLICT DO NOTHING"""
        )
    conn.execute(
        f"""INSERT INTO etf_realtime_prices (symbol, price, volume_exact, timestamp_ms, seq, trade_conditions)
            SELECT 'E' || (g % 11), 400 + g % 50, g % 90, {now_ms} - (g::bigint * 432011) % {40 * DAY_MS}, 0, 'c' || g % 3
              FROM generate_series(1, 8000) g ON CONFLICT DO NOTHING"""
    )
    conn.execute(
        f"""INSERT INTO bithumb_ticker (market, trade_price, trade_volume, timestamp_field, trade_timestamp,
                                        change, acc_trade_volume_24h)
            SELECT 'KRW-C' || (g % 13), 1000 + g, g / 100.0, {now_ms} - (g::bigint * 576019) % {40 * DAY_MS},
                   {now_ms} - g, 'RISE', g
              FROM generate_series(1, 6000) g ON CONFLICT DO NOTHING"""
    )
    # Hostile timestamps: year 2200 and 1971 must survive (they land in the default partition).
    far_future = int(datetime(2200, 1, 1, tzinfo=UTC).timestamp() * 1000)
    conn.execute(
        "INSERT INTO sp500_websocket_trades (symbol, price, volume_exact, timestamp_ms) VALUES"
        " ('FUT', 1, 1, %s), ('OLD', 1, 1, 31536000000)",
        (far_future,),
    )


def _checksums(conn: psycopg.Connection) -> dict[str, tuple[int, str]]:
    out = {}
    for table in TICK_TABLES:
        cols = conn.execute(
            """SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
                WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''""",
            (table,),
        ).fetchone()[0]
        count, checksum = conn.execute(
            f"SELECT count(*), coalesce(sum(hashtextextended(ROW({cols})::text, 0)::numeric), 0) FROM {table}"
        ).fetchone()
        out[table] = (count, str(checksum))
    return out


def test_filled_tables_convert_with_every_row_and_the_same_checksum(legacy_db: psycopg.Connection) -> None:
    conn = legacy_db
    # Stored generated columns (0154 made ``volume`` one, the bigint copy of ``volume_exact``; a
    # later migration may add more): the conversion must carry them.
    conn.execute(
        "ALTER TABLE sp500_websocket_trades ADD COLUMN notional numeric"
        " GENERATED ALWAYS AS (price * volume_exact) STORED"
    )
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    _fill(conn, now_ms)
    before = _checksums(conn)
    assert all(count > 5000 for count, _ in before.values())
    max_ids = {t: conn.execute(f"SELECT max(id) FROM {t}").fetchone()[0] for t in TICK_TABLES}

    applied = migrate(conn)
    assert CONVERSION in applied

    assert _checksums(conn) == before
    for table, key in TICK_TABLES.items():
        kind = conn.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", (table,)).fetchone()[0]
        assert kind == "p", table
        parts = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = %s::regclass",
            (table,),
        ).fetchall()
        names = {row[0] for row in parts}
        assert f"{table}_default" in names
        assert len(names) >= 40  # a day each for the 40 days of data, plus the days ahead
        # Every row sits in the partition of its own UTC day.
        misplaced = conn.execute(
            f"""SELECT count(*) FROM {table} t
                 WHERE t.tableoid::regclass::text <> '{table}_default'
                   AND t.tableoid::regclass::text <> '{table}_p' || to_char(
                        to_timestamp(t.{key} / 1000) AT TIME ZONE 'UTC', 'YYYYMMDD')"""
        ).fetchone()[0]
        assert misplaced == 0, table
        # New rows continue the identity sequence instead of reusing ids.
        if max_ids[table] is not None and table != "bithumb_ticker":
            new_id = conn.execute(
                f"INSERT INTO {table} (symbol, price, timestamp_ms) VALUES ('NEW', 1, %s) RETURNING id",
                (now_ms,),
            ).fetchone()[0]
            assert new_id > max_ids[table]
    generated = conn.execute(
        """SELECT a.attgenerated, pg_get_expr(d.adbin, d.adrelid), format_type(v.atttypid, v.atttypmod)
             FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             JOIN pg_attribute v ON v.attrelid = a.attrelid AND v.attname = 'volume'
            WHERE a.attrelid = 'sp500_websocket_trades'::regclass AND a.attname = 'notional'"""
    ).fetchone()
    assert generated == ("s", "(price * volume_exact)", "bigint")
    wrong = conn.execute(
        "SELECT count(*) FROM sp500_websocket_trades WHERE notional IS DISTINCT FROM price * volume_exact"
    ).fetchone()[0]
    assert wrong == 0
    in_default = conn.execute("SELECT symbol FROM sp500_websocket_trades_default ORDER BY symbol").fetchall()
    assert [r[0] for r in in_default] == ["FUT", "OLD"]
    # Index names and the replay-safe key survive; the view over bithumb_ticker reads the new table.
    indexes = {
        r[0]
        for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'sp500_websocket_trades'")
    }
    assert {
        "sp500_websocket_trades_pkey",
        "idx_sp500_trades_symbol_created",
        "idx_sp500_trades_created_brin",
    } <= indexes
    dup = conn.execute(
        "INSERT INTO sp500_websocket_trades (symbol, price, timestamp_ms, seq)"
        " SELECT symbol, price, timestamp_ms, seq FROM sp500_websocket_trades LIMIT 50 ON CONFLICT DO NOTHING"
    )
    assert dup.rowcount == 0
    conn.execute("SELECT count(*) FROM crypto_detail_with_bithumb").fetchone()
    assert conn.execute("SELECT to_regclass('bithumb_ticker_unpartitioned')").fetchone()[0] is None


def test_a_mismatch_rolls_the_conversion_back(legacy_db: psycopg.Connection) -> None:
    """The checksum guard is real: a copy that changes a value raises and leaves the table untouched."""
    conn = legacy_db
    conn.execute(
        "INSERT INTO etf_realtime_prices (symbol, price, timestamp_ms) SELECT 'X', g, g FROM generate_series(1, 50) g"
    )
    # A trigger on the new parent that alters rows during the copy stands for any lossy copy.
    with pytest.raises(psycopg.errors.RaiseException, match="copy differs"), conn.transaction():
        conn.execute(_CREATE_FUNCTIONS_ONLY)
        conn.execute(
            """CREATE FUNCTION mp_test_corrupt() RETURNS event_trigger LANGUAGE plpgsql AS $$
               BEGIN
                 IF EXISTS (SELECT 1 FROM pg_class WHERE relname = 'etf_realtime_prices' AND relkind = 'p')
                    AND NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'mp_corrupt') THEN
                   EXECUTE 'CREATE FUNCTION mp_corrupt_row() RETURNS trigger LANGUAGE plpgsql AS '
                           '''BEGIN NEW.price := NEW.price + 1; RETURN NEW; END''';
                   EXECUTE 'CREATE TRIGGER mp_corrupt BEFORE INSERT ON etf_realtime_prices '
                           'FOR EACH ROW EXECUTE FUNCTION mp_corrupt_row()';
                 END IF;
               END $$"""
        )
        conn.execute(
            "CREATE EVENT TRIGGER mp_test_corrupt ON ddl_command_end WHEN TAG IN ('CREATE TABLE')"
            " EXECUTE FUNCTION mp_test_corrupt()"
        )
        conn.execute("SELECT mp_partition_by_day('etf_realtime_prices', 'timestamp_ms', 2)")
    kind = conn.execute(
        "SELECT relkind FROM pg_class WHERE oid = 'etf_realtime_prices'::regclass"
    ).fetchone()[0]
    assert kind == "r"
    assert conn.execute("SELECT count(*), sum(price) FROM etf_realtime_prices").fetchone() == (50, 1275)


def _functions_sql() -> str:
    text = next(m.sql for m in available_migrations() if m.name == CONVERSION)
    start = text.index("-- Name of the partition")
    end = text.index("SELECT mp_partition_by_day(table_name")
    return text[start:end]


_CREATE_FUNCTIONS_ONLY = _functions_sql()
