"""Fill ``earnings_history``'s price columns and ``income_stmt.basic_eps`` from collected data.

``earnings_history`` (from Alpha Vantage EARNINGS, which carries no prices), per (symbol, report
date R) once ``daily_prices`` holds the bars, with the seed's definitions (docs/seed.md §1a):

- the reaction session S = the first bar on or after R (a weekend/holiday report reacts next session);
- ``price_before_close`` = the close of the last bar before S, ``price_open``/``price_close`` = S's
  open and close;
- ``gap_pct`` = (open_S − close_before) / close_before × 100, ``move_pct`` = (close_S − close_before) /
  close_before × 100, rounded to 4 places.

``income_stmt.basic_eps`` (AV's income statement has no EPS) ≈ net income / the latest shares
outstanding in ``company_overview`` — an approximation: GAAP basic EPS divides by the period's
*weighted average* shares, which no free source serves. Only NULLs are filled; ``diluted_eps`` stays
NULL (no free source has diluted share counts). Set-based UPDATEs, idempotent: a second run over the
same data changes nothing.
"""

from __future__ import annotations

import psycopg

from marketpipe.db import MergeResult
from marketpipe.engine.registry import DERIVED, DatasetSpec, Row, RunContext

_EARNINGS = """
WITH priced AS (
    SELECT e.symbol, e.report_date, b.close AS before_close, s.open AS s_open, s.close AS s_close
      FROM earnings_history e
      CROSS JOIN LATERAL (
            SELECT d.date, d.open, d.close FROM daily_prices d
             WHERE d.symbol = e.symbol AND d.date >= e.report_date AND d.date < e.report_date + 10
             ORDER BY d.date LIMIT 1) s
      CROSS JOIN LATERAL (
            SELECT d.close FROM daily_prices d
             WHERE d.symbol = e.symbol AND d.date < s.date AND d.date >= s.date - 10
             ORDER BY d.date DESC LIMIT 1) b
     WHERE e.report_date <= CURRENT_DATE
), computed AS (
    SELECT symbol, report_date, before_close, s_open, s_close,
           round((s_open - before_close) / NULLIF(before_close, 0) * 100, 4) AS gap_pct,
           round((s_close - before_close) / NULLIF(before_close, 0) * 100, 4) AS move_pct
      FROM priced
)
UPDATE earnings_history e
   SET price_before_close = c.before_close, price_open = c.s_open, price_close = c.s_close,
       gap_pct = c.gap_pct, move_pct = c.move_pct, updated_at = now()
  FROM computed c
 WHERE e.symbol = c.symbol AND e.report_date = c.report_date
   AND ROW(e.price_before_close, e.price_open, e.price_close, e.gap_pct, e.move_pct)
       IS DISTINCT FROM ROW(c.before_close, c.s_open, c.s_close, c.gap_pct, c.move_pct)
"""

_EPS = """
WITH shares AS (
    SELECT DISTINCT ON (symbol) symbol, shares_outstanding
      FROM company_overview
     WHERE shares_outstanding > 0
     ORDER BY symbol, batch_id DESC
)
UPDATE income_stmt i
   SET basic_eps = round(i.net_income / s.shares_outstanding, 4), updated_at = now()
  FROM shares s
 WHERE s.symbol = i.symbol AND i.basic_eps IS NULL AND i.net_income IS NOT NULL
"""


def derive(ctx: RunContext, item: str) -> list[Row]:
    return []  # the work is two UPDATEs in the item's transaction (after_merge)


def fill(
    conn: psycopg.Connection, ctx: RunContext, item: str, rows: list[Row], merged: MergeResult
) -> MergeResult:
    earnings = conn.execute(_EARNINGS).rowcount
    eps = conn.execute(_EPS).rowcount
    return MergeResult(updated=max(earnings, 0) + max(eps, 0))


DATASET = DatasetSpec(
    name="earnings_prices",
    table="earnings_history",
    group="derived",
    schedule="40 23 * * *",  # after daily_prices (23:00 UTC)
    providers=(),
    description="earnings_history price_before_close/open/close, gap % and move % from daily_prices; income_stmt basic EPS",
    key=("symbol", "report_date"),
    fetch={DERIVED: derive},
    after_merge=fill,
    depends_on=("daily_prices", "earnings_history", "income_stmt", "company_overview"),
)
