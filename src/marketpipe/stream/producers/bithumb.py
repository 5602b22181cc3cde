"""``marketpipe stream produce bithumb``: Bithumb v1 tickers for every KRW market into Kafka.

Each cycle asks ``GET /v1/ticker?markets=KRW-BTC,KRW-ETH,...`` for all KRW markets in as few calls as
the API accepts: it starts with every market in one call and halves the chunk only if the server
refuses the request as too large (HTTP 400/413/414), remembering the size that worked. A market's
ticker is produced to ``bithumb-ticker`` (key = market) only when its ``timestamp`` moved since the
last one produced — unchanged snapshots are dropped, as the seed's producer did. HTTP 429 and 5xx
back off with jitter (honouring ``Retry-After``) and the cycle resumes later; nothing crashes.

Requests, reply classification and parsing are the provider's (:mod:`marketpipe.providers.bithumb`:
``client.classify``, ``markets``, ``tickers``), the same the batch datasets use; this module only
polls, chunks, deduplicates and publishes.

Numbers are parsed as :class:`~decimal.Decimal` and passed on as JSON numbers when a float holds them
exactly, else as strings (Bithumb sends tails like ``1.76373410121466379999997512``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from marketpipe.http.errors import MalformedResponse
from marketpipe.http.types import ApiRequest, OutcomeKind, Reply
from marketpipe.providers.bithumb import PROVIDER
from marketpipe.providers.bithumb.markets import markets_request, parse_markets
from marketpipe.providers.bithumb.tickers import (
    TOO_LARGE_STATUSES,
    corrected_trade_timestamp,
    parse_tickers,
    tickers_request,
)
from marketpipe.stream import codec, topics
from marketpipe.stream.producers.pacing import RECONNECT_FLOOR, Backoff, wait_or_stop
from marketpipe.stream.producers.publisher import KafkaPublisher
from marketpipe.stream.producers.stats import ProducerStats, logfmt

log = logging.getLogger(__name__)


class BithumbError(RuntimeError):
    """A Bithumb reply the poller cannot use."""


class BithumbRateLimited(BithumbError):
    """HTTP 429: back off before the next call."""

    def __init__(self, retry_after: float | None) -> None:
        super().__init__(f"rate limited (Retry-After={retry_after})")
        self.retry_after = retry_after


class BithumbUnavailable(BithumbError):
    """A network failure or HTTP 5xx."""


class BithumbRequestTooLarge(BithumbError):
    """The server refused a ``markets=`` list as too long."""


class BithumbPayloadError(BithumbError):
    """The reply is not the documented JSON shape (the provider classified or parsed it so)."""


@dataclass
class BithumbProducerConfig:
    """Everything one Bithumb ticker producer needs."""

    bootstrap: str
    base_url: str
    topic: str = topics.BITHUMB_TICKER
    quote: str = "KRW"
    #: Fixed market list; None = every ``<quote>-`` market from ``/v1/market/all``.
    markets: list[str] | None = None
    interval_s: float = 1.0
    max_chunk: int | None = None
    markets_refresh_s: float = 3600.0
    http_timeout_s: float = PROVIDER.timeout_s
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    log_interval: float = 30.0
    kafka_config: dict[str, Any] = field(default_factory=dict)


def json_value(value: Any) -> Any:
    """A Decimal as a float when that is exact, else as a string; containers recursively."""
    if isinstance(value, Decimal):
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else str(value)
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_value(v) for v in value]
    return value


def chunks(items: list[str], size: int) -> Iterator[list[str]]:
    """Consecutive slices of ``items`` of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class BithumbProducer:
    """Poll Bithumb tickers and produce the changed ones."""

    def __init__(self, config: BithumbProducerConfig, stats: ProducerStats | None = None) -> None:
        self.config = config
        self.stats = stats or ProducerStats("bithumb", {"topic": config.topic})
        self.markets: list[str] = list(config.markets or [])
        self.chunk_size: int | None = config.max_chunk
        #: Last produced snapshot ``timestamp`` per market.
        self.last_timestamp: dict[str, int] = {}
        self._backoff = Backoff(config.backoff_base, config.backoff_cap, floor=RECONNECT_FLOOR)
        self._publisher: KafkaPublisher | None = None
        self._markets_loaded_at: float | None = None

    # -- HTTP, through the provider ------------------------------------------------------------
    async def _send(self, client: httpx.AsyncClient, request: ApiRequest, *, chunked: bool = False) -> Reply:
        """Send ``request`` (Bithumb's public API takes no key) and classify the reply with the
        provider's ``classify``; a reply that is not OK becomes the :class:`BithumbError` the poll loop
        reacts to. ``chunked``: a too-large refusal means "halve the ``markets=`` list"."""
        try:
            response = await client.get(
                request.path, params=dict(request.params), headers=dict(request.headers)
            )
        except httpx.HTTPError as exc:
            raise BithumbUnavailable(f"GET {request.path}: {type(exc).__name__}") from None
        reply = Reply(
            status=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            text=response.text,
            url=request.path,
        )
        if chunked and reply.status in TOO_LARGE_STATUSES:
            raise BithumbRequestTooLarge(f"GET {request.path}: HTTP {reply.status}")
        outcome = PROVIDER.classify(request, reply)
        if outcome.kind in (OutcomeKind.THROTTLED, OutcomeKind.QUOTA):
            raise BithumbRateLimited(outcome.retry_after_s)
        if outcome.kind is OutcomeKind.TRANSIENT:
            raise BithumbUnavailable(f"GET {request.path}: {outcome.message[:120]}")
        if not outcome.ok:
            raise BithumbPayloadError(f"GET {request.path}: {outcome.message[:160]}")
        return reply

    async def load_markets(self, client: httpx.AsyncClient) -> list[str]:
        """Every ``<quote>-`` market listed by ``/v1/market/all`` (the provider's market parser)."""
        reply = await self._send(client, markets_request(details=False))
        try:
            listing = parse_markets(reply.json())
        except (ValueError, MalformedResponse) as exc:
            raise BithumbPayloadError(f"market list: {exc}") from None
        prefix = f"{self.config.quote}-"
        return sorted({m["market_code"] for m in listing if m["market_code"].startswith(prefix)})

    async def fetch_tickers(self, client: httpx.AsyncClient) -> list[dict[str, Any]]:
        """Tickers of all markets, in as few calls as the server accepts."""
        while True:
            size = self.chunk_size or max(1, len(self.markets))
            try:
                found: list[dict[str, Any]] = []
                for part in chunks(self.markets, size):
                    reply = await self._send(client, tickers_request(part), chunked=True)
                    self.stats.add("calls")
                    try:
                        found.extend(parse_tickers(reply.text))
                    except MalformedResponse as exc:
                        raise BithumbPayloadError(str(exc)) from None
                return found
            except BithumbRequestTooLarge:
                if size <= 1:
                    raise
                self.chunk_size = max(1, size // 2)
                log.warning(logfmt({"event": "bithumb.chunk_shrunk", "chunk": self.chunk_size}))

    # -- one cycle -------------------------------------------------------------------------------
    def produce_changed(self, tickers: list[dict[str, Any]]) -> int:
        """Produce tickers whose ``timestamp`` moved; return how many were produced."""
        assert self._publisher is not None
        produced = 0
        now_ms = int(time.time() * 1000)
        self.stats.add("received", len(tickers))
        for ticker in tickers:
            market, stamp = ticker["market"], int(ticker["timestamp"])
            if stamp <= self.last_timestamp.get(market, -1):
                self.stats.add("unchanged")
                continue
            payload = json_value(ticker)
            payload["trade_timestamp_fixed"] = corrected_trade_timestamp(ticker)
            payload["source"] = "bithumb"
            payload["received_ms"] = now_ms
            self._publisher.publish(self.config.topic, market, codec.encode("ticker", payload))
            self.last_timestamp[market] = stamp
            produced += 1
        return produced

    async def poll_once(self, client: httpx.AsyncClient) -> int:
        """One poll cycle (refreshing the market list when due); returns tickers produced."""
        refresh_due = self._markets_loaded_at is None or (
            time.monotonic() - self._markets_loaded_at > self.config.markets_refresh_s
        )
        if not self.config.markets and refresh_due:
            self.markets = await self.load_markets(client)
            self._markets_loaded_at = time.monotonic()
            log.info(
                logfmt({"event": "bithumb.markets", "count": len(self.markets), "quote": self.config.quote})
            )
        self.stats.add("polls")
        return self.produce_changed(await self.fetch_tickers(client))

    async def _wait(self, stop: asyncio.Event, seconds: float) -> None:
        await wait_or_stop(stop, seconds)

    def open(self) -> None:
        """Create the Kafka publisher (``run`` does this; call it yourself to drive ``poll_once``)."""
        if self._publisher is None:
            self._publisher = KafkaPublisher(
                self.config.bootstrap,
                self.stats,
                client_id="marketpipe-bithumb",
                config=self.config.kafka_config,
            )

    def close(self) -> int:
        """Flush and close the publisher; returns messages left undelivered."""
        publisher, self._publisher = self._publisher, None
        return publisher.close() if publisher is not None else 0

    def http_client(self) -> httpx.AsyncClient:
        """An HTTP client for the configured base URL (no proxy from the environment)."""
        return httpx.AsyncClient(
            base_url=self.config.base_url, timeout=self.config.http_timeout_s, trust_env=False
        )

    async def run(self, stop: asyncio.Event, client: httpx.AsyncClient | None = None) -> None:
        """Poll every ``interval_s`` until ``stop``; errors back off instead of crashing."""
        cfg = self.config
        self.open()
        owns_client = client is None
        client = client or self.http_client()
        log.info(logfmt({"event": "bithumb.start", "topic": cfg.topic, "interval_s": cfg.interval_s}))
        try:
            next_cycle = time.monotonic()
            while not stop.is_set():
                try:
                    await self.poll_once(client)
                    self._backoff.reset()
                except BithumbRateLimited as exc:
                    self.stats.add("rate_limited")
                    backoff = self._backoff.next_delay()
                    # Honour Retry-After, but never sleep past the backoff cap on a server's say-so.
                    delay = min(exc.retry_after, cfg.backoff_cap) if exc.retry_after is not None else backoff
                    log.warning(logfmt({"event": "bithumb.rate_limited", "wait_s": round(delay, 2)}))
                    await self._wait(stop, delay)
                    next_cycle = time.monotonic()
                    continue
                except BithumbError as exc:
                    self.stats.add("provider_errors")
                    delay = self._backoff.next_delay()
                    log.warning(
                        logfmt(
                            {
                                "event": "bithumb.poll_failed",
                                "error": f"{type(exc).__name__}: {exc}"[:300],
                                "wait_s": round(delay, 2),
                            }
                        )
                    )
                    await self._wait(stop, delay)
                    next_cycle = time.monotonic()
                    continue
                # Fixed-rate schedule: the next cycle starts interval_s after this one started.
                next_cycle += cfg.interval_s
                await self._wait(stop, next_cycle - time.monotonic())
                next_cycle = max(next_cycle, time.monotonic() - cfg.interval_s)
        finally:
            if owns_client:
                await client.aclose()
            await asyncio.to_thread(self.close)
