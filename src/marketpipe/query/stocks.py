"""Per-symbol queries: latest quote, overview, statements, earnings, daily and intraday bars."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson

from marketpipe.query import core, gaps
from marketpipe.query.core import BadInput, NotFound, Source, num
from marketpipe.query.models import (
    Candle,
    Candles,
    DailyBar,
    DailyBars,
    Earnings,
    EarningsEvent,
    EarningsReport,
    OverviewPoint,
    OverviewSnapshot,
    Profile,
    Quote,
    StatementKind,
    StatementPeriod,
    Statements,
    StockOverview,
)

QUOTE_HASHES = (("sp500", "sp500_realtime_data"), ("etf", "etf_realtime_data"))
MAX_HISTORY = 100
MAX_PERIODS = 40
INTERVALS = {"1m": 60, "5m": 300, "1h": 3600}
MAX_CANDLES = 2000


async def quote(src: Source, symbol: str) -> Quote:
    sym = core.symbol(symbol)
    for feed, key in QUOTE_HASHES:
        raw = await src.redis.hget(key, sym)
        if raw is None:
            continue
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(value, dict):
            continue
        timestamp = value.get("timestamp")
        return Quote(
            symbol=sym,
            price=num(value.get("price")),
            volume=num(value.get("volume")),
            timestamp=int(timestamp) if isinstance(timestamp, int | float) else None,
            feed=feed,
        )
    raise NotFound(f"no streamed price for {sym}")


_OVERVIEW_COLUMNS = ", ".join(name for name in OverviewSnapshot.model_fields if name not in ("collected_at",))


async def overview(src: Source, symbol: str, history: int = 20) -> StockOverview:
    sym = core.symbol(symbol)
    history = core.limit(history, MAX_HISTORY)
    profiles = await src.rows(
        """SELECT company_name AS name, gics_sector AS sector, gics_sub_industry AS sub_industry,
                  headquarters, date_added, founded, is_current
             FROM sp500_companies WHERE symbol = %s""",
        (sym,),
    )
    snapshots = await src.rows(
        f"""SELECT {_OVERVIEW_COLUMNS}, created_at AS collected_at
              FROM company_overview WHERE symbol = %s ORDER BY batch_id DESC LIMIT %s""",
        (sym, history + 1),
    )
    if not profiles and not snapshots:
        raise NotFound(f"no overview for {sym}")
    points = [
        OverviewPoint(
            batch_id=r["batch_id"],
            collected_at=r["collected_at"],
            market_capitalization=num(r["market_capitalization"]),
            pe_ratio=num(r["pe_ratio"]),
            eps=num(r["eps"]),
            analyst_target_price=num(r["analyst_target_price"]),
        )
        for r in snapshots[1:]
    ]
    return StockOverview(
        symbol=sym,
        profile=Profile(**profiles[0]) if profiles else None,
        latest=OverviewSnapshot(**core.plain(snapshots[0])) if snapshots else None,
        history=points,
    )


#: statement kind → (table, date column, value columns left out)
_STATEMENTS: dict[str, tuple[str, str]] = {
    "income": ("income_stmt", "fiscal_date_ending"),
    "balance": ("balance_sheet", "fiscaldateending"),
    "cash_flow": ("cash_flow", "fiscal_date_ending"),
}
_NOT_VALUES = {
    "symbol",
    "fiscal_date_ending",
    "fiscaldateending",
    "updated_at",
    "fetched_at",
    "reportedcurrency",
}


async def statements(src: Source, symbol: str, kind: StatementKind = "income", limit: int = 8) -> Statements:
    sym = core.symbol(symbol)
    limit = core.limit(limit, MAX_PERIODS)
    if kind not in _STATEMENTS:
        raise BadInput("invalid kind: use income, balance or cash_flow")
    table, date_column = _STATEMENTS[kind]
    rows = await src.rows(
        f"SELECT * FROM {table} WHERE symbol = %s ORDER BY {date_column} DESC LIMIT %s", (sym, limit)
    )
    if not rows:
        raise NotFound(f"no {kind} statements for {sym}")
    return Statements(
        symbol=sym,
        kind=kind,
        periods=[
            StatementPeriod(
                fiscal_date_ending=r[date_column],
                values={k: num(v) for k, v in r.items() if k not in _NOT_VALUES},
            )
            for r in rows
        ],
    )


async def earnings(src: Source, symbol: str, limit: int = 12) -> Earnings:
    sym = core.symbol(symbol)
    limit = core.limit(limit, MAX_PERIODS)
    history = await src.rows(
        """SELECT report_date, eps_estimate, eps_actual, surprise_pct FROM earnings_history
            WHERE symbol = %s ORDER BY report_date DESC LIMIT %s""",
        (sym, limit),
    )
    calendar = await src.rows(
        """SELECT report_date, fiscal_date_ending, estimate, currency FROM earnings_calendar
            WHERE symbol = %(s)s
              AND report_date > coalesce((SELECT max(report_date) FROM earnings_history WHERE symbol = %(s)s),
                                         '-infinity'::date)
            ORDER BY report_date LIMIT %(n)s""",
        {"s": sym, "n": limit},
    )
    if not history and not calendar:
        raise NotFound(f"no earnings for {sym}")
    return Earnings(
        symbol=sym,
        history=[EarningsReport(**core.plain(r)) for r in history],
        calendar=[EarningsEvent(**core.plain(r)) for r in calendar],
    )


async def daily(
    src: Source, symbol: str, start: date | None = None, end: date | None = None, limit: int = 260
) -> DailyBars:
    """Daily bars in ``[start, end]`` (the newest ``limit`` of them), with the NYSE sessions missing."""
    sym = core.symbol(symbol)
    limit = core.limit(limit, core.MAX_DAILY_LIMIT)
    start, end = core.day(start, "start"), core.day(end, "end")
    if start and end and start > end:
        raise BadInput("invalid range: start is after end")
    rows = await src.rows(
        """SELECT * FROM (
               SELECT date, open, high, low, close, adj_close, volume, source FROM daily_prices
                WHERE symbol = %(s)s AND (%(a)s::date IS NULL OR date >= %(a)s)
                  AND (%(b)s::date IS NULL OR date <= %(b)s)
                ORDER BY date DESC LIMIT %(n)s) newest
           ORDER BY date""",
        {"s": sym, "a": start, "b": end, "n": limit},
    )
    if not rows:
        raise NotFound(f"no daily bars for {sym}")
    bars = [DailyBar(**core.plain(r)) for r in rows]
    return DailyBars(
        symbol=sym,
        bars=bars,
        gaps=await gaps.daily_gaps(
            src, sym, start or bars[0].date, end or bars[-1].date, [b.date for b in bars]
        ),
    )


async def candles(src: Source, symbol: str, interval: str = "5m", limit: int = 120) -> Candles:
    """The newest ``limit`` streamed candles of ``interval`` (the sink's ``trade_candles``)."""
    sym = core.symbol(symbol)
    limit = core.limit(limit, MAX_CANDLES)
    if interval not in INTERVALS:
        raise BadInput("invalid interval: use 1m, 5m or 1h")
    step = INTERVALS[interval]
    rows = await src.rows(
        """SELECT * FROM (
               SELECT bucket_start, open, high, low, close, volume, trades FROM trade_candles
                WHERE stream IN ('trades', 'etf') AND symbol = %s AND interval_s = %s
                ORDER BY bucket_start DESC LIMIT %s) newest
           ORDER BY bucket_start""",
        (sym, step, limit),
    )
    if not rows:
        raise NotFound(f"no candles for {sym}")
    out = [_candle(r) for r in rows]
    return Candles(
        symbol=sym,
        interval=interval,
        candles=out,
        gaps=await gaps.intraday_gaps(src, "trades", sym, step, [c.t for c in out]),
    )


def _candle(r: dict[str, Any]) -> Candle:
    return Candle(
        t=r["bucket_start"],
        o=float(r["open"]),
        h=float(r["high"]),
        low=float(r["low"]),
        c=float(r["close"]),
        v=float(r["volume"]),
        n=int(r["trades"]),
    )
