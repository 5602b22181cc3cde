"""Cluster rehearsal on loopback: the deployed shape of the real-time path, with faults.

Everything runs as the separate processes a deployment runs, started as a user starts them:

* a 3-node KRaft cluster of real Apache Kafka (``ApacheKafkaCluster``: three JVMs, each broker +
  controller, ``default.replication.factor=3``, ``min.insync.replicas=2`` as ``deploy/k8s/kafka``),
  topics created by ``marketpipe stream topics --replication 3`` (the standard topics as deployed);
* the provider sandbox (its Finnhub WebSocket streams trades at ``--rate`` per connection);
* 2 Finnhub producer shards: ``marketpipe stream produce finnhub --shard i --shards 2``;
* 3 sinks in one consumer group: ``marketpipe stream sink trades`` (each its own static member id,
  as each StatefulSet pod has its own host name);
* a real PostgreSQL (pgserver, driven from child processes so it really restarts) and redis-server.

While the stream runs: ``kill -9`` one broker and start it again, ``kill -9`` one sink (the group
rebalances onto the other two), and restart PostgreSQL. Afterwards it checks that PostgreSQL holds
every trade of the topic (which holds every acknowledged trade: acks=all, idempotent) exactly once
with the values produced, that Redis "latest" is the newest trade per symbol, and that no producer
exited 0 with undelivered messages.

The bench (``python bench/cluster_rehearsal.py``, ≥ 300k trades) also prints the sink throughput
with 1 vs 3 sinks (the same topic drained into fresh databases, same run) and the time to recover
from each fault. ``tests/cluster/test_cluster_rehearsal.py`` runs the same rehearsal, smaller.

    python bench/cluster_rehearsal.py [--seconds 120] [--rate 1400] [--no-throughput] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
import psycopg
import redis
from confluent_kafka import Consumer, ConsumerGroupState, TopicPartition
from confluent_kafka.admin import AdminClient

from marketpipe.db import migrate
from marketpipe.runtime.kafka import ApacheKafkaCluster, ensure_jars, free_port
from marketpipe.runtime.redis import redis_server_binary
from marketpipe.stream import codec
from marketpipe.stream.topics import SP500_TRADES

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
GROUP = "marketpipe-sink.rehearsal"
Say = Callable[[str], None]


def _default_libs() -> Path:
    override = os.environ.get("MARKETPIPE_KAFKA_LIBS")
    return Path(override) if override else REPO / ".marketpipe" / "kafka" / "libs"


def _wait(condition: Callable[[], Any], timeout: float, what: str, step: float = 0.2) -> float:
    """Poll ``condition`` until true; return the seconds it took; raise after ``timeout``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(step)
    return time.monotonic() - started


# -- services -------------------------------------------------------------------------------------


class ChildPostgres:
    """A PostgresService driven from child processes (pgserver caches its handle per process, so
    only a child really stops and starts the server)."""

    def __init__(self, data_dir: Path) -> None:
        self.env = {**os.environ, "MARKETPIPE_DATA_DIR": str(data_dir)}
        self.env.pop("MARKETPIPE_DATABASE_URL", None)

    def _run(self, action: str) -> str:
        code = (
            "from marketpipe.config import Settings; from marketpipe.runtime import PostgresService; "
            f"s = PostgresService(Settings(_env_file=None)); print(s.{action}())"
        )
        done = subprocess.run([PY, "-c", code], env=self.env, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"postgres {action} failed: {done.stderr[-2000:]}")
        return done.stdout.strip().splitlines()[-1]

    def start(self) -> str:
        return self._run("start")

    def stop(self) -> None:
        self._run("stop")


def pg_count(dsn: str, table: str = "sp500_websocket_trades") -> int:
    """Rows in ``table``, or -1 while the database does not answer."""
    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            return int(row[0]) if row else 0
    except psycopg.OperationalError:
        return -1


