"""``etf_basic_info``: the ETF universe — a curated list shipped with the package (``data/etfs.csv``).

The seed loaded this table from outside its repository, so its ETF profile DAG had nothing to work
on unless someone seeded it by hand. None of the nine free APIs lists ETFs with their fund family
and category for free, so the reference columns (name, fund family, category, popularity rank) come
from the packaged list: broad US, style, dividend, the eleven Select Sector SPDRs and semiconductors,
ranked roughly by assets. Add a row there (or insert one) to follow another ETF; rows not in the list
are never deleted.

Only those columns are written here: the facts that change — assets, expense ratio, dividend yield,
inception date — are copied from Alpha Vantage's ETF_PROFILE by ``etf_profile_holdings`` each time
it collects an ETF, so this dataset never overwrites them.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

from marketpipe.engine.registry import DERIVED, DatasetSpec, Row, RunContext

COLUMNS = ("symbol", "name", "fund_family", "category", "popularity_rank")


@lru_cache(maxsize=1)
def curated() -> tuple[Row, ...]:
    """The packaged ETF list, one row per ETF (validated: unique upper-case symbols, ranks 1..n)."""
    text = (resources.files("marketpipe.datasets.fundamentals.data") / "etfs.csv").read_text("utf-8")
    rows: list[Row] = []
    for line in csv.DictReader(text.splitlines()):
        row: Row = {c: (line[c] or "").strip() or None for c in COLUMNS}
        row["popularity_rank"] = int(line["popularity_rank"])
        rows.append(row)
    symbols = [r["symbol"] for r in rows]
    if len(set(symbols)) != len(symbols) or any(not s or s != s.upper() for s in symbols):
        raise ValueError("etfs.csv: symbols must be unique and upper-case")
    return tuple(rows)


def build(ctx: RunContext, item: str) -> list[Row]:
    return [dict(row) for row in curated()]


DATASET = DatasetSpec(
    name="etf_basic_info",
    table="etf_basic_info",
    group="fundamentals",
    schedule="0 8 * * *",  # in etf_profile_holdings' DAG, which runs after it (depends_on)
    providers=(),
    description="The ETF universe (curated list shipped with marketpipe); profile facts come from ETF_PROFILE",
    key=("symbol",),
    fetch={DERIVED: build},
    touch="updated_at",
)
