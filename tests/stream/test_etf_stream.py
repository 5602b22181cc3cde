"""ETF trades end to end: `marketpipe stream produce finnhub --universe etf` (universe = etf_basic_info)
on the sandbox WebSocket → real Kafka → the `etf` sink → etf_realtime_prices, candles and the seed's
`etf_realtime_data` hash."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import redis
from tests.stream.test_producer_cli import _env, _finished

from marketpipe.datasets.fundamentals.etf_basic_info import curated
from marketpipe.stream.kinds import ETF
from marketpipe.stream.settings import StreamSettings
from marketpipe.stream.sink import Sink
from plugins._streamkit import assert_redis_latest, newest_in_table


def test_etf_producer_and_sink_fill_etf_realtime_prices_and_redis(
    sandbox: Any,
    idempotent_kafka: str,
    kafka_topic: Callable[..., str],
    pg_dsn: str,
    redis_url: str,
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    etfs = [dict(row) for row in curated()]
    with psycopg.connect(pg_dsn) as conn:
        conn.cursor().executemany(
            "INSERT INTO etf_basic_info (symbol, name, popularity_rank) VALUES (%(symbol)s, %(name)s, %(popularity_rank)s)",
            etfs,
        )
    topic = kafka_topic("etf")
    env = _env(sandbox, tmp_path, MARKETPIPE_DATABASE_URL=pg_dsn)
    done = subprocess.run(
        [sys.executable, "-m", "marketpipe", "stream", "produce", "finnhub", "--universe", "etf",
         "--bootstrap", idempotent_kafka, "--topic", topic, "--max-seconds", "6"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    produced = int(_finished(done.stdout)["delivered"])
    assert produced > 100

    settings = StreamSettings(_env_file=None, batch_size=2000)  # type: ignore[call-arg]
    sink = Sink(ETF.with_topic(topic), bootstrap=idempotent_kafka, dsn=pg_dsn, redis_url=redis_url,
                settings=settings, group_id="g-etf")  # fmt: skip
    metrics = sink.run(max_messages=produced, idle_exit_s=30)
    assert metrics.totals.get("rows_written") == produced and metrics.totals.get("dlq", 0) == 0

    with psycopg.connect(pg_dsn) as conn:
        rows, distinct, symbols = conn.execute(
            "SELECT count(*), count(DISTINCT (symbol, timestamp_ms, seq)), count(DISTINCT symbol) FROM etf_realtime_prices"
        ).fetchone()  # type: ignore[misc]
        sources = conn.execute("SELECT DISTINCT source FROM etf_realtime_prices").fetchall()
        conditions = conn.execute(
            "SELECT trade_conditions FROM etf_realtime_prices WHERE trade_conditions IS NOT NULL LIMIT 1"
        ).fetchone()
        newest = newest_in_table(conn, "etf_realtime_prices")
        candles = conn.execute("SELECT count(*) FROM trade_candles WHERE stream = 'etf'").fetchone()
    assert rows == distinct == produced
    # Every ETF of the universe streams (the sandbox models them all), and only ETFs.
    assert set(newest) == {e["symbol"] for e in etfs} and symbols == len(etfs)
    assert sources == [("finnhub_etf_ws",)]
    assert conditions and "{" not in conditions[0]  # comma-separated text, as the backend model reads it
    assert candles and candles[0] > 0
    assert_redis_latest(redis_client, newest, "latest:etf:", "etf_realtime_data")
    assert redis_client.zcard("history:etf:SPY") > 0