def fresh_database(admin_dsn: str, name: str) -> str:
    """Create and migrate database ``name``; return its DSN."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin_dsn)
    dsn = urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(dsn) as conn:
        migrate(conn)
    return dsn


@dataclass
class Proc:
    """One product process started from its CLI, its output in ``log``."""

    name: str
    cmd: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.cmd, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=REPO, start_new_session=True,
            )  # fmt: skip
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill9(self) -> None:
        assert self.popen is not None
        os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def terminate(self, timeout: float = 30.0) -> int | None:
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        return self.popen.returncode

    def tail(self, lines: int = 15) -> str:
        kept = [line for line in self.output().splitlines() if not line.startswith("%")]
        return "\n".join(kept[-lines:])

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


_SUMMARY = re.compile(r"^finished (.*)$", re.M)


def producer_summary(text: str) -> dict[str, str]:
    """The producer's final ``finished key=value ...`` line as a dict (empty when it never printed)."""
    found = _SUMMARY.findall(text)
    if not found:
        return {}
    return dict(pair.split("=", 1) for pair in found[-1].split() if "=" in pair)


# -- the rig --------------------------------------------------------------------------------------


@dataclass
class Rig:
    """All services of one rehearsal; ``close()`` stops what it started."""

    work: Path
    say: Say
    libs: Path = field(default_factory=_default_libs)
    cluster: ApacheKafkaCluster | None = None
    pg: ChildPostgres | None = None
    admin_dsn: str = ""
    dsn: str = ""
    redis_proc: subprocess.Popen[bytes] | None = None
    redis_url: str = ""
    sandbox_proc: subprocess.Popen[bytes] | None = None
    sandbox_port: int = 0
    procs: list[Proc] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        assert self.cluster is not None
        return self.cluster.bootstrap

    def start(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        self.work.chmod(0o755)  # embedded PostgreSQL runs unprivileged when we are root
        self.say("starting PostgreSQL, Redis, the sandbox and a 3-node Kafka cluster")
        self.pg = ChildPostgres(self.work / "pg")
        self.admin_dsn = self.pg.start()
        self.dsn = fresh_database(self.admin_dsn, "rehearsal")
        port = free_port()
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        self.redis_proc = subprocess.Popen(
            [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.work)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        _wait(lambda: _redis_ok(self.redis_url), 20, "redis-server")
        self.sandbox_port = free_port()
        start = datetime.now(UTC).isoformat()
        code = (
            "from datetime import datetime; from marketpipe.sandbox.config import SandboxConfig; "
            "from marketpipe.sandbox.server import serve; "
            f"serve(SandboxConfig(start_time=datetime.fromisoformat({start!r})), port={self.sandbox_port}, "
            "log_level='error')"
        )
        with (self.work / "sandbox.log").open("ab") as out:
            self.sandbox_proc = subprocess.Popen(
                [PY, "-c", code], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.cluster = ApacheKafkaCluster(work_dir=self.work / "kafka", libs_dir=ensure_jars(self.libs))
        self.cluster.start(timeout=240)
        self.say(f"kafka cluster up: {self.cluster.bootstrap}")
        done = subprocess.run(
            [PY, "-m", "marketpipe", "stream", "topics", "--bootstrap", self.bootstrap, "--replication", "3"],
            env=self.env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"stream topics failed: {done.stdout}{done.stderr}")

    def symbols(self, n: int) -> list[str]:
        root = f"http://127.0.0.1:{self.sandbox_port}"

        def fetch() -> list[str] | None:
            try:
                return list(httpx.get(f"{root}/_admin/world/constituents", timeout=2).json()["symbols"])
            except httpx.TransportError:
                return None

        _wait(lambda: fetch() is not None, 60, "the sandbox")
        got = fetch()
        assert got is not None
        return sorted(got)[:n]

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPIPE_")}
        env.update(
            {
                "PYTHONPATH": os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]).rstrip(
                    os.pathsep
                ),
                "MARKETPIPE_DATA_DIR": str(self.work / "data"),
                "MARKETPIPE_DATABASE_URL": self.dsn,
                "MARKETPIPE_REDIS_URL": self.redis_url,
            }
        )
        env.update(extra)
        return env

    def sink(self, name: str, group: str, dsn: str | None = None, *extra: str) -> Proc:
        env = self.env(MARKETPIPE_STREAM_INSTANCE_ID=f"{group}-{name}", MARKETPIPE_STREAM_LOG_EVERY_S="5")
        if dsn is not None:
            env["MARKETPIPE_DATABASE_URL"] = dsn
        cmd = [PY, "-m", "marketpipe", "stream", "sink", "trades", "--bootstrap", self.bootstrap,
               "--group", group, "--no-create-topics", *extra]  # fmt: skip
        proc = Proc(name, cmd, env, self.work / f"{group}-{name}.log").start()
        self.procs.append(proc)
        return proc

    def producer(self, shard: int, shards: int, symbols: list[str], rate: float, keys: int) -> Proc:
        """A producer shard that streams until SIGTERM (as a Deployment stops it)."""
        ws = f"ws://127.0.0.1:{self.sandbox_port}/finnhub/ws?rate={rate}"
        env = self.env(
            MARKETPIPE_BASE_URLS=json.dumps({"finnhub_ws": ws}),
            MARKETPIPE_FINNHUB_KEYS=",".join(f"rehearsal-key-{i}" for i in range(keys)),
            HOSTNAME=f"finnhub-{shard}",
        )
        cmd = [PY, "-m", "marketpipe", "stream", "produce", "finnhub", "--shard", str(shard), "--shards",
               str(shards), "--symbols", ",".join(symbols), "--bootstrap", self.bootstrap,
               "--subscribe-rate", "200", "--log-interval", "5"]  # fmt: skip
        proc = Proc(f"producer-{shard}", cmd, env, self.work / f"producer-{shard}.log").start()
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate(10)
        if self.sandbox_proc is not None:
            self.sandbox_proc.terminate()
            self.sandbox_proc.wait(10)
        if self.cluster is not None:
            for node in self.cluster.nodes:  # a clean cluster shutdown takes long; nothing to keep
                node.kill()
        if self.redis_proc is not None:
            self.redis_proc.kill()
            self.redis_proc.wait(10)
        if self.pg is not None:
            try:
                self.pg.stop()
            except RuntimeError as exc:
                self.say(f"postgres stop: {exc}")


def _redis_ok(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


# -- Kafka inspection ----------------------------------------------------------------------------


def log_end_total(bootstrap: str, topic: str = SP500_TRADES, partitions: int = 3) -> int:
    """Messages in ``topic`` (sum of the log-end offsets; no compaction, no transactions)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"inspect-{uuid.uuid4().hex}"})
    try:
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=20)[1] for p in range(partitions)
        )
    finally:
        consumer.close()


def read_trades(
    bootstrap: str, expected: int, topic: str = SP500_TRADES, partitions: int = 3
) -> list[dict[str, Any]]:
    """Every trade message of ``topic`` from the beginning, decoded."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"inspect-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + 180
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(10_000, timeout=1.0):
                if msg.error() is None:
                    out.append(codec.decode_trade(msg.value()))
    finally:
        consumer.close()
    return out


def under_replicated(bootstrap: str, topic: str = SP500_TRADES) -> int:
    """Partitions of ``topic`` whose in-sync replicas are fewer than their replicas."""
    try:
        md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=5)
    except Exception:
        return 99
    parts = md.topics[topic].partitions.values()
    return sum(1 for p in parts if len(p.isrs) < len(p.replicas))


#: The last consumer group description seen (for the error when a rebalance never settles).
last_group_seen: dict[str, str] = {}


def group_members(bootstrap: str, group: str) -> tuple[int, int] | None:
    """(members, assigned partitions) of a stable consumer group, else None."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        desc = admin.describe_consumer_groups([group], request_timeout=5)[group].result(timeout=10)
    except Exception as exc:  # a coordinator moving during a failover answers with errors
        last_group_seen[group] = f"describe failed: {exc}"
        return None
    assigned = sum(len(m.assignment.topic_partitions) for m in desc.members)
    members = [m.group_instance_id for m in desc.members]
    last_group_seen[group] = f"state={desc.state} members={members} assigned={assigned}"
    if desc.state != ConsumerGroupState.STABLE:
        return None
    return len(desc.members), assigned


# -- the rehearsal --------------------------------------------------------------------------------


@dataclass
class Outcome:
    trades_in_topic: int = 0
    pg_rows: int = 0
    produced: list[dict[str, str]] = field(default_factory=list)
    producer_codes: list[int | None] = field(default_factory=list)
    recovery_s: dict[str, float] = field(default_factory=dict)
    stream_s: float = 0.0
    problems: list[str] = field(default_factory=list)


def rehearse(rig: Rig, *, seconds: float, rate: float, tail_s: float = 10.0, faults: bool = True) -> Outcome:
    """Stream through 2 producer shards (``rate`` trades/s each) and 3 sinks while the faults happen
    one after another (broker, sink, PostgreSQL); stop the producers with SIGTERM after at least
    ``seconds``, and never before ``tail_s`` seconds of streaming after the last fault recovered."""
    out = Outcome()
    say = rig.say
    shards, keys_per_shard = 2, 2  # two connections per shard: hash sharding splits 100 symbols unevenly
    symbols = rig.symbols(45 * shards)
    sinks = [rig.sink(f"sink-{i}", GROUP) for i in range(3)]
    _wait(lambda: group_members(rig.bootstrap, GROUP) == (3, 3), 120, "3 sinks sharing 3 partitions")
    started = time.monotonic()
    producers = [
        rig.producer(i, shards, symbols, rate / keys_per_shard, keys=keys_per_shard * shards)
        for i in range(shards)
    ]
    say(f"streaming for >= {seconds:.0f}s: {shards} shards x {rate:,.0f} trades/s")

    def progressing(dsn: str, before: int) -> Callable[[], bool]:
        # Rows arrive again — or everything produced so far is already written.
        return lambda: pg_count(dsn) > before or 0 <= log_end_total(rig.bootstrap) <= pg_count(dsn)

    assert rig.cluster is not None
    if faults:
        time.sleep(min(10.0, seconds * 0.1))
        say("fault: kill -9 kafka node-2, start it again 3 s later")
        killed = time.monotonic()
        rig.cluster.kill(1)
        time.sleep(3)
        rig.cluster.restart(1, timeout=180)
        _wait(lambda: under_replicated(rig.bootstrap) == 0, 180, "node-2 back in every ISR")
        out.recovery_s["broker killed: back in every ISR (from kill)"] = time.monotonic() - killed

        say("fault: kill -9 sink-2")
        before = pg_count(rig.dsn)
        killed = time.monotonic()
        sinks[2].kill9()
        try:
            _wait(lambda: group_members(rig.bootstrap, GROUP) == (2, 3), 120, "the group to rebalance onto 2")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; last seen: {last_group_seen.get(GROUP)}") from None
        out.recovery_s["sink killed: group rebalanced onto 2 (from kill)"] = time.monotonic() - killed
        _wait(progressing(rig.dsn, before), 60, "rows after the rebalance")

        say("fault: restart PostgreSQL")
        assert rig.pg is not None
        stopped = time.monotonic()
        rig.pg.stop()
        time.sleep(2)  # trades keep arriving in Kafka while the database is down
        rig.pg.start()
        back = time.monotonic()
        out.recovery_s["PostgreSQL stop + 2 s down + start (the outage)"] = back - stopped
        _wait(progressing(rig.dsn, pg_count(rig.dsn)), 120, "rows after the PostgreSQL restart")
        out.recovery_s["PostgreSQL back: sinks writing again (from start)"] = time.monotonic() - back

    # Every fault hit a running stream: both producers are still streaming now.
    for proc in producers:
        if not proc.alive():
            out.problems.append(
                f"{proc.name} stopped during the faults (exit {proc.popen and proc.popen.returncode})"
            )
    time.sleep(max(tail_s, started + seconds - time.monotonic()))
    for proc in producers:
        assert proc.popen is not None
        if proc.popen.poll() is None:
            proc.popen.send_signal(signal.SIGTERM)  # the way Kubernetes stops a pod: flush, then exit
    for proc in producers:
        assert proc.popen is not None
        try:
            proc.popen.wait(120)
        except subprocess.TimeoutExpired:
            out.problems.append(f"{proc.name} did not stop within 120 s of SIGTERM")
            proc.terminate(30)
        out.producer_codes.append(proc.popen.returncode)
        out.produced.append(producer_summary(proc.output()))
    out.stream_s = time.monotonic() - started
    out.trades_in_topic = log_end_total(rig.bootstrap)
    say(f"producers done: {out.trades_in_topic:,} trades in the topic; waiting for the sinks")
    _wait(lambda: pg_count(rig.dsn) >= out.trades_in_topic, 300, "the sinks to write every trade", step=0.5)
    out.pg_rows = pg_count(rig.dsn)
    for sink in sinks:
        if sink.alive():
            code = sink.terminate(60)
            if code != 0:
                out.problems.append(f"{sink.name} exited {code} on SIGTERM")
    return out


def verify(rig: Rig, out: Outcome) -> list[str]:
    """What is wrong after the rehearsal (empty = PostgreSQL, Redis and the producers all check out)."""
    problems = list(out.problems)
    messages = read_trades(rig.bootstrap, out.trades_in_topic)
    if len(messages) != out.trades_in_topic:
        problems.append(f"read {len(messages)} of {out.trades_in_topic} messages back from Kafka")
    topic_rows = {
        (m["symbol"], m["timestamp_ms"], m["seq"]): (float(m["price"]), float(m.get("volume") or 0))
        for m in messages
    }
    if len(topic_rows) != len(messages):
        problems.append(f"the topic holds {len(messages) - len(topic_rows)} duplicate trade identities")
    with psycopg.connect(rig.dsn) as conn:
        rows = conn.execute(
            "SELECT symbol, timestamp_ms, seq, price::float8, coalesce(volume, 0)::float8 FROM sp500_websocket_trades"
        ).fetchall()
    pg_rows = {(s, t, q): (p, v) for s, t, q, p, v in rows}
    if len(rows) != len(topic_rows):
        problems.append(f"PostgreSQL has {len(rows)} rows for {len(topic_rows)} trades in Kafka")
    missing = topic_rows.keys() - pg_rows.keys()
    extra = pg_rows.keys() - topic_rows.keys()
    if missing or extra:
        problems.append(f"PostgreSQL misses {len(missing)} trades and has {len(extra)} never produced")
    wrong = [k for k in topic_rows.keys() & pg_rows.keys() if topic_rows[k] != pg_rows[k]]
    if wrong:
        problems.append(f"{len(wrong)} rows differ from their message, e.g. {wrong[0]}")
    # Producers: acknowledged ⊆ topic; and none may exit 0 with messages left undelivered.
    delivered = 0
    for code, summary in zip(out.producer_codes, out.produced, strict=True):
        acked = int(summary.get("delivered", 0))
        produced = int(summary.get("produced", 0))
        delivered += acked
        if not summary:
            problems.append(f"a producer printed no summary (exit {code})")
        if code == 0 and produced > acked:
            problems.append(f"a producer exited 0 with {produced - acked} of {produced} messages undelivered")
    if delivered > out.trades_in_topic:
        problems.append(f"producers report {delivered} acknowledged, the topic holds {out.trades_in_topic}")
    # Redis: latest = the newest (timestamp_ms, seq) per symbol.
    newest: dict[str, tuple[int, int, float]] = {}
    for (symbol, ts, seq), (price, _v) in topic_rows.items():
        if symbol not in newest or (ts, seq) > newest[symbol][:2]:
            newest[symbol] = (ts, seq, price)
    client = redis.Redis.from_url(rig.redis_url)

    def redis_wrong() -> list[str]:
        bad = []
        for symbol, (ts, _seq, price) in newest.items():
            raw = client.get(f"latest:stocks:sp500:{symbol}")
            got = orjson.loads(raw) if raw else {}
            if (got.get("price"), got.get("timestamp")) != (price, ts):
                bad.append(symbol)
        return bad

    try:
        _wait(lambda: not redis_wrong(), 30, "Redis latest to match")
    except TimeoutError:
        bad = redis_wrong()
        problems.append(f"Redis latest is wrong for {len(bad)} of {len(newest)} symbols, e.g. {bad[:3]}")
    return problems


def drain_throughput(rig: Rig, sinks: int, expected: int) -> float:
    """Trades/s of ``sinks`` sink processes draining the whole topic into a fresh database."""
    dsn = fresh_database(rig.admin_dsn, f"drain{sinks}")
    group = f"marketpipe-sink.drain{sinks}"
    procs = [rig.sink(f"d{i}", group, dsn) for i in range(sinks)]
    try:
        _wait(lambda: pg_count(dsn) > 0, 180, f"the first row from {sinks} sink(s)", step=0.05)
        first = time.monotonic()
        _wait(lambda: pg_count(dsn) >= expected, 600, f"{sinks} sink(s) to drain {expected}", step=0.1)
        return expected / (time.monotonic() - first)
    finally:
        for proc in procs:
            proc.terminate(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=150.0, help="least time the producers stream")
    parser.add_argument(
        "--rate", type=float, default=2400.0, help="trades/s per producer shard asked of the sandbox"
    )
    parser.add_argument("--no-throughput", action="store_true", help="skip the 1 vs 3 sinks drain")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mp-cluster-"))
    rig = Rig(work=work, say=lambda line: print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True))
    try:
        rig.start()
        out = rehearse(rig, seconds=args.seconds, rate=args.rate)
        problems = verify(rig, out)
        if out.trades_in_topic < 300_000:
            problems.append(
                f"only {out.trades_in_topic:,} trades streamed; raise --rate or --seconds to >= 300k"
            )
        print()
        print(f"trades in the topic: {out.trades_in_topic:,}  rows in PostgreSQL: {out.pg_rows:,}")
        print(f"stream with faults: {out.stream_s:.1f}s  producer exits: {out.producer_codes}")
        for code, summary in zip(out.producer_codes, out.produced, strict=True):
            print(f"  producer exit {code}:", " ".join(f"{k}={v}" for k, v in summary.items()))
        print("time to recover from each fault:")
        for what, seconds in out.recovery_s.items():
            print(f"  {what:<52} {seconds:6.1f} s")
        print("checks:", "all passed" if not problems else "FAILED")
        for problem in problems:
            print("  -", problem)
        if not args.no_throughput:
            one = drain_throughput(rig, 1, out.trades_in_topic)
            three = drain_throughput(rig, 3, out.trades_in_topic)
            print(f"sink throughput draining {out.trades_in_topic:,} trades (RF 3 cluster, same run):")
            print(f"  1 sink : {one:10,.0f} trades/s   (baseline)")
            print(f"  3 sinks: {three:10,.0f} trades/s   ratio {three / one:.2f}x")
        if problems:
            raise SystemExit(1)
    finally:
        rig.close()
        if args.keep:
            print("work dir:", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
