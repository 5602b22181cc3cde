"""Counters every producer keeps, and the periodic rate line it logs.

The log line is logfmt (``event=producer.stats producer=finnhub shard=1/3 received=... rate_produced=...``)
so it can be grepped and parsed; it never contains a URL or token.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


def logfmt(fields: Mapping[str, object]) -> str:
    """``k=v`` pairs; values with spaces are quoted."""
    parts = []
    for key, value in fields.items():
        text = f"{value:.1f}" if isinstance(value, float) else str(value)
        if " " in text or '"' in text or not text:
            text = '"' + text.replace('"', "'") + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


class ProducerStats:
    """Thread-safe counters (the Kafka delivery callback runs on the poll thread).

    Known counter names: ``received`` (records seen from the source), ``produced`` (handed to Kafka),
    ``delivered`` / ``delivery_failed`` (broker acks), ``duplicates`` (dropped as exact duplicates),
    ``unchanged`` (Bithumb: same timestamp as last time), ``garbage`` (unparsable frames),
    ``bad_records`` (parsable frame, invalid record), ``provider_errors`` (error replies),
    ``subscription_rejected`` (Finnhub symbol cap), ``reconnects``, ``rate_limited``, ``polls``.
    """

    def __init__(
        self,
        producer: str,
        labels: Mapping[str, object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.producer = producer
        self.labels = dict(labels or {})
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._last_counts: Counter[str] = Counter()
        self._last_report = clock()
        #: Callables returning None when healthy or a reason (served as ``/healthz``).
        self.health_checks: list[Callable[[], str | None]] = []

    def health(self) -> str | None:
        """None when every registered check passes, else the first problem."""
        for check in list(self.health_checks):
            problem = check()
            if problem is not None:
                return problem
        return None

    def add(self, name: str, n: int = 1) -> None:
        """Increase counter ``name`` by ``n``."""
        with self._lock:
            self._counts[name] += n

    def get(self, name: str) -> int:
        """Current value of counter ``name``."""
        with self._lock:
            return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        """All counters."""
        with self._lock:
            return dict(self._counts)

    def report(self, logger: logging.Logger, level: int = logging.INFO) -> dict[str, float]:
        """Log totals and per-second rates since the previous report; return the rates."""
        now = self._clock()
        with self._lock:
            counts = Counter(self._counts)
            elapsed = max(now - self._last_report, 1e-9)
            rates = {
                k: (counts[k] - self._last_counts[k]) / elapsed for k in ("received", "produced", "delivered")
            }
            self._last_counts, self._last_report = counts, now
        fields: dict[str, object] = {"event": "producer.stats", "producer": self.producer, **self.labels}
        fields.update(sorted(counts.items()))
        fields.update({f"rate_{k}": v for k, v in rates.items()})
        logger.log(level, logfmt(fields))
        return rates


class ProducerStatsCollector(Collector):
    """Prometheus view of a :class:`ProducerStats`: every counter as ``marketpipe_producer_<name>_total``.

    Read at scrape time, so the hot path only increments plain integers.
    """

    def __init__(self, stats: ProducerStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[CounterMetricFamily]:
        labels = {"producer": self.stats.producer, **{k: str(v) for k, v in self.stats.labels.items()}}
        for name, value in sorted(self.stats.snapshot().items()):
            family = CounterMetricFamily(
                f"marketpipe_producer_{name}", f"Producer counter {name!r}", labels=list(labels)
            )
            family.add_metric(list(labels.values()), value)
            yield family


def serve_metrics(stats: ProducerStats, port: int, addr: str = "0.0.0.0") -> CollectorRegistry:
    """Expose ``stats`` on ``http://addr:port/metrics`` and ``/healthz`` (a daemon thread); returns the registry.

    ``/healthz`` is 503 with the reason while any of ``stats.health_checks`` reports a problem (the
    Kafka publisher registers one: fatal producer error, or messages pending without a delivery for
    two minutes).
    """
    from marketpipe.stream.metrics import serve_http

    registry = CollectorRegistry()
    registry.register(ProducerStatsCollector(stats))
    serve_http(port, registry, stats.health, addr=addr)
    return registry
