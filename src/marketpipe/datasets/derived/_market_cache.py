"""The seed's ``cache_<market>_to_redis`` jobs (docs/seed.md §5), fixed, for any stream of trades.

Every 10 minutes, at the run's clock (never the wall clock directly):

1. **Market gate** from the NYSE calendar (``exchange_calendars`` XNYS: weekends, holidays, half days),
   in New York time — the seed used the KST weekday and knew no holidays.
2. **Figures per symbol** from the trade table, in one SQL statement: current price and volume = the
   latest trade at or before now; previous close = the last trade before the New York day of the
   reference session (the open session, or the last one when closed); ``volume_24h`` = the volume of
   the trades in the 24 hours up to now; change = current − previous close, change % to 2 dp.
3. **Redis**: one pipeline HSETs the market's hash (field = symbol, value = JSON with ``symbol, <name
   field>, current_price, change_amount, change_percentage, volume, volume_24h, last_updated``),
   refreshes its 7-day TTL, and — only while the market is open — publishes the signal. A symbol
   without a previous close keeps its cached value (HSETNX), or gets change 0 / 0 % when it has
   none, as the seed wrote: the hash never holds a null number.
4. **Snapshots** only while the market is open (the seed wrote the same closed-market rows every 10
   minutes), with ``snapshot_time`` = the run's 10-minute slot, so a rerun of a slot adds nothing.

A :class:`MarketCache` holds what differs between markets; each dataset module declares one
(``sp500_market_snapshots``, ``etf_market_snapshots``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import redis

from marketpipe.engine.registry import Row, RunContext
from marketpipe.http.errors import ConfigurationError, TransientError

HASH_TTL_S = 7 * 24 * 3600
SLOT = timedelta(minutes=10)
NEW_YORK = ZoneInfo("America/New_York")
#: How far back the latest trade and the previous close may lie (long weekends, holiday runs).
CURRENT_LOOKBACK = timedelta(days=7)
PREVIOUS_LOOKBACK = timedelta(days=10)

_FIGURES = """
WITH latest AS (
    SELECT DISTINCT ON (symbol) symbol, price, volume
      FROM {trades}
     WHERE timestamp_ms <= %(now_ms)s AND timestamp_ms > %(current_from_ms)s
     ORDER BY symbol, timestamp_ms DESC, seq DESC
), previous AS (
    SELECT DISTINCT ON (symbol) symbol, price
      FROM {trades}
     WHERE timestamp_ms < %(session_ms)s AND timestamp_ms >= %(previous_from_ms)s
     ORDER BY symbol, timestamp_ms DESC, seq DESC
), day_volume AS (
    SELECT symbol, sum(volume) AS volume_24h
      FROM {trades}
     WHERE timestamp_ms > %(now_ms)s - 86400000 AND timestamp_ms <= %(now_ms)s
     GROUP BY symbol
)
SELECT l.symbol, n.{name_column}, l.price, l.volume, coalesce(v.volume_24h, 0), p.price
  FROM latest l
  LEFT JOIN previous p ON p.symbol = l.symbol
  LEFT JOIN day_volume v ON v.symbol = l.symbol
  LEFT JOIN {names} n ON n.symbol = l.symbol
 ORDER BY l.symbol
