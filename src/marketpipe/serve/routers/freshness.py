"""``GET /api/v1/freshness``: every dataset's freshness against its schedule (see
:mod:`marketpipe.ops.freshness`), optionally one group or only the datasets in some states."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from psycopg_pool import AsyncConnectionPool
from starlette.concurrency import run_in_threadpool

from marketpipe.engine.registry import all_datasets
from marketpipe.ops.freshness import STATES, build_freshness, freshness_queries
from marketpipe.serve.deps import pool

router = APIRouter(prefix="/api/v1", tags=["operations"])


@router.get("/freshness")
async def freshness(
    db: Annotated[AsyncConnectionPool, Depends(pool)],
    group: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z_]+$")] = None,
    state: Annotated[list[str] | None, Query()] = None,
) -> dict[str, Any]:
    """``{"checked_at", "datasets": [{dataset, state, last_data_at, next_run_at, resumes_at, ...}]}``."""
    unknown = sorted(set(state or ()) - set(STATES))
    if unknown:
        raise HTTPException(
            422, f"unknown state(s) {', '.join(s[:20] for s in unknown)}; use {', '.join(STATES)}"
        )
    specs = [spec for spec in all_datasets() if group is None or spec.group == group]
    now = datetime.now(UTC)
    (cursor_sql, cursor_params), (run_sql, run_params) = freshness_queries(specs, now)
    async with db.connection() as conn:
        cursor_rows = await (await conn.execute(cursor_sql, cursor_params)).fetchall()
        run_rows = await (await conn.execute(run_sql, run_params)).fetchall()
    # croniter and the NYSE calendar are CPU work: keep them off the event loop.
    rows = await run_in_threadpool(build_freshness, specs, now, cursor_rows, run_rows)
    wanted = set(state or STATES)
    return {"checked_at": now.isoformat(), "datasets": [r.as_json() for r in rows if r.state in wanted]}
