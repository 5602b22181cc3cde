"""What the sink does per message kind: table, COPY row, Redis layout.

A *kind* binds a topic to a decoder, a table (with its conflict key), a COPY text row builder and a
Redis layout (seed-compatible hash, ``latest:`` key prefix, bounded per-instrument history, pub/sub
channel). Adding a stream = one :class:`SinkKind` value here (plus its table migration).

Rows are written in PostgreSQL's COPY *text* format, built here directly: it is several times faster
than per-row adaptation and the values are already validated by the codec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import Any

import orjson

from marketpipe.stream import codec, topics

_NULL = "\\N"
_COPY_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_CACHE_MAX = 100_000
#: Only values up to this long are memoised: the caches stay below ~100k × 64 chars whatever arrives.
_CACHE_VALUE_MAX = 64


class _Escaped(dict[str | None, str]):
    """Text values escaped for COPY text format, memoised (symbols and sources repeat endlessly).

    ``ESCAPED[value]`` is one C-level dict lookup on a hit; ``None`` maps to NULL.
    """

    def __missing__(self, value: str | None) -> str:
        hit = _NULL if value is None else value.translate(_COPY_ESCAPE)
        if len(self) < _CACHE_MAX and (value is None or len(value) <= _CACHE_VALUE_MAX):
            self[value] = hit
        return hit


class _Arrays(dict[tuple[str, ...] | None, str]):
    """``text[]`` literals for COPY (each element quoted, then COPY-escaped), memoised: few distinct sets."""

    def __missing__(self, values: tuple[str, ...] | None) -> str:
        if not values:
            return _NULL
        inner = ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
        hit = ESCAPED["{" + inner + "}"]
        if len(self) < _CACHE_MAX // 10 and len(hit) <= 4 * _CACHE_VALUE_MAX:
            self[values] = hit
        return hit


ESCAPED = _Escaped()
ARRAYS = _Arrays()


def esc(value: str) -> str:
    """A text value escaped for COPY text format."""
    return ESCAPED[value]


def num(value: Any) -> str:
    """A validated number (float/int/numeric string) as COPY text; None → NULL."""
    if value is None or value == "":
        return _NULL
    if type(value) is float:
        return repr(value)  # shortest round-trip form; PostgreSQL numeric accepts 1e-05 as well
    return str(value).strip()


def opt_text(value: Any) -> str:
    return _NULL if value is None else ESCAPED[str(value)]


@dataclass(frozen=True)
class RedisLayout:
    """Where a kind's latest values, history and signals live in Redis."""

    hash_key: str | None  # seed-compatible hash (field = instrument, value = JSON), or None
    latest_prefix: str  # latest:<...>:{instrument}
    history_prefix: str  # one bounded sorted set per instrument: score = event ms
    channel: str | None  # one PUBLISH per batch
    ttl_s: int  # TTL of latest keys and history sets (seed: 5 days for stocks, 1 day for crypto)


@dataclass(frozen=True)
class SinkKind:
    """One stream the sink can consume."""

    name: str
    topic: str
    table: str
    columns: tuple[str, ...]
    conflict_key: tuple[str, ...]
    # decode returns the kind's message object (a TradeV1 for trades, a dict for tickers); the other
    # callables take that object.
    decode: Callable[[bytes | None], Any]
    # (one COPY text line without the newline, its Redis history member): built together because
    # both format the same values. The member is unique per row, so replays are idempotent.
    encode: Callable[[Any], tuple[str, str]]
    instrument: Callable[[Any], str]  # C-level getters (operator.attrgetter / itemgetter): hot path
    event_ms: Callable[[Any], int]  # the time that orders "newest"
    snapshot: Callable[[Any], dict[str, Any]]  # JSON value of the hash/latest key
    redis: RedisLayout
    # SQL returning (instrument, row as json) of the newest row per instrument, for Redis rehydration.
    latest_sql: str
    # The table key of a decoded message, in conflict_key order (to know which rows a fallback skipped).
    row_key: Callable[[Any], tuple[Any, ...]] = lambda m: ()
    candles: bool = False  # keep 1m/5m/1h OHLCV in trade_candles (trade kinds)

    def with_topic(self, topic: str) -> SinkKind:
        """The same kind reading another topic (tests use uniquely named topics)."""
        from dataclasses import replace

        return replace(self, topic=topic)


