"""The sink's parts on their own: one metrics source, the backoff policies, health, member ids."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

from confluent_kafka import KafkaError
from prometheus_client import generate_latest

from marketpipe.backoff import Backoff
from marketpipe.stream.metrics import COUNTERS, SinkMetrics
from marketpipe.stream.sink.errors import SinkError
from marketpipe.stream.sink.fencing import RejoinBudget, client_id, holder_of, is_fenced
from marketpipe.stream.sink.health import Health
from marketpipe.stream.sink.membership import MemberId
from marketpipe.stream.sink.postgres import pg_backoff, wait
from marketpipe.stream.sink.redis_side import redis_backoff


def _exported(metrics: SinkMetrics, name: str) -> float:
    """The sum of ``marketpipe_sink_<name>_total`` over its labels, as Prometheus scrapes it."""
    total = 0.0
    for line in generate_latest(metrics.registry).decode().splitlines():
        if line.startswith(f"marketpipe_sink_{name}_total{{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_totals_are_read_from_the_prometheus_counters() -> None:
    metrics = SinkMetrics("trades")
    assert metrics.totals == dict.fromkeys(COUNTERS, 0.0)
    metrics.count("messages_in", 700)
    metrics.count("rows_written", 690)
    metrics.count("pg_retries")
    metrics.count("dlq", stage="decode")
    metrics.count("dlq", stage="decode")
    metrics.count("dlq", stage="write")
    totals = metrics.totals
    assert totals["messages_in"] == 700 and totals["rows_written"] == 690 and totals["dlq"] == 3
    for name in COUNTERS:
        assert totals[name] == _exported(metrics, name), name
    assert (
        'marketpipe_sink_dlq_total{kind="trades",stage="write"} 1.0'
        in generate_latest(metrics.registry).decode()
    )


def test_the_sink_backoffs_double_deterministically_and_reset() -> None:
    # What the sink's own Backoff class did before marketpipe.backoff replaced it.
    pg = pg_backoff()
    assert [pg.next_delay() for _ in range(8)] == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    pg.reset()
    assert pg.next_delay() == 0.05
    redis = redis_backoff()
    assert [redis.next_delay() for _ in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0]


def test_the_wait_ends_when_the_sink_stops() -> None:
    # An hour-long delay: the call returns only because stop() says so (no clock involved).
    backoff = Backoff(base=3600.0, cap=3600.0, floor=1.0)
    wait(backoff, lambda: True)
    assert backoff.attempt == 1  # the attempt still counts


def test_health_reports_why_not() -> None:
    state = {"stopping": False, "stage": None}

    def stages_ok() -> None:
        if state["stage"]:
            raise SinkError(str(state["stage"]))

    health = Health(stages_ok, lambda: bool(state["stopping"]))
    assert health.problem() == "starting"
    health.beat()
    assert health.problem() is None
    state["stage"] = "the writer failed: boom"
    assert health.problem() == "the writer failed: boom"
    state["stage"], state["stopping"] = None, True
    assert health.problem() == "stopping"


def test_member_ids_on_one_host_differ_and_a_released_slot_is_reused() -> None:
    group = f"g-member-{uuid.uuid4().hex[:8]}"
    first, second = MemberId(group, None, ""), MemberId(group, None, "")
    assert first.value != second.value
    assert first.value.endswith("#0") and second.value.endswith("#1")
    first.release()
    third = MemberId(group, None, "")
    assert third.value.endswith("#0")
    for member in (second, third):
        member.release()
    assert MemberId(group, "pod-3", "#2").value == "pod-3#2"


def test_a_fencing_is_ours_when_nobody_or_our_own_client_id_holds_the_member_id() -> None:
    ours, theirs = client_id("trades"), client_id("trades")
    assert ours != theirs and ours.startswith("marketpipe-sink-trades-")
    members = [
        SimpleNamespace(group_instance_id="sink-1", client_id=theirs),
        SimpleNamespace(group_instance_id="sink-0", client_id=ours),
    ]
    assert holder_of(members, "sink-0") == ours
    assert holder_of(members, "sink-1") == theirs
    assert holder_of(members, "sink-9") is None
    assert holder_of([SimpleNamespace(client_id=theirs)], "sink-0") is None  # dynamic members hold no id
    assert is_fenced(KafkaError(KafkaError.FENCED_INSTANCE_ID, "fenced", fatal=True))
    assert not is_fenced(KafkaError(KafkaError._FATAL, "Fatal error: other", fatal=True))


def test_rejoins_are_bounded_per_window() -> None:
    budget = RejoinBudget(limit=2, window_s=60)
    assert budget.take(0.0) and budget.take(10.0)
    assert not budget.take(20.0)  # a third fencing within a minute: stop instead of ping-ponging
    assert budget.take(61.0)  # the first one left the window
