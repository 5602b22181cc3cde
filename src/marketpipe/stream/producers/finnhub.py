"""``marketpipe stream produce finnhub``: S&P 500 trades from the Finnhub WebSocket into Kafka.

Shard ``i`` of ``N`` takes its stable slice of the universe (:mod:`.sharding`) and spreads it over
one WebSocket per Finnhub key it owns (≤ 50 symbols each, :func:`plan_connections`). Each trade is
normalised to ``{symbol, price, volume, timestamp_ms, seq, conditions, shard, shards, pod_name,
source, received_ms}`` and produced to ``sp500-websocket-trades`` keyed by symbol, so one symbol's
trades stay in order on one partition. Replayed frames are dropped here (see :mod:`.finnhub_ws`):
the trade table is keyed by ``(symbol, timestamp_ms, seq)`` with ``seq`` assigned by
:class:`TradeSequencer`, so a duplicate that reached Kafka would become a second row.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from marketpipe.stream import codec, topics
from marketpipe.stream.producers.finnhub_ws import FINNHUB_SYMBOL_CAP, Trade, TradeStream
from marketpipe.stream.producers.pacing import RECONNECT_FLOOR, Backoff
from marketpipe.stream.producers.publisher import KafkaPublisher
from marketpipe.stream.producers.sharding import Shard
from marketpipe.stream.producers.stats import ProducerStats, logfmt
from marketpipe.timeseries.gaps import GapRecorder

log = logging.getLogger(__name__)


@dataclass
class FinnhubProducerConfig:
    """Everything one Finnhub trades producer process needs."""

    bootstrap: str
    ws_url: str
    #: Finnhub keys this shard may use, one WebSocket connection each (see :func:`plan_connections`).
    tokens: list[SecretStr]
    #: The whole universe; the producer keeps only its shard's slice.
    universe: list[str]
    shard: Shard = field(default_factory=lambda: Shard(0, 1))
    topic: str = topics.SP500_TRADES
    source: str = "finnhub_ws"
    pod_name: str = field(default_factory=lambda: os.environ.get("HOSTNAME", "") or "local")
    max_symbols: int = FINNHUB_SYMBOL_CAP
    subscribe_rate: float = 20.0
    idle_timeout: float = 30.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    dedupe_window_s: float = 5.0
    log_interval: float = 30.0
    kafka_config: dict[str, Any] = field(default_factory=dict)
    #: PostgreSQL URL for recording connection gaps in stream_gaps (None: not recorded).
    gaps_dsn: str | None = field(default_factory=lambda: os.environ.get("MARKETPIPE_DATABASE_URL") or None)


#: The table key's ``seq`` column is a smallint.
MAX_SEQ = 32_767


class TradeSequencer:
    """Numbers trades that share a symbol and millisecond: 0, 1, 2, … in arrival order.

    The trade tables are keyed by (symbol, timestamp_ms, seq), so several prints in one millisecond
    (normal on Finnhub) stay distinct rows while a Kafka replay of the same message still writes
    nothing twice. The counter lives in a bounded LRU keyed by (symbol, timestamp_ms): a late trade
    for an older millisecond continues that millisecond's count instead of restarting at 0.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._next: OrderedDict[tuple[str, int], int] = OrderedDict()

    def assign(self, symbol: str, timestamp_ms: int) -> int | None:
        """The next ``seq`` for this symbol and millisecond (None past :data:`MAX_SEQ`)."""
        key = (symbol, timestamp_ms)
        seq = self._next.get(key, 0)
        self._next[key] = seq + 1
        self._next.move_to_end(key)
        if len(self._next) > self.max_entries:
            self._next.popitem(last=False)
        return seq if seq <= MAX_SEQ else None


def trade_payload(
    trade: Trade, *, seq: int, shard: Shard, pod_name: str, source: str, received_ms: int
) -> dict[str, Any]:
    """The message body for one trade (before :func:`codec.encode` adds the schema version)."""
    return {
        "symbol": trade.symbol,
        "price": trade.price,
        "volume": trade.volume,
        "timestamp_ms": trade.timestamp_ms,
        "seq": seq,
        "conditions": list(trade.conditions),
        "shard": shard.index,
        "shards": shard.count,
        "pod_name": pod_name,
        "source": source,
        "received_ms": received_ms,
    }