# -- trades (Finnhub): sp500-websocket-trades and finnhub-trades ------------------------------------

TRADE_COLUMNS = (
    "symbol", "price", "volume_exact", "timestamp_ms", "seq", "trade_conditions", "pod_name", "source", "pod_index",
)  # fmt: skip
# ``volume_exact`` keeps Finnhub's volume as sent; ``volume`` (bigint, what the seed backend reads) is
# generated from it by the table (migration 0154).


def _trade_encoder(default_source: str, *, with_category: bool = False) -> Callable[[Any], tuple[str, str]]:
    """(COPY line, history member) of a trade (``default_source`` fills a missing ``source``).

    The hottest code of the sink: every value is formatted once, escaping is a memo lookup.
    """
    default = esc(default_source)
    text, arrays = ESCAPED, ARRAYS

    def encode(t: codec.TradeV1) -> tuple[str, str]:
        price, volume, ts, seq, shard, source = (
            repr(t.price),
            repr(t.volume),
            t.timestamp_ms,
            t.seq,
            t.shard,
            t.source,
        )
        line = (
            f"{text[t.symbol]}\t{price}\t{volume}\t{ts}\t{seq}\t{arrays[t.conditions]}\t{text[t.pod_name]}\t"
            f"{default if source is None else text[source]}\t{_NULL if shard is None else shard}"
        )
        if with_category:
            line = f"{line}\t{text[t.category]}"
        # ts:seq identifies the row (the table key minus the symbol); price and volume make it useful.
        return line, f"{ts}:{seq}:{price}:{volume}"

    return encode


def _trade_snapshot(t: Any) -> dict[str, Any]:
    # sp500_realtime_data: the seed backend reads symbol, price, timestamp (+ volume, source).
    snap = {
        "symbol": t.symbol,
        "price": t.price,
        "volume": t.volume,
        "timestamp": t.timestamp_ms,
        "source": t.source or "finnhub_ws",
    }
    if t.shard is not None:
        snap["pod_index"] = t.shard
    if t.category is not None:
        snap["category"] = t.category
    return snap


def _etf_encoder(t: codec.TradeV1) -> tuple[str, str]:
    """(COPY line, history member) of an ETF trade: ``etf_realtime_prices`` keeps the conditions as
    one comma-separated text (the seed backend's model maps the column as a string)."""
    price, volume, ts, seq, source = repr(t.price), repr(t.volume), t.timestamp_ms, t.seq, t.source
    conditions = _NULL if not t.conditions else ESCAPED[",".join(t.conditions)]
    line = (
        f"{ESCAPED[t.symbol]}\t{price}\t{volume}\t{ts}\t{seq}\t{conditions}\t"
        f"{_ETF_SOURCE if source is None else ESCAPED[source]}"
    )
    return line, f"{ts}:{seq}:{price}:{volume}"


_ETF_SOURCE = "finnhub_etf_websocket"


def _trade_latest_sql(table: str, shard_column: str = "pod_index") -> str:
    # Loose index scan over the (symbol, timestamp_ms, seq) primary key: one probe per symbol,
    # instead of DISTINCT ON over the whole history.
    return f"""
        WITH RECURSIVE syms AS (
            SELECT min(symbol) AS symbol FROM {table}
            UNION ALL
            SELECT (SELECT min(t.symbol) FROM {table} t WHERE t.symbol > syms.symbol)
              FROM syms WHERE syms.symbol IS NOT NULL
        )
        SELECT s.symbol, json_build_object(
                 'symbol', r.symbol, 'price', r.price, 'volume', r.volume_exact, 'timestamp_ms', r.timestamp_ms,
                 'seq', r.seq, 'source', r.source, 'shard', {"r." + shard_column if shard_column else "NULL"})::text
          FROM syms s
          CROSS JOIN LATERAL (
                SELECT * FROM {table} t WHERE t.symbol = s.symbol
                 ORDER BY t.timestamp_ms DESC, t.seq DESC LIMIT 1) r
         WHERE s.symbol IS NOT NULL
    """


