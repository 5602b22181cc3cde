"""Sink metrics: Prometheus collectors (own registry per sink) plus a periodic log line.

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


@dataclass
class SinkMetrics:
    """Counters of one sink; ``totals`` mirrors them as plain numbers for logs and tests."""

    kind: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    totals: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        r, k = self.registry, ["kind"]
        self.messages_in = Counter("marketpipe_sink_messages_in", "Messages consumed", k, registry=r)
        self.rows_written = Counter(
            "marketpipe_sink_rows_written", "Rows written to PostgreSQL", k, registry=r
        )
        self.rows_conflicted = Counter(
            "marketpipe_sink_rows_conflicted",
            "Rows already present (key conflict, not written)",
            k,
            registry=r,
        )
        self.dlq = Counter("marketpipe_sink_dlq", "Messages sent to the DLQ", [*k, "stage"], registry=r)
        self.batches = Counter("marketpipe_sink_batches", "Batches committed", k, registry=r)
        self.redis_errors = Counter("marketpipe_sink_redis_errors", "Failed Redis updates", k, registry=r)
        self.pg_retries = Counter(
            "marketpipe_sink_pg_retries", "PostgreSQL reconnect attempts", k, registry=r
        )
        self.batch_size = Histogram(
            "marketpipe_sink_batch_size", "Messages per batch", k, buckets=_SIZE_BUCKETS, registry=r
        )
        self.pg_seconds = Histogram(
            "marketpipe_sink_pg_write_seconds", "PostgreSQL batch transaction time", k,
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.redis_seconds = Histogram(
            "marketpipe_sink_redis_write_seconds",
            "Redis batch update time",
            k,
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.e2e_seconds = Histogram(
            "marketpipe_sink_end_to_end_seconds", "Event time to visible in Redis (newest event per batch)", k,
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.lag = Gauge("marketpipe_sink_lag", "Messages behind the log end", [*k, "partition"], registry=r)
        self.redis_pending = Gauge(
            "marketpipe_sink_redis_pending", "Instruments waiting for Redis", k, registry=r
        )
        self._last_log = time.monotonic()
        self._last_in = 0.0

    def add(self, name: str, value: float = 1.0) -> None:
        self.totals[name] = self.totals.get(name, 0.0) + value

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
        total_in = self.totals.get("messages_in", 0.0)
        lags = lag() if lag is not None else {}
        log.info(
            "sink %s: in=%d (%.0f/s) rows=%d dlq=%d batches=%d redis_errors=%d lag=%s",
            self.kind,
            total_in,
            (total_in - self._last_in) / elapsed if elapsed > 0 else 0.0,
            self.totals.get("rows_written", 0),
            self.totals.get("dlq", 0),
            self.totals.get("batches", 0),
            self.totals.get("redis_errors", 0),
            sum(lags.values()) if lags else "n/a",
        )
        self._last_log, self._last_in = now, total_in
        return True