def plan_connections(symbols: list[str], keys: int, max_symbols: int) -> tuple[list[list[str]], list[str]]:
    """Split a shard's symbols over at most ``keys`` connections of at most ``max_symbols`` each.

    Finnhub allows one connection per key and ≈50 symbols per connection, and a hashed shard can be
    a little larger than that. The symbols (sorted) are cut into the fewest, evenly sized contiguous
    chunks; what does not fit in ``keys × max_symbols`` is returned as unserved (logged loudly).
    Returns (chunks, unserved).
    """
    if not symbols or keys < 1:
        return [], list(symbols)
    served, unserved = symbols[: keys * max_symbols], symbols[keys * max_symbols :]
    connections = -(-len(served) // max_symbols)
    size, extra = divmod(len(served), connections)
    chunks, start = [], 0
    for i in range(connections):
        end = start + size + (1 if i < extra else 0)
        chunks.append(served[start:end])
        start = end
    return chunks, unserved


class FinnhubProducer:
    """Finnhub WebSocket → Kafka for one shard (one connection per key, as many as the slice needs)."""

    def __init__(self, config: FinnhubProducerConfig, stats: ProducerStats | None = None) -> None:
        self.config = config
        self.symbols = config.shard.select(config.universe)
        self.chunks, self.unserved = plan_connections(self.symbols, len(config.tokens), config.max_symbols)
        self.stats = stats or ProducerStats("finnhub", {"shard": str(config.shard), "topic": config.topic})
        self.streams: list[TradeStream] = []
        self._publisher: KafkaPublisher | None = None  # exists only while run() is active
        self.sequencer = TradeSequencer()
        self.gaps = (
            GapRecorder.for_topic(config.gaps_dsn, config.topic, str(config.shard))
            if config.gaps_dsn
            else None
        )

    @property
    def subscribed(self) -> set[str]:
        """Symbols subscribed right now, over all connections."""
        return set().union(*(s.subscribed for s in self.streams))

    @property
    def connections(self) -> int:
        """WebSocket connections opened so far (reconnects included), over all keys."""
        return sum(s.connections for s in self.streams)

    def _make_stream(self, token: SecretStr, symbols: list[str]) -> TradeStream:
        cfg = self.config
        return TradeStream(
            cfg.ws_url,
            token.get_secret_value(),
            symbols,
            self._publish,
            self.stats,
            max_symbols=cfg.max_symbols,
            subscribe_rate=cfg.subscribe_rate,
            idle_timeout=cfg.idle_timeout,
            backoff=Backoff(cfg.backoff_base, cfg.backoff_cap, floor=RECONNECT_FLOOR),
            dedupe_window_s=cfg.dedupe_window_s,
            on_gap=self.gaps.callback(len(self.streams)) if self.gaps else None,
        )

    def _publish(self, trades: list[Trade]) -> None:
        assert self._publisher is not None
        cfg = self.config
        now_ms = int(time.time() * 1000)
        for trade in trades:
            seq = self.sequencer.assign(trade.symbol, trade.timestamp_ms)
            if seq is None:
                self.stats.add("seq_overflow")
                continue
            payload = trade_payload(
                trade, seq=seq, shard=cfg.shard, pod_name=cfg.pod_name, source=cfg.source, received_ms=now_ms
            )
            self._publisher.publish(cfg.topic, trade.symbol, codec.encode("trade", payload))

    async def run(self, stop: asyncio.Event) -> None:
        """Stream until ``stop`` is set, then flush Kafka."""
        cfg = self.config
        log.info(
            logfmt(
                {
                    "event": "finnhub.start",
                    "shard": str(cfg.shard),
                    "symbols": len(self.symbols),
                    "universe": len(cfg.universe),
                    "connections": len(self.chunks),
                    "keys": len(cfg.tokens),
                    "topic": cfg.topic,
                }
            )
        )
        if not self.symbols:
            log.warning(logfmt({"event": "finnhub.empty_shard", "shard": str(cfg.shard)}))
        if self.unserved:
            self.stats.add("unserved_symbols", len(self.unserved))
            log.error(
                logfmt(
                    {
                        "event": "finnhub.unserved_symbols",
                        "unserved": len(self.unserved),
                        "first": ",".join(self.unserved[:5]),
                        "hint": f"{len(cfg.tokens)} key(s) x {cfg.max_symbols} symbols is too few: add keys or shards",
                    }
                )
            )
        self._publisher = KafkaPublisher(
            cfg.bootstrap,
            self.stats,
            client_id=f"marketpipe-finnhub-{cfg.shard.index}",
            config=cfg.kafka_config,
        )
        self.streams = []
        for token, chunk in zip(cfg.tokens, self.chunks, strict=False):
            self.streams.append(self._make_stream(token, chunk))
        tasks = [
            asyncio.create_task(s.run(stop), name=f"finnhub-conn-{i}") for i, s in enumerate(self.streams)
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            stop.set()  # one connection failing hard stops the others too, then Kafka is flushed
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.to_thread(self._publisher.close)
            if self.gaps is not None:
                await asyncio.to_thread(self.gaps.close)
