"""tick_partitions: partitions ahead, strays moved out of the default, roll-up, then retention drops days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import psycopg

from marketpipe.engine.clock import ManualClock
from marketpipe.engine.runner import RunOptions, run_dataset
from marketpipe.stream import candles as sink_candles
from marketpipe.timeseries import partitions

DAY_MS = 86_400_000


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _insert_trades(
    conn: psycopg.Connection, table: str, rows: list[tuple[str, float, float, int, int]]
) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {table} (symbol, price, volume_exact, timestamp_ms, seq) VALUES (%s, %s, %s, %s, %s)",
            rows,
        )
    conn.commit()


def _partition_of(conn: psycopg.Connection, table: str, symbol: str) -> set[str]:
    rows = conn.execute(f"SELECT DISTINCT tableoid::regclass::text FROM {table} WHERE symbol = %s", (symbol,))
    out = {r[0] for r in rows}
    conn.commit()
    return out


def test_retention_rolls_up_then_drops_old_days_and_the_candles_remain(settings, db) -> None:
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)
    # Trades yesterday (its partition exists since the migration): two symbols, several minutes.
    trades = [
        (sym, 100.0 + i, 1.0 + i % 3, _ms(yesterday) + i * 20_000, 0)
        for sym in ("AAA", "BBB")
        for i in range(30)
    ]
    _insert_trades(db, "sp500_websocket_trades", trades)
    # The sink kept candles for AAA (as it does in the trade's transaction); BBB's are missing.
    aaa = [
        SimpleNamespace(symbol=s, price=p, volume=v, timestamp_ms=t, seq=q)
        for s, p, v, t, q in trades
        if s == "AAA"
    ]
    with db.transaction():
        sink_candles.merge(db, "trades", sink_candles.aggregate(aaa))
    kept_before = db.execute(
        "SELECT interval_s, bucket_start, open, high, low, close, volume, trades FROM trade_candles"
        " WHERE symbol = 'AAA' ORDER BY 1, 2"
    ).fetchall()
    db.commit()

    # 45 days later the maintenance runs: yesterday is past the 30-day retention.
    later = today + timedelta(days=45)
    # A trade for a day that has no partition yet: it must not fail — it waits in the default partition.
    stray_day = later + timedelta(days=3)
    _insert_trades(db, "sp500_websocket_trades", [("CCC", 5.0, 2.0, _ms(stray_day), 0)])
    assert _partition_of(db, "sp500_websocket_trades", "CCC") == {"sp500_websocket_trades_default"}

    clock = ManualClock(later)
    result = run_dataset(
        "tick_partitions", settings=settings, options=RunOptions(clock=clock), logical_date=later
    )
    assert result.status == "ok", result.message

    # Yesterday's ticks are gone with their partition; the rolled-up candles stay.
    name = partitions.partition_name("sp500_websocket_trades", yesterday.date())
    assert db.execute("SELECT to_regclass(%s)", (name,)).fetchone()[0] is None
    assert (
        db.execute("SELECT count(*) FROM sp500_websocket_trades WHERE symbol IN ('AAA','BBB')").fetchone()[0]
        == 0
    )
    kept_after = db.execute(
        "SELECT interval_s, bucket_start, open, high, low, close, volume, trades FROM trade_candles"
        " WHERE symbol = 'AAA' ORDER BY 1, 2"
    ).fetchall()
    assert kept_after == kept_before  # the sink's candles are left as they were
    bbb = db.execute(
        "SELECT interval_s, sum(volume), sum(trades), min(open_key) FROM trade_candles"
        " WHERE stream = 'trades' AND symbol = 'BBB' GROUP BY 1 ORDER BY 1"
    ).fetchall()
    bbb_volume = sum(v for s, _, v, _, _ in trades if s == "BBB")
    assert [(i, float(v), n) for i, v, n, _ in bbb] == [
        (60, bbb_volume, 30),
        (300, bbb_volume, 30),
        (3600, bbb_volume, 30),
    ]
    first_bbb = next(t for t in trades if t[0] == "BBB")
    opening = db.execute(
        "SELECT open FROM trade_candles WHERE symbol = 'BBB' AND interval_s = 3600 ORDER BY bucket_start LIMIT 1"
    ).fetchone()[0]
    assert float(opening) == first_bbb[1]

    # The stray moved into its own day once maintenance created that day ahead.
    assert _partition_of(db, "sp500_websocket_trades", "CCC") == {
        partitions.partition_name("sp500_websocket_trades", stray_day.date())
    }
    log = {
        (r[0], r[1]): r[2]
        for r in db.execute(
            "SELECT partition_name, action, rows FROM tick_maintenance_log WHERE table_name = 'sp500_websocket_trades'"
        )
    }
    assert log[(name, "dropped")] == 60
    assert log[(name, "rolled_up")] > 0
    assert log[(partitions.partition_name("sp500_websocket_trades", stray_day.date()), "moved")] == 1
    # Days ahead exist for every tick table; a second run finds nothing to do.
    for table in ("sp500_websocket_trades", "finnhub_trades", "etf_realtime_prices", "bithumb_ticker"):
        for offset in range(8):
            day = (later + timedelta(days=offset)).date()
            assert db.execute("SELECT to_regclass(%s)", (partitions.partition_name(table, day),)).fetchone()[
                0
            ]
    db.commit()
    again = run_dataset(
        "tick_partitions", settings=settings, options=RunOptions(clock=clock), logical_date=later
    )
    assert again.status == "ok" and again.rows_inserted == 0


def test_retention_is_configurable_per_table(settings, db) -> None:
    db.execute("UPDATE tick_retention SET retention_days = 90 WHERE table_name = 'etf_realtime_prices'")
    db.commit()
    later = datetime.now(UTC) + timedelta(days=45)
    result = run_dataset(
        "tick_partitions", settings=settings, options=RunOptions(clock=ManualClock(later)), logical_date=later
    )
    assert result.status == "ok", result.message
    today = datetime.now(UTC).date()
    assert db.execute(
        "SELECT to_regclass(%s)", (partitions.partition_name("etf_realtime_prices", today),)
    ).fetchone()[0]
    assert (
        db.execute(
            "SELECT to_regclass(%s)", (partitions.partition_name("finnhub_trades", today),)
        ).fetchone()[0]
        is None
    )
