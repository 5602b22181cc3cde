"""Shared parts of the daily-bar datasets (``daily_prices``, ``daily_prices_etf``).

One item = one symbol; its cursor state remembers ``first``/``last`` — the oldest and newest bar
stored — and ``checked``, the last NYSE session a provider was asked about. Each run:

- the items are the universe minus the symbols already up to date (``last`` or ``checked`` ≥ the
  latest closed NYSE session), so an up-to-date symbol costs nothing, and minus the symbols the
  current provider refused before (FMP's free symbol set: they wait for Alpha Vantage);
- a symbol never collected asks for ``HISTORY_YEARS`` of bars (FMP: one call; Alpha Vantage: the
  100 sessions ``compact`` serves on a free key — the older years follow with the symbol's first
  FMP call, state ``deep``), later runs ask from ``last`` + 1 to the latest closed session;
- the per-run cap leaves the rest of FMP's 250 calls/day to the other FMP datasets; Alpha Vantage
  (25/day, shared with every fundamentals dataset) takes at most ``AV_ITEMS_PER_RUN`` symbols.

So the one-time backfill of ~500 S&P 500 symbols + the ETFs spreads over about three days and
resumes where it stopped (the cursor), then each symbol gets its new bars — with a free FMP key the
~530 symbols are refreshed every ~2 days (several bars per call), each additional key shortens that.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from marketpipe.engine.registry import ItemResult, Row, RunContext
from marketpipe.http.errors import QuotaExhausted, RefusedError
from marketpipe.providers import daily_bars
from marketpipe.timeseries.trading_days import last_closed_session

HISTORY_YEARS = 5
#: Symbols per run: leaves ~50 FMP calls a day to sp500_companies, earnings_calendar, ipo_calendar.
ITEMS_PER_RUN = 200
#: Alpha Vantage symbols per run (its 25/day are shared with the fundamentals datasets).
AV_ITEMS_PER_RUN = 5

_av_used: dict[tuple[str, int], int] = {}


def _state(ctx: RunContext, symbol: str) -> dict[str, Any]:
    found = ctx.item_state(symbol)
    return dict(found.state) if found is not None else {}


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def stale_items(ctx: RunContext, universe: Sequence[str]) -> list[str]:
    """``universe`` minus the symbols already up to date or refused by the current provider."""
    session = last_closed_session(ctx.now())
    rows = ctx.query(
        """SELECT item, state, last_error_at IS NOT NULL AND (last_done_at IS NULL OR last_error_at > last_done_at)
             FROM collect_cursors WHERE dataset = %s""",
        (ctx.dataset,),
    )
    skip = set()
    for item, state, failed in rows:
        state = state or {}
        newest = max(filter(None, (_day(state.get("last")), _day(state.get("checked")))), default=None)
        if not failed and newest is not None and newest >= session:
            skip.add(item)
        if ctx.provider in (state.get("refused") or []):
            skip.add(item)
    return [symbol for symbol in universe if symbol not in skip]


def _window(ctx: RunContext, state: dict[str, Any]) -> tuple[date, date]:
    end = last_closed_session(ctx.now())
    last = _day(state.get("last"))
    start = last + timedelta(days=1) if last else end.replace(year=end.year - HISTORY_YEARS)
    return start, end


def _result(rows: list[Row], state: dict[str, Any], end: date) -> ItemResult:
    dates = [r["date"] for r in rows]
    first = min(filter(None, [_day(state.get("first")), *dates]), default=None)
    last = max(filter(None, [_day(state.get("last")), *dates]), default=None)
    new_state = {**state, "checked": end.isoformat()}
    if first:
        new_state["first"] = first.isoformat()
    if last:
        new_state["last"] = last.isoformat()
    return ItemResult(rows, new_state)


def _refused(state: dict[str, Any], provider: str) -> ItemResult:
    refused = sorted({*(state.get("refused") or []), provider})
    return ItemResult([], {**state, "refused": refused})


def fetch_fmp(ctx: RunContext, symbol: str) -> ItemResult:
    state = _state(ctx, symbol)
    start, end = _window(ctx, state)
    if not state.get("deep"):  # once per symbol the whole history (after an AV start: the missing years)
        start = end.replace(year=end.year - HISTORY_YEARS)
    if start > end:
        return _result([], state, end)
    try:
        reply = ctx.call(daily_bars.fmp_eod_request(symbol, start, end))
    except RefusedError:  # outside the free plan's symbols: Alpha Vantage takes it when FMP is spent
        return _refused(state, "fmp")
    return _result(daily_bars.parse_fmp_eod(reply.json(), symbol, start, end), {**state, "deep": True}, end)


def fetch_alpha_vantage(ctx: RunContext, symbol: str) -> ItemResult:
    used = _av_used.get((ctx.dataset, ctx.run_id), 0)
    if used >= AV_ITEMS_PER_RUN:
        tomorrow = datetime.combine(
            ctx.now().date() + timedelta(days=1), datetime.min.time(), ctx.now().tzinfo
        )
        raise QuotaExhausted("alpha_vantage", f"{ctx.dataset}'s share of the daily budget is used", tomorrow)
    _av_used[(ctx.dataset, ctx.run_id)] = used + 1
    state = _state(ctx, symbol)
    start, end = _window(ctx, state)
    if start > end:
        return _result([], state, end)
    try:
        reply = ctx.call(daily_bars.av_daily_request(symbol))
    except RefusedError:
        return _refused(state, "alpha_vantage")
    return _result(daily_bars.parse_av_daily(reply.json(), symbol, start, end), state, end)


FETCH = {"fmp": fetch_fmp, "alpha_vantage": fetch_alpha_vantage}