_symbol = attrgetter("symbol")
_trade_ms = attrgetter("timestamp_ms")


SP500 = SinkKind(
    name="trades",
    topic=topics.SP500_TRADES,
    table="sp500_websocket_trades",
    columns=TRADE_COLUMNS,
    conflict_key=("symbol", "timestamp_ms", "seq"),
    decode=codec.decode_trade_struct,
    encode=_trade_encoder("finnhub_sp500_websocket"),
    instrument=_symbol,
    event_ms=_trade_ms,
    snapshot=_trade_snapshot,
    redis=RedisLayout(
        hash_key="sp500_realtime_data",
        latest_prefix="latest:stocks:sp500:",
        history_prefix="history:stocks:sp500:",
        channel="sp500_updates",
        ttl_s=5 * 24 * 3600,
    ),
    latest_sql=_trade_latest_sql("sp500_websocket_trades"),
    row_key=lambda t: (t.symbol, t.timestamp_ms, t.seq),
    candles=True,
)

TOPGAINERS = SinkKind(
    name="topgainers",
    topic=topics.FINNHUB_TRADES,
    table="finnhub_trades",
    columns=(*TRADE_COLUMNS, "category"),
    conflict_key=("symbol", "timestamp_ms", "seq"),
    decode=codec.decode_trade_struct,
    encode=_trade_encoder("finnhub_websocket", with_category=True),
    instrument=_symbol,
    event_ms=_trade_ms,
    snapshot=_trade_snapshot,
    redis=RedisLayout(
        hash_key=None,
        latest_prefix="latest:stocks:topgainers:",
        history_prefix="history:stocks:topgainers:",
        channel=None,
        ttl_s=5 * 24 * 3600,
    ),
    latest_sql=_trade_latest_sql("finnhub_trades"),
    row_key=lambda t: (t.symbol, t.timestamp_ms, t.seq),
    candles=True,
)


# -- Bithumb tickers ------------------------------------------------------------------------------

TICKER_TEXT = ("trade_date", "trade_time", "trade_date_kst", "trade_time_kst")
TICKER_NUMBERS = (
    "opening_price", "high_price", "low_price", "trade_price", "prev_closing_price",
)  # fmt: skip
TICKER_CHANGE = ("change_price", "change_rate", "signed_change_price", "signed_change_rate")
TICKER_VOLUMES = (
    "trade_volume", "acc_trade_price", "acc_trade_price_24h", "acc_trade_volume", "acc_trade_volume_24h",
)  # fmt: skip
TICKER_COLUMNS = (
    "market", *TICKER_TEXT, "trade_timestamp", *TICKER_NUMBERS, "change", *TICKER_CHANGE, *TICKER_VOLUMES,
    "highest_52_week_price", "highest_52_week_date", "lowest_52_week_price", "lowest_52_week_date",
    "timestamp_field", "source",
)  # fmt: skip
_TICKER_NUMERIC = {
    *TICKER_NUMBERS, *TICKER_CHANGE, *TICKER_VOLUMES, "highest_52_week_price", "lowest_52_week_price",
}  # fmt: skip


def _ticker_encode(m: dict[str, Any]) -> tuple[str, str]:
    out = []
    for column in TICKER_COLUMNS:
        if column == "timestamp_field":
            out.append(str(m["timestamp"]))
        elif column == "trade_timestamp":
            ts = m.get("trade_timestamp")
            out.append(_NULL if ts is None else str(ts))
        elif column == "source":
            out.append(esc(str(m.get("source") or "bithumb")))
        elif column in _TICKER_NUMERIC:
            value = m.get(column)
            codec.to_decimal(value, column)  # validates; raises CodecError → DLQ
            out.append(num(value))
        else:
            out.append(opt_text(m.get(column)))
    member = f"{m['timestamp']}:{m.get('trade_price')}:{m.get('trade_volume')}".replace("\n", "")
    return "\t".join(out), member


