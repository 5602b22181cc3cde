"""What every query shares: the data source, input checks, keyset cursors and typed errors."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson
import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool

#: Bounds on every list a query returns (clients ask for ``limit`` up to these).
MAX_LIMIT = 500
MAX_DAILY_LIMIT = 5000
MAX_CURSOR_CHARS = 256
#: The oldest and newest dates a client may ask about (anything beyond is a typo or an attack).
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2100, 1, 1)

#: Stock and ETF tickers (BRK.B, BF-B), Bithumb coin symbols (1INCH) and macro series names.
SYMBOL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,14}$")
ACCOUNT_RE = re.compile(r"^[A-Za-z0-9_.]{1,50}$")


class QueryError(Exception):
    """A query refused its input or found nothing; ``str(exc)`` is short and safe to show."""


class BadInput(QueryError):
    """The input is malformed (HTTP 400)."""


class NotFound(QueryError):
    """Nothing is collected for this symbol/series (HTTP 404)."""


@dataclass(frozen=True)
class Source:
    """Where queries read from: the (read-only) PostgreSQL pool and the Redis client."""

    pool: AsyncConnectionPool
    redis: aioredis.Redis

    async def rows(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn, conn.cursor() as cur:
            await cur.execute(sql, params)
            names = [d.name for d in cur.description or []]
            return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]


def symbol(value: str, what: str = "symbol") -> str:
    """An upper-cased ticker; :class:`BadInput` for anything that cannot be one."""
    if not isinstance(value, str) or not SYMBOL_RE.match(value):
        raise BadInput(f"invalid {what}: use 1-15 letters, digits, '.' or '-'")
    return value.upper()


def account(value: str) -> str:
    if not isinstance(value, str) or not ACCOUNT_RE.match(value):
        raise BadInput("invalid account: use 1-50 letters, digits, '_' or '.'")
    return value


def limit(value: int, maximum: int = MAX_LIMIT) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise BadInput(f"invalid limit: use 1..{maximum}")
    return value


def day(value: date | None, what: str) -> date | None:
    if value is None:
        return None
    if not MIN_DATE <= value <= MAX_DATE:
        raise BadInput(f"invalid {what}: use a date between {MIN_DATE} and {MAX_DATE}")
    return value


def encode_cursor(instant: datetime | date | None, key: str) -> str:
    """An opaque keyset cursor: the last item's sort instant and tie-break key."""
    stamp = instant.isoformat() if instant is not None else ""
    return base64.urlsafe_b64encode(orjson.dumps([stamp, key])).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime | None, str] | None:
    """``(instant, key)`` from :func:`encode_cursor`; :class:`BadInput` for anything else."""
    if cursor is None or cursor == "":
        return None
    bad = BadInput("invalid cursor: pass next_cursor from the previous page unchanged")
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_CHARS:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, key = orjson.loads(raw)
        if not isinstance(stamp, str) or not isinstance(key, str):
            raise bad
        instant = datetime.fromisoformat(stamp) if stamp else None
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError):
        raise bad from None
    if instant is not None and instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant, key


def num(value: Any) -> float | None:
    """A numeric column as a JSON number (``None`` stays ``None``; NaN becomes ``None``)."""
    if value is None:
        return None
    result = float(value) if isinstance(value, Decimal | int | float) else None
    if result is None or result != result or result in (float("inf"), float("-inf")):
        return None
    return result


def plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row with numerics as floats (for models whose fields are ``float | None``)."""
    return {k: num(v) if isinstance(v, Decimal) else v for k, v in row.items()}
