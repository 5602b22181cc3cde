"""Daily OHLCV of the Bithumb KRW markets in ``crypto_daily_prices``: Bithumb day candles (KRW, KST
days, no key, 150 requests/s), CoinGecko ``market_chart`` (USD closes and volumes, Demo key, 30/min
and 10 000/month) when Bithumb cannot answer.

One item = one market code (``KRW-BTC``). Its cursor state keeps, per provider, ``first``/``last``
(oldest/newest complete day stored) and ``complete`` (the backfill reached ``HISTORY_DAYS`` back or
the listing). Each run makes at most one call per market: the newest days first (up to yesterday,
KST — the forming day is never stored), then one page further back (200 candles) until complete —
so the two-year Bithumb backfill spreads over four runs and resumes where it stopped. CoinGecko
Demo keys see 365 days back, so that is its whole backfill (one call).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from marketpipe.engine.registry import DatasetSpec, ItemResult, Row, RunContext
from marketpipe.http.errors import ConfigurationError, NotFoundError
from marketpipe.providers import daily_bars

HISTORY_DAYS = 730
KST = timedelta(hours=9)


def _complete_day(ctx: RunContext, provider: str) -> date:
    """The newest day a provider's bar is final for: yesterday in KST (Bithumb) or UTC (CoinGecko)."""
    now = ctx.now().astimezone(UTC)
    return ((now + KST) if provider == "bithumb" else now).date() - timedelta(days=1)


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def krw_markets(ctx: RunContext) -> list[str]:
    rows = ctx.query("SELECT market_code FROM market_code_bithumb WHERE market_code LIKE 'KRW-%%' ORDER BY 1")
    markets = [row[0] for row in rows]
    if not markets:
        raise ConfigurationError("no Bithumb KRW markets: collect market_code_bithumb first")
    limit = ctx.universe_limit
    return markets[:limit] if limit else markets


def items(ctx: RunContext) -> Sequence[str]:
    """Markets whose bars for the current provider are behind or whose backfill is incomplete."""
    newest = _complete_day(ctx, ctx.provider)
    rows = ctx.query("SELECT item, state FROM collect_cursors WHERE dataset = %s", (ctx.dataset,))
    fresh = set()
    for item, state in rows:
        mine = (state or {}).get(ctx.provider) or {}
        last = _day(mine.get("last"))
        if mine.get("complete") and last is not None and last >= newest:
            fresh.add(item)
    return [market for market in krw_markets(ctx) if market not in fresh]


def _merge_state(
    ctx: RunContext, market: str, provider: str, rows: list[Row], complete: bool
) -> dict[str, Any]:
    found = ctx.item_state(market)
    state = dict(found.state) if found is not None else {}
    mine = dict(state.get(provider) or {})
    dates = [r["date"] for r in rows]
    first = min(filter(None, [_day(mine.get("first")), *dates]), default=None)
    last = max(filter(None, [_day(mine.get("last")), *dates]), default=None)
    if first:
        mine["first"] = first.isoformat()
    if last:
        mine["last"] = last.isoformat()
    mine["complete"] = bool(mine.get("complete")) or complete
    state[provider] = mine
    return state


def fetch_bithumb(ctx: RunContext, market: str) -> ItemResult:
    found = ctx.item_state(market)
    mine = ((found.state if found else {}) or {}).get("bithumb") or {}
    newest = _complete_day(ctx, "bithumb")
    target = newest - timedelta(days=HISTORY_DAYS - 1)
    last, first = _day(mine.get("last")), _day(mine.get("first"))
    if last is None or last < newest:  # the newest days first
        count = (
            daily_bars.BITHUMB_MAX_COUNT
            if last is None
            else min(daily_bars.BITHUMB_MAX_COUNT, (newest - last).days)
        )
        until = datetime.combine(newest + timedelta(days=1), time(0), UTC) - KST  # 00:00 KST today
        backwards = last is None
    elif not mine.get("complete") and first is not None:  # then one page further back
        count = min(daily_bars.BITHUMB_MAX_COUNT, max(1, (first - target).days))
        until = datetime.combine(first, time(0), UTC) - KST
        backwards = True
    else:
        return ItemResult([], _merge_state(ctx, market, "bithumb", [], True))
    reply = ctx.call(daily_bars.bithumb_days_request(market, count, until))
    rows = [r for r in daily_bars.parse_bithumb_days(reply.json(), market) if r["date"] <= newest]
    oldest = min((r["date"] for r in rows), default=None)
    complete = bool(mine.get("complete")) or (
        backwards and (len(rows) < count or (oldest is not None and oldest <= target))
    )
    rows = [r for r in rows if r["date"] >= target]
    return ItemResult(rows, _merge_state(ctx, market, "bithumb", rows, complete))


def fetch_coingecko(ctx: RunContext, market: str) -> ItemResult:
    found = ctx.query(
        "SELECT coingecko_id FROM bithumb_coingecko_mapping WHERE market_code = %s AND coingecko_id IS NOT NULL"
        " AND is_active",
        (market,),
    )
    if not found:
        raise NotFoundError("coingecko", f"{market}: no CoinGecko id in bithumb_coingecko_mapping")
    state = ctx.item_state(market)
    mine = ((state.state if state else {}) or {}).get("coingecko") or {}
    newest = _complete_day(ctx, "coingecko")
    last = _day(mine.get("last"))
    days = (
        daily_bars.COINGECKO_MAX_DAYS
        if last is None
        else min(daily_bars.COINGECKO_MAX_DAYS, (newest - last).days + 1)
    )
    reply = ctx.call(daily_bars.coingecko_chart_request(found[0][0], days))
    symbol, _ = daily_bars.split_market(market)
    rows = [
        r for r in daily_bars.parse_coingecko_chart(reply.json(), symbol, ctx.now()) if r["date"] <= newest
    ]
    return ItemResult(rows, _merge_state(ctx, market, "coingecko", rows, True))


DATASET = DatasetSpec(
    name="crypto_daily_prices",
    table="crypto_daily_prices",
    group="crypto",
    schedule="20 15 * * *",  # 00:20 KST: Bithumb's day (KST) is complete
    providers=("bithumb", "coingecko"),
    description="Daily OHLCV per Bithumb KRW market (Bithumb KST candles; CoinGecko USD closes as fallback)",
    key=("symbol", "quote", "date"),
    fetch={"bithumb": fetch_bithumb, "coingecko": fetch_coingecko},
    items=items,
    touch="collected_at",
    depends_on=("market_code_bithumb",),
    progressive=True,
)
