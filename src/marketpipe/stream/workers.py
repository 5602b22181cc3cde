"""Several sink processes of one kind on one host (``marketpipe stream sink KIND --workers N``).

Each worker is a full :class:`~marketpipe.stream.sink.Sink` in its own process (its own GIL, its own
PostgreSQL connection), a member of the same consumer group with its own static
``group.instance.id``: Kafka spreads the topic's partitions over them, and since every worker commits
its rows together with *its partitions'* offsets, crash safety is exactly that of one sink. It is
the single-host form of the Kubernetes ``sink-trades`` Deployment (one replica per partition); more
workers than partitions leaves the extra ones idle.

The parent only supervises: it forwards SIGTERM/SIGINT, and when one worker fails it stops the
others and exits with that worker's code, so a supervisor (systemd, Kubernetes) restarts the set.
A worker whose parent disappears (``kill -9`` of the parent) stops by itself after its current
batch.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("marketpipe.stream.workers")


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process needs (picklable: the kind travels by name)."""

    kind: str
    topic: str
    bootstrap: str
    dsn: str
    redis_url: str
    settings: dict[str, Any]  # StreamSettings.model_dump()
    group_id: str | None
    dlq_topic: str
    idle_exit_s: float | None = None


def worker_settings(spec: WorkerSpec, index: int) -> dict[str, Any]:
    """Worker ``index``'s settings: its own metrics port (its member id is the Sink's + ``#index``)."""
    settings = dict(spec.settings)
    if settings.get("metrics_port"):
        settings["metrics_port"] = int(settings["metrics_port"]) + index
    return settings


def _watch_parent(parent: int, stop: Any) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    log.warning("sink worker %d: parent %d is gone; stopping after the current batch", os.getpid(), parent)
    stop()


def _worker(spec: WorkerSpec, index: int, parent: int) -> None:
    """Entry point of one worker process."""
    from marketpipe.stream.kinds import KINDS
    from marketpipe.stream.settings import StreamSettings
    from marketpipe.stream.sink import Sink

    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s %(levelname)s %(name)s[w{index}]: %(message)s"
    )
    sink = Sink(
        KINDS[spec.kind].with_topic(spec.topic),
        bootstrap=spec.bootstrap,
        dsn=spec.dsn,
        redis_url=spec.redis_url,
        settings=StreamSettings.model_validate(worker_settings(spec, index)),
        group_id=spec.group_id,
        dlq_topic=spec.dlq_topic,
        member_suffix=f"#{index}",
    )
    sink.install_signal_handlers()
    threading.Thread(target=_watch_parent, args=(parent, sink.stop), daemon=True).start()
    metrics = sink.run(idle_exit_s=spec.idle_exit_s)
    totals = metrics.totals
    line = (
        f"sink {spec.kind} worker {index}: {int(totals.get('messages_in', 0))} messages, "
        f"{int(totals.get('rows_written', 0))} rows, {int(totals.get('dlq', 0))} to the DLQ\n"
    )
    # One write(2) of a whole line (< PIPE_BUF): the workers share stdout, and print()'s separate
    # writes of text and newline interleaved two workers' lines into one.
    sys.stdout.flush()
    try:
        os.write(sys.stdout.fileno(), line.encode())
    except (OSError, ValueError):  # stdout replaced by something without a descriptor
        sys.stdout.write(line)


def run_workers(spec: WorkerSpec, workers: int) -> int:
    """Run ``workers`` sink processes until they stop; returns the exit code for the command."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    ctx = multiprocessing.get_context("spawn")  # no inherited threads, sockets or librdkafka state
    procs = [
        ctx.Process(target=_worker, args=(spec, i, os.getpid()), name=f"sink-{spec.kind}-{i}")
        for i in range(workers)
    ]
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.is_alive() and p.pid is not None:
                os.kill(p.pid, signum)

    # Signals can only be handled by the main thread (an embedding program handles its own).
    main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)} if main else {}
    try:
        for p in procs:
            p.start()
        log.info("sink %s: %d workers started (pids %s)", spec.kind, workers, [p.pid for p in procs])
        code = 0
        while any(p.is_alive() for p in procs):
            for p in procs:
                p.join(0.2)
                if p.exitcode not in (None, 0) and not code:
                    code = p.exitcode if p.exitcode > 0 else 128 - p.exitcode
                    log.error(
                        "sink %s: worker %s exited with %s; stopping the others",
                        spec.kind,
                        p.name,
                        p.exitcode,
                    )
                    if not stopping:
                        forward(signal.SIGTERM, None)
        return code
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
