"""S&P 500 constituents from the constituents page (FMP's list as the alternative).

A full refresh: every current constituent is upserted with ``is_current = true``; a symbol that left
the index is kept but marked ``is_current = false`` with ``removed_at`` (the seed kept it as current).
A page with far fewer rows than the current universe is refused rather than trusted.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg

from marketpipe.db import MergeResult
from marketpipe.engine.registry import DatasetSpec, Item, Pipe, Request, Row, RunContext
from marketpipe.http.errors import MalformedResponse
from marketpipe.providers import fmp, sp500_list

#: A refresh must list at least this share of the current universe (guards against a broken page).
MIN_SHARE_OF_CURRENT = 0.8


def _current(ctx: RunContext, item: str) -> dict[str, Any]:
    return {"current": ctx.query("SELECT count(*) FROM sp500_companies WHERE is_current")[0][0]}


def _checked(item: Item, provider: str, rows: list[Row]) -> list[Row]:
    current = item.context.get("current") or 0
    if current and len(rows) < MIN_SHARE_OF_CURRENT * current:
        raise MalformedResponse(provider, f"only {len(rows)} constituents listed, {current} are current")
    return [{**row, "is_current": True, "removed_at": None} for row in rows]


def request_page(ctx: RunContext, item: str) -> Request:
    return Request(sp500_list.page_request(), context=_current(ctx, item))


def parse_page(html: str, item: Item) -> list[Row]:
    return _checked(item, sp500_list.NAME, sp500_list.parse_constituents_html(html))


def request_fmp(ctx: RunContext, item: str) -> Request:
    return Request(fmp.sp500_constituents_request(), context=_current(ctx, item))


def parse_fmp(body: Any, item: Item) -> list[Row]:
    return _checked(item, fmp.NAME, fmp.parse_sp500_constituents(body))


def mark_removed(
    conn: psycopg.Connection, ctx: RunContext, item: str, rows: list[Row], merged: MergeResult
) -> None:
    """Constituents absent from this complete listing left the index."""
    if not rows:
        return
    conn.execute(
        """UPDATE sp500_companies SET is_current = false, removed_at = %s, updated_at = now()
            WHERE is_current AND NOT (symbol = ANY(%s))""",
        (ctx.now(), [row["symbol"] for row in rows]),
    )


DATASET = DatasetSpec(
    name="sp500_companies",
    table="sp500_companies",
    group="stocks",
    schedule="0 6 * * 1",
    providers=("sp500_list", "fmp"),
    description="S&P 500 constituents (symbol, GICS sector, HQ, CIK...), leavers marked not current",
    key=("symbol",),
    pipeline={"sp500_list": Pipe(request_page, parse_page), "fmp": Pipe(request_fmp, parse_fmp)},
    touch="updated_at",
    refresh_after=timedelta(days=6),
    after_merge=mark_removed,
)
