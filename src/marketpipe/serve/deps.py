"""What a router needs from the running app: the PostgreSQL pool and the Redis client.

``create_app`` stores both on ``app.state``; routers declare ``db: Db = Depends(db)`` style
dependencies through the helpers here instead of reaching into the app.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from fastapi import Request
from psycopg_pool import AsyncConnectionPool


def pool(request: Request) -> AsyncConnectionPool:
    return request.app.state.pool


def redis_client(request: Request) -> aioredis.Redis:
    return request.app.state.redis


async def fetch_all(
    db: AsyncConnectionPool, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()
) -> list[dict[str, Any]]:
    """Rows of one read-only query as dicts (column name → psycopg value)."""
    async with db.connection() as conn, conn.cursor() as cur:
        await cur.execute(sql, params)
        names = [d.name for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]
