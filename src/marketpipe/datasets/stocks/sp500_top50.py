"""The 50 largest current S&P 500 constituents, derived from the database (no external call).

Ranked by the latest ``company_overview`` market capitalisation (then ``sp500_companies.market_cap``);
constituents without a known capitalisation rank after those with one, by symbol. The table is
replaced as a whole: symbols that drop out of the top 50 are deleted in the same transaction.
"""

from __future__ import annotations

import psycopg

from marketpipe.db import MergeResult
from marketpipe.engine.registry import DERIVED, DatasetSpec, Row, RunContext

TOP_N = 50

_RANKED = """
WITH latest AS (
    SELECT DISTINCT ON (symbol) symbol, market_capitalization, industry
      FROM company_overview ORDER BY symbol, batch_id DESC
)
SELECT c.symbol, c.company_name, c.gics_sector, coalesce(c.gics_sub_industry, l.industry)
  FROM sp500_companies c LEFT JOIN latest l ON l.symbol = c.symbol
 WHERE c.is_current
 ORDER BY coalesce(l.market_capitalization, c.market_cap) DESC NULLS LAST, c.symbol
 LIMIT %s
"""


def derive(ctx: RunContext, item: str) -> list[Row]:
    return [
        {"symbol": symbol, "company_name": name, "sector": sector, "industry": industry}
        for symbol, name, sector, industry in ctx.query(_RANKED, (TOP_N,))
    ]


def drop_others(
    conn: psycopg.Connection, ctx: RunContext, item: str, rows: list[Row], merged: MergeResult
) -> None:
    conn.execute("DELETE FROM sp500_top50 WHERE NOT (symbol = ANY(%s))", ([row["symbol"] for row in rows],))


DATASET = DatasetSpec(
    name="sp500_top50",
    table="sp500_top50",
    group="stocks",
    schedule="0 8 * * *",
    providers=(),
    description="Top 50 current constituents by market capitalisation (derived, no API call)",
    key=("symbol",),
    fetch={DERIVED: derive},
    touch="updated_at",
    after_merge=drop_others,
    depends_on=("sp500_companies", "company_overview"),
)
