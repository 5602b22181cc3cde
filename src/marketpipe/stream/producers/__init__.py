"""Kafka producers: Finnhub trades WebSocket (sharded), Bithumb ticker poller, top-gainers WebSocket.

Commands live in :mod:`.cli` (``marketpipe stream produce ...``); each producer module exposes a
config dataclass and a producer class whose ``run(stop)`` coroutine can also be embedded.
"""
