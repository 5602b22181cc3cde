"""Where producers get their symbols: the S&P 500 table, a configured list, or the latest top-gainers batch."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psycopg

from marketpipe.stream.producers.sharding import normalise_symbol

#: Categories the top-gainers producer follows (the seed's three lists) and its symbol cap.
TOP_GAINER_CATEGORIES = ("top_gainers", "top_losers", "most_actively_traded")
TOP_GAINERS_LIMIT = 50


class UniverseError(RuntimeError):
    """No symbols could be found for a producer."""


def parse_symbol_list(text: str) -> list[str]:
    """Symbols from a comma/space/newline separated list (``#`` starts a comment line)."""
    symbols: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        symbols.extend(normalise_symbol(s) for s in line.replace(",", " ").split() if s.strip())
    return list(dict.fromkeys(symbols))


def symbols_from_file(path: Path) -> list[str]:
    """Symbols listed in a text file (see :func:`parse_symbol_list`)."""
    return parse_symbol_list(path.read_text(encoding="utf-8"))


def _has_column(conn: psycopg.Connection[Any], table: str, column: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = %s AND column_name = %s",
        (table, column),
    ).fetchone()
    return row is not None


def sp500_symbols(conn: psycopg.Connection[Any]) -> list[str]:
    """Current S&P 500 members (``is_current``), or every row when the table has no such column."""
    query = "SELECT symbol FROM sp500_companies"
    if _has_column(conn, "sp500_companies", "is_current"):
        query += " WHERE is_current"
    symbols = [normalise_symbol(row[0]) for row in conn.execute(query + " ORDER BY symbol")]
    if not symbols:
        raise UniverseError(
            "sp500_companies is empty: run the sp500_companies dataset first, or pass --symbols"
        )
    return symbols


def etf_symbols(conn: psycopg.Connection[Any]) -> list[str]:
    """The ETF universe (``etf_basic_info``), most popular first."""
    rows = conn.execute("SELECT symbol FROM etf_basic_info ORDER BY popularity_rank NULLS LAST, symbol")
    symbols = list(dict.fromkeys(normalise_symbol(row[0]) for row in rows))
    if not symbols:
        raise UniverseError(
            "etf_basic_info is empty: run the etf_basic_info dataset first, or pass --symbols"
        )
    return symbols


def latest_top_gainers(
    conn: psycopg.Connection[Any],
    categories: Iterable[str] = TOP_GAINER_CATEGORIES,
    limit: int = TOP_GAINERS_LIMIT,
) -> tuple[int | None, dict[str, str]]:
    """(batch_id, {symbol: category}) of the newest top_gainers batch, at most ``limit`` symbols.

    A symbol in several lists (a gainer that is also most active) keeps its first category in
    ``categories`` order, and counts once against the limit.
    """
    cats = list(categories)
    rows = conn.execute(
        "SELECT batch_id, symbol, category FROM top_gainers "
        "WHERE batch_id = (SELECT max(batch_id) FROM top_gainers) AND category = ANY(%s) "
        "ORDER BY array_position(%s::text[], category), rank_position NULLS LAST, symbol",
        (cats, cats),
    ).fetchall()
    if not rows:
        return None, {}
    chosen: dict[str, str] = {}
    for _, symbol, category in rows:
        chosen.setdefault(normalise_symbol(symbol), category)
        if len(chosen) >= limit:
            break
    return int(rows[0][0]), chosen
