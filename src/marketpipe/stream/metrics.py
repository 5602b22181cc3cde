"""Sink metrics: one set of Prometheus collectors (own registry per sink), read back for logs and tests.

Exposed names (label ``kind``): ``marketpipe_sink_messages_in_total``, ``..._rows_written_total``,
``..._dlq_total``, ``..._batches_total``, ``..._batch_size`` (histogram), ``..._pg_write_seconds``,
``..._redis_write_seconds``, ``..._end_to_end_seconds`` (trade time → visible in Redis), ``..._lag``
(per partition), ``..._redis_pending`` (instruments waiting for Redis to come back).

The metrics port also answers ``GET /healthz`` (:func:`serve_http`, shared with the producers):
200 ``ok`` while the process is healthy, 503 and the reason otherwise — what the Kubernetes probes use.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

#: A health check: None when healthy, else a short reason.
HealthCheck = Callable[[], str | None]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_http(
    port: int, registry: CollectorRegistry, health: HealthCheck, addr: str = "0.0.0.0"
) -> ThreadingWSGIServer:
    """Serve ``/metrics`` (Prometheus) and ``/healthz`` on ``port`` from a daemon thread."""
    metrics_app = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            try:
                problem = health()
            except Exception as exc:  # a failing check is an unhealthy process, not a crashed server
                problem = f"health check failed: {type(exc).__name__}"
            status = "200 OK" if problem is None else "503 Service Unavailable"
            start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
            return [(problem or "ok").encode() + b"\n"]
        return metrics_app(environ, start_response)

    server = make_server(addr, port, app, ThreadingWSGIServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name=f"metrics-{port}", daemon=True).start()
    return server


log = logging.getLogger("marketpipe.stream.sink")

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_SIZE_BUCKETS = (1, 10, 50, 100, 500, 1000, 2000, 5000, 10000, 20000)


#: The sink's counters: name → (help, extra label names). Each is both the Prometheus counter
#: ``marketpipe_sink_<name>_total`` and the key of :attr:`SinkMetrics.totals` (summed over labels).
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "messages_in": ("Messages consumed", ()),
    "rows_written": ("Rows written to PostgreSQL", ()),
    "rows_conflicted": ("Rows already present (key conflict, not written)", ()),
    "dlq": ("Messages sent to the DLQ", ("stage",)),
    "batches": ("Batches committed", ()),
    "redis_errors": ("Failed Redis updates", ()),
    "pg_retries": ("PostgreSQL reconnect attempts", ()),
    "rejoins": ("Consumer replaced after a self-fence (see stream/sink/fencing.py)", ()),
}


@dataclass
class SinkMetrics:
    """The one metrics object of a sink: Prometheus collectors (own registry) are the only store.

    Counters change only through :meth:`count`; :attr:`totals` (logs, tests, the CLI summary) is read
    from those same counters, so the two views cannot drift apart.
    """

    kind: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r, k = self.registry, ["kind"]
        self.counters: dict[str, Counter] = {
            name: Counter(f"marketpipe_sink_{name}", doc, [*k, *extra], registry=r)
            for name, (doc, extra) in COUNTERS.items()
        }
        # The unlabelled-by-stage counters' children, bound once (the per-batch path uses them).
        self._children = {
            name: self.counters[name].labels(self.kind) for name, (_, extra) in COUNTERS.items() if not extra
        }
        self.batch_size = Histogram(
            "marketpipe_sink_batch_size", "Messages per batch", k, buckets=_SIZE_BUCKETS, registry=r
        ).labels(self.kind)
        self.pg_seconds = Histogram(
            "marketpipe_sink_pg_write_seconds", "PostgreSQL batch transaction time", k,
            buckets=_LATENCY_BUCKETS, registry=r,
        ).labels(self.kind)  # fmt: skip
        self.redis_seconds = Histogram(
            "marketpipe_sink_redis_write_seconds", "Redis batch update time", k,
            buckets=_LATENCY_BUCKETS, registry=r,
        ).labels(self.kind)  # fmt: skip
        self.e2e_seconds = Histogram(
            "marketpipe_sink_end_to_end_seconds", "Event time to visible in Redis (newest event per batch)", k,
            buckets=_LATENCY_BUCKETS, registry=r,
        ).labels(self.kind)  # fmt: skip
        self._lag = Gauge("marketpipe_sink_lag", "Messages behind the log end", [*k, "partition"], registry=r)
        self.redis_pending = Gauge(
            "marketpipe_sink_redis_pending", "Instruments waiting for Redis", k, registry=r
        ).labels(self.kind)
        self._last_log = time.monotonic()
        self._last_in = 0.0

    def count(self, name: str, value: float = 1.0, stage: str | None = None) -> None:
        """Add ``value`` to counter ``name`` (``stage``: the label of the ``dlq`` counter)."""
        if stage is not None:
            self.counters[name].labels(self.kind, stage).inc(value)
        else:
            self._children[name].inc(value)

    def set_lag(self, partition: int, lag: int) -> None:
        self._lag.labels(self.kind, str(partition)).set(lag)

    @property
    def totals(self) -> dict[str, float]:
        """Every counter as a plain number (summed over its labels), read from the collectors."""
        out: dict[str, float] = {}
        for name, counter in self.counters.items():
            total = 0.0
            for metric in counter.collect():
                for sample in metric.samples:
                    if sample.name.endswith("_total"):
                        total += sample.value
            out[name] = total
        return out

    def serve(self, port: int, health: HealthCheck | None = None) -> None:
        """Expose ``/metrics`` and ``/healthz`` on ``port`` (0 = do not serve)."""
        if port:
            serve_http(port, self.registry, health or (lambda: None))

    def maybe_log(self, every_s: float, lag: Callable[[], dict[int, int]] | None = None) -> bool:
        """Log one summary line if ``every_s`` passed since the last; True when it logged."""
        now = time.monotonic()
        elapsed = now - self._last_log
        if elapsed < every_s:
            return False
        totals = self.totals
        total_in = totals["messages_in"]
        lags = lag() if lag is not None else {}
        log.info(
            "sink %s: in=%d (%.0f/s) rows=%d dlq=%d batches=%d redis_errors=%d lag=%s",
            self.kind,
            total_in,
            (total_in - self._last_in) / elapsed if elapsed > 0 else 0.0,
            totals["rows_written"],
            totals["dlq"],
            totals["batches"],
            totals["redis_errors"],
            sum(lags.values()) if lags else "n/a",
        )
        self._last_log, self._last_in = now, total_in
        return True