def _ticker_snapshot(m: dict[str, Any]) -> dict[str, Any]:
    # crypto_realtime_data: the fields the seed backend reads, named as it reads them.
    return {
        "symbol": m["market"],
        "price": m.get("trade_price"),
        "change_price": m.get("signed_change_price"),
        "change_rate": m.get("signed_change_rate"),
        "volume": m.get("trade_volume"),
        "acc_trade_price_24h": m.get("acc_trade_price_24h"),
        "timestamp": m["timestamp"],
        "source": m.get("source") or "bithumb",
    }


_market = itemgetter("market")  # a str (checked by the codec)
_ticker_ms = itemgetter("timestamp")  # an int (converted by the codec)


CRYPTO = SinkKind(
    name="crypto",
    topic=topics.BITHUMB_TICKER,
    table="bithumb_ticker",
    columns=TICKER_COLUMNS,
    conflict_key=("market", "timestamp_field"),
    decode=codec.decode_ticker,
    encode=_ticker_encode,
    instrument=_market,
    event_ms=_ticker_ms,
    snapshot=_ticker_snapshot,
    redis=RedisLayout(
        hash_key="crypto_realtime_data",
        latest_prefix="latest:crypto:",
        history_prefix="history:crypto:",
        channel="crypto_updates",
        ttl_s=24 * 3600,
    ),
    latest_sql="""
        WITH RECURSIVE mk AS (
            SELECT min(market) AS market FROM bithumb_ticker
            UNION ALL
            SELECT (SELECT min(t.market) FROM bithumb_ticker t WHERE t.market > mk.market)
              FROM mk WHERE mk.market IS NOT NULL
        )
        SELECT mk.market, (to_jsonb(r) - 'id' - 'created_at' || jsonb_build_object('timestamp', r.timestamp_field))::text
          FROM mk
          CROSS JOIN LATERAL (
                SELECT * FROM bithumb_ticker t WHERE t.market = mk.market
                 ORDER BY t.timestamp_field DESC LIMIT 1) r
         WHERE mk.market IS NOT NULL
    """,
    row_key=lambda m: (m["market"], m["timestamp"]),
)

# -- ETF trades (Finnhub): etf-trades → etf_realtime_prices ----------------------------------------

ETF = SinkKind(
    name="etf",
    topic=topics.ETF_TRADES,
    table="etf_realtime_prices",
    columns=("symbol", "price", "volume_exact", "timestamp_ms", "seq", "trade_conditions", "source"),
    conflict_key=("symbol", "timestamp_ms", "seq"),
    decode=codec.decode_trade_struct,
    encode=_etf_encoder,
    instrument=_symbol,
    event_ms=_trade_ms,
    snapshot=_trade_snapshot,
    redis=RedisLayout(
        hash_key="etf_realtime_data",  # the seed backend's ETF hash and channel
        latest_prefix="latest:etf:",
        history_prefix="history:etf:",
        channel="etf_updates",
        ttl_s=5 * 24 * 3600,
    ),
    latest_sql=_trade_latest_sql("etf_realtime_prices", shard_column=""),
    row_key=lambda t: (t.symbol, t.timestamp_ms, t.seq),
    candles=True,
)

KINDS: dict[str, SinkKind] = {k.name: k for k in (SP500, TOPGAINERS, CRYPTO, ETF)}


def snapshot_from_row_json(kind: SinkKind, row_json: str) -> tuple[int, dict[str, Any]]:
    """(event ms, snapshot) for a row returned by ``kind.latest_sql`` (Redis rehydration)."""
    row = orjson.loads(row_json)
    if kind.table == "bithumb_ticker":
        return int(row["timestamp"]), kind.snapshot(row)
    # numeric columns come back as JSON numbers; trades keep float prices like the live path.
    trade = codec.TradeV1(
        v=1, kind="trade", symbol=row["symbol"], price=float(row["price"]), timestamp_ms=int(row["timestamp_ms"]),
        volume=float(row["volume"] or 0), seq=int(row["seq"]), source=row.get("source"), shard=row.get("shard"),
    )  # fmt: skip
    return trade.timestamp_ms, kind.snapshot(trade)