"""


@lru_cache(maxsize=4)
def _xnys(year: int) -> Any:
    import exchange_calendars  # pandas-heavy: imported on first use, not at registry discovery

    return exchange_calendars.get_calendar("XNYS", start=f"{year - 1}-11-01", end=f"{year + 1}-02-28")


def market_state(now: datetime) -> tuple[bool, date]:
    """(is the NYSE regular session open at ``now``, the reference session's New York date).

    The reference session is the open one, else the most recent one that has started.
    """
    import pandas as pd

    minute = pd.Timestamp(now.astimezone(UTC)).floor("min")
    calendar = _xnys(minute.year)
    is_open = bool(calendar.is_open_on_minute(minute))
    session = calendar.minute_to_session(minute, direction="previous")
    return is_open, session.date()


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _slot(now: datetime) -> datetime:
    """The start of the 10-minute slot containing ``now`` (UTC)."""
    utc = now.astimezone(UTC)
    return utc - timedelta(minutes=utc.minute % 10, seconds=utc.second, microseconds=utc.microsecond)


def _number(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def _redis(ctx: RunContext) -> redis.Redis:
    from marketpipe.runtime.base import ServiceError
    from marketpipe.runtime.redis import RedisService

    try:
        url = RedisService(ctx.settings).start()  # the configured Redis, else the embedded one
    except ServiceError as exc:
        raise ConfigurationError(f"redis: {exc}") from None
    return redis.Redis.from_url(url, socket_timeout=10)


@dataclass(frozen=True)
class MarketCache:
    """One market's cache job: its trade table, where names come from, its Redis hash and signal."""

    trades: str  # the sink's trade table
    names: str  # table with one display name per symbol
    name_column: str  # that name's column there
    name_field: str  # the name's field in the hash JSON and the snapshot table
    hash_key: str
    channel: str
    label: str  # in the signal's message: "<label> market data updated"

    def figures(self, ctx: RunContext, now: datetime, session: date) -> list[Row]:
        """One row per symbol with a recent trade (the snapshot table's columns minus the time)."""
        session_start = datetime.combine(session, time(0), NEW_YORK)
        params = {
            "now_ms": _ms(now),
            "current_from_ms": _ms(now - CURRENT_LOOKBACK),
            "session_ms": _ms(session_start),
            "previous_from_ms": _ms(session_start - PREVIOUS_LOOKBACK),
        }
        sql = _FIGURES.format(trades=self.trades, names=self.names, name_column=self.name_column)
        rows: list[Row] = []
        for symbol, name, price, volume, volume_24h, previous in ctx.query(sql, params):
            change = percent = None
            if previous is not None and previous != 0:
                change = price - previous
                percent = (change / previous * 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
            rows.append(
                {
                    "symbol": symbol,
                    self.name_field: name,
                    "current_price": price,
                    "change_amount": change,
                    "change_percentage": percent,
                    "volume": int(volume) if volume is not None else None,
                    "volume_24h": int(volume_24h),
                }
            )
        return rows

    def _hash_value(self, row: Row, now: datetime) -> str:
        return json.dumps(
            {
                "symbol": row["symbol"],
                self.name_field: row[self.name_field],
                "current_price": _number(row["current_price"]),
                # The seed wrote 0 where it knew no previous close; its backend sorts by this field
                # and fails on null (the snapshot rows keep NULL: unknown, not zero).
                "change_amount": _number(row["change_amount"]) or 0,
                "change_percentage": _number(row["change_percentage"]) or 0,
                "volume": row["volume"] or 0,
                "volume_24h": row["volume_24h"],
                "last_updated": now.astimezone(UTC).isoformat(),
            }
        )

    def write_redis(self, ctx: RunContext, rows: list[Row], now: datetime, is_open: bool) -> None:
        """HSET the figures (HSETNX without a previous close), refresh the TTL, publish when open."""
        client = _redis(ctx)
        try:
            pipe = client.pipeline(transaction=False)
            for row in rows:
                value = self._hash_value(row, now)
                if row["change_amount"] is None:
                    pipe.hsetnx(self.hash_key, row["symbol"], value)  # keep what the cache knew
                else:
                    pipe.hset(self.hash_key, row["symbol"], value)
            pipe.expire(self.hash_key, HASH_TTL_S)
            if is_open:
                signal = {
                    "message": f"{self.label} market data updated",
                    "count": len(rows),
                    "timestamp": now.astimezone(UTC).isoformat(),
                }
                pipe.publish(self.channel, json.dumps(signal))
            pipe.execute()
        except redis.RedisError as exc:
            raise TransientError("redis", f"{type(exc).__name__}: {exc}") from None
        finally:
            client.close()

    def derive(self, ctx: RunContext, item: str) -> list[Row]:
        """Figures → Redis (always) → snapshot rows (only while the market is open)."""
        # As of the end of the run's data interval (or now, when that is earlier): a late task or a
        # rerun of a slot computes and keys that slot, never the wall clock's.
        now = min(ctx.now(), ctx.data_interval_end)
        is_open, session = market_state(now)
        rows = self.figures(ctx, now, session)
        self.write_redis(ctx, rows, now, is_open)
        if not is_open:
            return []
        slot = _slot(ctx.data_interval_start)
        return [{**row, "snapshot_time": slot} for row in rows]
