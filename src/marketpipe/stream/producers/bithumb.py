"""``marketpipe stream produce bithumb``: Bithumb v1 tickers for every KRW market into Kafka.

Each cycle asks ``GET /v1/ticker?markets=KRW-BTC,KRW-ETH,...`` for all KRW markets in as few calls as
the API accepts: it starts with every market in one call and halves the chunk only if the server
refuses the request as too large (HTTP 400/413/414), remembering the size that worked. A market's
ticker is produced to ``bithumb-ticker`` (key = market) only when its ``timestamp`` moved since the
last one produced — unchanged snapshots are dropped, as the seed's producer did. HTTP 429 and 5xx
back off with jitter (honouring ``Retry-After``) and the cycle resumes later; nothing crashes.

Numbers are parsed as :class:`~decimal.Decimal` and passed on as JSON numbers when a float holds them
exactly, else as strings (Bithumb sends tails like ``1.76373410121466379999997512``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from marketpipe.stream import codec, topics
from marketpipe.stream.producers.pacing import RECONNECT_FLOOR, Backoff, wait_or_stop
from marketpipe.stream.producers.publisher import KafkaPublisher
from marketpipe.stream.producers.stats import ProducerStats, logfmt

log = logging.getLogger(__name__)

#: Bithumb's ``trade_timestamp`` is KST wall time encoded as UTC: 9 h ahead (spec §8.1 quirk).
KST_SKEW_MS = 32_400_000
_TOO_LARGE = frozenset({400, 413, 414})


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
    """The body is not the documented JSON shape."""


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
    http_timeout_s: float = 10.0
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


def corrected_trade_timestamp(ticker: dict[str, Any]) -> int | None:
    """``trade_timestamp`` in true epoch ms: minus 9 h when it is more than 1 h ahead of ``timestamp``."""
    trade_ts, snapshot_ts = ticker.get("trade_timestamp"), ticker.get("timestamp")
    if not isinstance(trade_ts, int):
        return None
    if isinstance(snapshot_ts, int) and trade_ts - snapshot_ts > 3_600_000:
        return trade_ts - KST_SKEW_MS
    return trade_ts


def parse_tickers(body: str) -> list[dict[str, Any]]:
    """A ``/v1/ticker`` body → ticker dicts with Decimal numbers (raises :class:`BithumbPayloadError`)."""
    try:
        data = json.loads(body, parse_float=Decimal)
    except ValueError:
        raise BithumbPayloadError(f"ticker body is not JSON: {body[:80]!r}") from None
    if not isinstance(data, list):
        raise BithumbPayloadError(f"ticker body is not a list: {str(data)[:120]!r}")
    tickers = []
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("market"), str):
            raise BithumbPayloadError(f"ticker item without a market: {str(item)[:120]!r}")
        if not isinstance(item.get("timestamp"), int):
            raise BithumbPayloadError(f"ticker {item['market']} without an integer timestamp")
        tickers.append(item)
    return tickers


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

    # -- HTTP ----------------------------------------------------------------------------------
    async def _get(self, client: httpx.AsyncClient, path: str, params: dict[str, str]) -> str:
        try:
            reply = await client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise BithumbUnavailable(f"GET {path}: {type(exc).__name__}") from None
        if reply.status_code == 429:
            retry_after = reply.headers.get("Retry-After")
            raise BithumbRateLimited(float(retry_after) if retry_after and retry_after.isdigit() else None)
        if reply.status_code >= 500:
            raise BithumbUnavailable(f"GET {path}: HTTP {reply.status_code}")
        if reply.status_code in _TOO_LARGE and path.endswith("/ticker"):
            raise BithumbRequestTooLarge(f"GET {path}: HTTP {reply.status_code}")
        if reply.status_code != 200:
            raise BithumbPayloadError(f"GET {path}: HTTP {reply.status_code}: {reply.text[:120]!r}")
        return reply.text

    async def load_markets(self, client: httpx.AsyncClient) -> list[str]:
        """Every ``<quote>-`` market listed by ``/v1/market/all``."""
        body = await self._get(client, "/v1/market/all", {"isDetails": "false"})
        try:
            listing = json.loads(body)
        except ValueError:
            raise BithumbPayloadError("market list is not JSON") from None
        if not isinstance(listing, list):
            raise BithumbPayloadError("market list is not a JSON array")
        prefix = f"{self.config.quote}-"
        return sorted(
            {
                m["market"]
                for m in listing
                if isinstance(m, dict) and str(m.get("market", "")).startswith(prefix)
            }
        )

    async def fetch_tickers(self, client: httpx.AsyncClient) -> list[dict[str, Any]]:
        """Tickers of all markets, in as few calls as the server accepts."""
        while True:
            size = self.chunk_size or max(1, len(self.markets))
            try:
                tickers: list[dict[str, Any]] = []
                for part in chunks(self.markets, size):
                    body = await self._get(client, "/v1/ticker", {"markets": ",".join(part)})
                    self.stats.add("calls")
                    tickers.extend(parse_tickers(body))
                return tickers
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
