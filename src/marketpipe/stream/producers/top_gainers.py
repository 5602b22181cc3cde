"""``marketpipe stream produce topgainers``: trades of the latest top-gainers batch into Kafka.

The symbol set is the newest ``top_gainers`` batch (gainers, losers, most active; at most 50 — the
Finnhub per-connection cap). The producer ``LISTEN``s on ``top_gainers_updated`` (the trigger in
migration 0009 notifies once per inserted batch); on a notification for a newer batch it reloads the
batch and the WebSocket (un)subscribes only the difference — no reconnect. It also reloads after
every (re)connection to PostgreSQL, so a batch inserted while the listener was down is not missed.
Trades go to ``finnhub-trades`` keyed by symbol, each tagged with the symbol's category.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from pydantic import SecretStr

from marketpipe.redaction import redact as scrub
from marketpipe.stream import codec, topics
from marketpipe.stream.producers.finnhub import TradeSequencer, trade_payload
from marketpipe.stream.producers.finnhub_ws import FINNHUB_SYMBOL_CAP, Trade, TradeStream
from marketpipe.stream.producers.pacing import RECONNECT_FLOOR, Backoff
from marketpipe.stream.producers.publisher import KafkaPublisher
from marketpipe.stream.producers.sharding import Shard
from marketpipe.stream.producers.stats import ProducerStats, logfmt
from marketpipe.stream.producers.universe import TOP_GAINER_CATEGORIES, latest_top_gainers

log = logging.getLogger(__name__)

CHANNEL = "top_gainers_updated"


@dataclass
class TopGainersProducerConfig:
    """Everything the top-gainers producer needs."""

    bootstrap: str
    ws_url: str
    token: SecretStr | None
    dsn: str
    topic: str = topics.FINNHUB_TRADES
    channel: str = CHANNEL
    categories: tuple[str, ...] = TOP_GAINER_CATEGORIES
    limit: int = FINNHUB_SYMBOL_CAP
    subscribe_rate: float = 20.0
    idle_timeout: float = 30.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    log_interval: float = 30.0
    pod_name: str = "topgainers"
    kafka_config: dict[str, Any] = field(default_factory=dict)


class TopGainersProducer:
    """Follow the latest top-gainers batch and stream its trades."""

    def __init__(self, config: TopGainersProducerConfig, stats: ProducerStats | None = None) -> None:
        self.config = config
        self.stats = stats or ProducerStats("topgainers", {"topic": config.topic})
        self.batch_id: int | None = None
        self.categories: dict[str, str] = {}
        self.stream: TradeStream | None = None
        self._publisher: KafkaPublisher | None = None
        self._shard = Shard(0, 1)
        self.sequencer = TradeSequencer()
        self._listener_backoff = Backoff(config.backoff_base, config.backoff_cap, floor=RECONNECT_FLOOR)
        #: Set each time a batch has been applied (lets callers wait for a re-subscription).
        self.reloaded = asyncio.Event()

    @property
    def subscribed(self) -> set[str]:
        """Symbols subscribed on the live connection right now."""
        return set(self.stream.subscribed) if self.stream is not None else set()

    @property
    def connections(self) -> int:
        """WebSocket connections opened so far (reconnects included)."""
        return self.stream.connections if self.stream is not None else 0

    # -- symbol set -------------------------------------------------------------------------------
    def _load_latest(self) -> tuple[int | None, dict[str, str]]:
        with psycopg.connect(self.config.dsn, autocommit=True) as conn:
            return latest_top_gainers(conn, self.config.categories, self.config.limit)

    async def reload(self) -> bool:
        """Load the newest batch; if it is new, re-subscribe the difference. True when the set changed."""
        batch_id, categories = await asyncio.to_thread(self._load_latest)
        if batch_id is None or (self.batch_id is not None and batch_id <= self.batch_id):
            return False
        old = set(self.categories)
        self.batch_id, self.categories = batch_id, categories
        assert self.stream is not None
        self.stream.set_symbols(categories)
        added, removed = sorted(set(categories) - old), sorted(old - set(categories))
        self.stats.add("batches")
        log.info(
            logfmt(
                {
                    "event": "topgainers.batch",
                    "batch_id": batch_id,
                    "symbols": len(categories),
                    "added": len(added),
                    "removed": len(removed),
                }
            )
        )
        self.reloaded.set()
        return True

    async def _listen(self) -> None:
        """LISTEN forever (reconnecting with backoff); reload on each newer batch's notification."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.config.dsn, autocommit=True) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.config.channel)))
                    await self.reload()  # catch up with batches inserted while we were not listening
                    self._listener_backoff.reset()
                    async for notify in conn.notifies():
                        self.stats.add("notifications")
                        if self._is_stale(notify.payload):
                            continue
                        await self.reload()
            except psycopg.Error as exc:
                self.stats.add("listener_errors")
                delay = self._listener_backoff.next_delay()
                log.warning(
                    logfmt(
                        {
                            "event": "topgainers.listener_lost",
                            "wait_s": round(delay, 2),
                            "error": f"{type(exc).__name__}: {scrub(str(exc))}"[:300],
                        }
                    )
                )
                await asyncio.sleep(delay)  # backoff between reconnects; cancelled on stop

    def _is_stale(self, payload: str) -> bool:
        """True when the notification names a batch we already have (the seed sent ~20 per batch)."""
        try:
            batch_id = int(json.loads(payload)["batch_id"])
        except (ValueError, KeyError, TypeError):
            return False  # unknown payload: reload to be safe
        return self.batch_id is not None and batch_id <= self.batch_id

    # -- trades -----------------------------------------------------------------------------------
    def _publish(self, trades: list[Trade]) -> None:
        assert self._publisher is not None
        cfg = self.config
        now_ms = int(time.time() * 1000)
        for trade in trades:
            category = self.categories.get(trade.symbol)
            if category is None:
                self.stats.add("unsubscribed_trades")  # in flight while unsubscribing: not ours any more
                continue
            seq = self.sequencer.assign(trade.symbol, trade.timestamp_ms)
            if seq is None:
                self.stats.add("seq_overflow")
                continue
            payload = trade_payload(
                trade,
                seq=seq,
                shard=self._shard,
                pod_name=cfg.pod_name,
                source="finnhub_topgainers",
                received_ms=now_ms,
            )
            payload["category"] = category
            payload["batch_id"] = self.batch_id
            self._publisher.publish(cfg.topic, trade.symbol, codec.encode("trade", payload))

    async def run(self, stop: asyncio.Event) -> None:
        """Listen and stream until ``stop``; then flush Kafka."""
        cfg = self.config
        self._publisher = KafkaPublisher(
            cfg.bootstrap, self.stats, client_id="marketpipe-topgainers", config=cfg.kafka_config
        )
        self.stream = TradeStream(
            cfg.ws_url,
            cfg.token.get_secret_value() if cfg.token else None,
            [],
            self._publish,
            self.stats,
            max_symbols=cfg.limit,
            subscribe_rate=cfg.subscribe_rate,
            idle_timeout=cfg.idle_timeout,
            backoff=Backoff(cfg.backoff_base, cfg.backoff_cap, floor=RECONNECT_FLOOR),
        )
        log.info(logfmt({"event": "topgainers.start", "topic": cfg.topic, "channel": cfg.channel}))
        listener = asyncio.create_task(self._listen(), name="topgainers-listen")
        streamer = asyncio.create_task(self.stream.run(stop), name="topgainers-stream")
        try:
            # The listener only ends by failing; then the producer fails too instead of going stale.
            done, _ = await asyncio.wait({listener, streamer}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            stop.set()
            listener.cancel()
            await asyncio.gather(listener, streamer, return_exceptions=True)
            await asyncio.to_thread(self._publisher.close)
