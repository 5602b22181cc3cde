"""A database and Redis filled the way production fills them: a sandbox collection of the datasets the
seed's backend reads, a short stream (S&P 500 and ETF trades, Bithumb tickers) through the real Kafka
broker and sinks, then the derived jobs that read those trades (Redis market caches, social analysis).

Built once per module (it takes a minute or two): the contract tests only read it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import redis
from psycopg import sql
from pydantic import SecretStr

from marketpipe.config import Settings
from marketpipe.db.connect import with_database
from marketpipe.engine.clock import ManualClock
from marketpipe.engine.registry import DatasetSpec, all_datasets, get_dataset, in_dependency_order
from marketpipe.engine.runner import run_dataset
from marketpipe.stream.kinds import CRYPTO, ETF, SP500
from marketpipe.stream.producers.bithumb import BithumbProducer, BithumbProducerConfig
from marketpipe.stream.producers.finnhub import FinnhubProducer, FinnhubProducerConfig
from marketpipe.stream.producers.runner import ProducerThread
from marketpipe.stream.producers.sharding import Shard
from marketpipe.stream.settings import StreamSettings
from marketpipe.stream.sink import Sink
from marketpipe.stream.topics import TopicSpec, ensure_topics
from plugins._contractkit import CONTRACT, Filled, parse_contract
from plugins._producerkit import wait_for
from plugins.engine import engine_settings, run_options

#: Datasets that read the streamed trades: run after the stream.
AFTER_STREAM = ("sp500_market_snapshots", "etf_market_snapshots")


def _needed(tables: set[str]) -> list[DatasetSpec]:
    by_name = {spec.name: spec for spec in all_datasets()}
    wanted = {spec.name for spec in by_name.values() if spec.table in tables}
    wanted |= {"etf_basic_info", "sp500_companies"}  # the stream's universes
    stack = list(wanted)
    while stack:
        for dep in by_name[stack.pop()].depends_on:
            if dep not in wanted:
                wanted.add(dep)
                stack.append(dep)
    return [by_name[n] for n in sorted(wanted - set(AFTER_STREAM))]


def _stream(sandbox: Any, bootstrap: str, dsn: str, redis_url: str) -> None:
    """~1500 S&P 500 trades, ETF trades, and a few Bithumb polls through Kafka into the sinks."""
    suffix = uuid.uuid4().hex[:6]
    names = {kind.name: f"t-contract-{kind.name}-{suffix}" for kind in (SP500, ETF, CRYPTO)}
    ensure_topics(bootstrap, [TopicSpec(name, 1) for name in names.values()])
    with psycopg.connect(dsn) as conn:
        stocks = [r[0] for r in conn.execute("SELECT symbol FROM sp500_companies ORDER BY symbol LIMIT 20")]
        etfs = [r[0] for r in conn.execute("SELECT symbol FROM etf_basic_info ORDER BY symbol LIMIT 10")]
    assert stocks and etfs, "the collection must fill the stream universes first"
    ws = sandbox.base_url("finnhub_ws") + "?rate=2000"
    trades = FinnhubProducer(
        FinnhubProducerConfig(
            bootstrap=bootstrap, ws_url=ws, tokens=[SecretStr("contract-sp500")], universe=stocks,
            shard=Shard(0, 1), topic=names["trades"], pod_name="contract-0", backoff_base=0.2, backoff_cap=1.0,
        )
    )  # fmt: skip
    etf_trades = FinnhubProducer(
        FinnhubProducerConfig(
            bootstrap=bootstrap, ws_url=ws, tokens=[SecretStr("contract-etf")], universe=etfs,
            topic=names["etf"], source="finnhub_etf_ws", backoff_base=0.2, backoff_cap=1.0,
        )
    )  # fmt: skip
    tickers = BithumbProducer(
        BithumbProducerConfig(
            bootstrap=bootstrap, base_url=sandbox.base_url("bithumb"), topic=names["crypto"],
            interval_s=0.5, backoff_base=0.1, backoff_cap=1.0,
        )
    )  # fmt: skip
    stream_settings = StreamSettings(_env_file=None, batch_size=2000)  # type: ignore[call-arg]
    sinks = [
        Sink(kind.with_topic(names[kind.name]), bootstrap=bootstrap, dsn=dsn, redis_url=redis_url,
             settings=stream_settings, group_id=f"g-contract-{kind.name}-{suffix}")
        for kind in (SP500, ETF, CRYPTO)
    ]  # fmt: skip
    threads = [threading.Thread(target=sink.run, daemon=True) for sink in sinks]
    for thread in threads:
        thread.start()
    try:
        with ProducerThread(trades.run), ProducerThread(etf_trades.run), ProducerThread(tickers.run):
            wait_for(lambda: trades.stats.get("delivered") >= 1500, timeout=120, what="1500 S&P 500 trades")
            wait_for(lambda: etf_trades.stats.get("delivered") >= 200, timeout=120, what="200 ETF trades")
            wait_for(lambda: tickers.stats.get("delivered") >= 600, timeout=120, what="two Bithumb polls")
        produced = [p.stats.snapshot()["delivered"] for p in (trades, etf_trades, tickers)]
        for sink, count in zip(sinks, produced, strict=True):
            wait_for(
                lambda s=sink, c=count: s.metrics.totals.get("messages_in", 0) >= c,
                timeout=120,
                what=f"sink {sink.kind.name} caught up",
            )
    finally:
        for sink in sinks:
            sink.stop()
        for thread in threads:
            thread.join(30)


@pytest.fixture(scope="package")
def filled(
    pg_server: str,
    redis_url: str,
    sandbox_server: Any,
    idempotent_kafka: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Filled]:
    name = f"mp_contract_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE marketpipe_template").format(sql.Identifier(name)))
    dsn = with_database(pg_server, name)
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    sandbox_server.admin.reset()
    sandbox_server.admin.set_quotas(False)
    base = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path_factory.mktemp("contract"), database_url=dsn, redis_url=redis_url
    )
    settings = engine_settings(
        base,
        sandbox_server.port,
        finnhub_keys=["contract-fh"],
        newsapi_keys=["contract-na"],
        coingecko_keys=["contract-cg-1", "contract-cg-2"],
        x_keys=[f"contract-x-{i}" for i in range(1, 5)],
        truth_social_keys=["contract-truth"],
    )
    contract = parse_contract(CONTRACT.read_text(encoding="utf-8"))
    results: dict[str, Any] = {}
    clock = ManualClock(sandbox_server.admin.now(), real_sleep=True)
    for wave in in_dependency_order(_needed(set(contract))):
        for spec in wave:
            results[spec.name] = run_dataset(
                spec.name,
                settings=settings,
                options=run_options(clock, quotas=False, universe_limit=10),
                logical_date=clock.now(),
            )
    _stream(sandbox_server, idempotent_kafka, dsn, redis_url)
    clock = ManualClock(sandbox_server.admin.now(), real_sleep=True)  # after the streamed trades
    for dataset in AFTER_STREAM:
        get_dataset(dataset)  # declared in the registry
        results[dataset] = run_dataset(
            dataset, settings=settings, options=run_options(clock, quotas=False), logical_date=clock.now()
        )
    yield Filled(dsn, redis_url, settings, results)
    client.close()
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
