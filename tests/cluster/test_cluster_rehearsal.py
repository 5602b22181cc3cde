"""The cluster rehearsal (issue #12 item 3) as a test: the deployed shape on loopback, with faults.

A 3-node KRaft cluster of real Apache Kafka (RF 3, ``min.insync.replicas=2``), the standard topics
as deployed, 2 Finnhub producer shards against the sandbox's WebSocket, 3 sinks in one group,
real PostgreSQL and Redis — all separate processes started from marketpipe's CLI. While trades
stream: ``kill -9`` a broker (and start it again), ``kill -9`` a sink (the group rebalances),
restart PostgreSQL. Then PostgreSQL must hold every trade of the topic exactly once, Redis
latest the newest trade per symbol, and no producer may have exited 0 with undelivered messages.

The harness is ``bench/cluster_rehearsal.py`` (the benchmark runs it with >= 300k trades and
prints throughput and recovery times); here it streams about 100k trades to stay within minutes.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import cluster_rehearsal as rehearsal

from marketpipe.runtime.kafka import KafkaRuntimeError

pytestmark = pytest.mark.slow


@pytest.fixture
def rig():  # type: ignore[no-untyped-def]
    work = Path(tempfile.mkdtemp(prefix="mp-cluster-"))
    # Progress lines go to stdout: pytest shows them with a failure.
    rig = rehearsal.Rig(work=work, say=lambda line: print(time.strftime("%H:%M:%S"), line, flush=True))
    try:
        try:
            rig.start()
        except (KafkaRuntimeError, RuntimeError, TimeoutError) as exc:
            pytest.fail(f"the rehearsal's services are required and could not start: {exc}")
        yield rig
    finally:
        rig.close()
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.timeout(480)
def test_cluster_survives_broker_sink_and_postgres_faults_exactly_once(rig) -> None:  # type: ignore[no-untyped-def]
    try:
        out = rehearsal.rehearse(rig, seconds=30, rate=450)
    except BaseException:
        for proc in rig.procs:  # the work dir is removed after the test: show what each process said
            print(f"--- {proc.name} (exit {proc.popen and proc.popen.poll()}) ---\n{proc.tail()}")
        raise
    # The faults really hit a running stream: each one was detected and recovered from.
    assert set(out.recovery_s) == {
        "broker killed: back in every ISR (from kill)",
        "sink killed: group rebalanced onto 2 (from kill)",
        "PostgreSQL stop + 2 s down + start (the outage)",
        "PostgreSQL back: sinks writing again (from start)",
    }
    # The sandbox delivers what a loaded 2-core machine allows (about half the asked rate in CI).
    assert out.trades_in_topic >= 10_000, out.trades_in_topic
    assert out.pg_rows == out.trades_in_topic
    # Both shards streamed and acknowledged; both exited 0 with nothing undelivered.
    assert out.producer_codes == [0, 0], out.producer_codes
    assert all(int(s.get("delivered", 0)) > 0 for s in out.produced), out.produced
    problems = rehearsal.verify(rig, out)
    assert problems == [], problems
    print("recovery:", {k: round(v, 1) for k, v in out.recovery_s.items()}, "trades:", out.trades_in_topic)
