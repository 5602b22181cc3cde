"""Bithumb KRW market → CoinGecko id, derived from ``market_code_bithumb`` and ``coingecko_id_mapping``.

1. The seed's hand-checked ids (``data/bithumb_coingecko_ids.csv``, 385 symbols) win when CoinGecko
   lists that id: ``HARDCODED_MAPPING``, score 100, verified.
2. Every other KRW symbol goes through the seed's earlier auto-matcher (docs/seed.md §4): candidates
   with the same upper-case symbol ordered by rank (NULL last) then market cap; score = rank score
   (51 − rank for rank ≤ 100) + 50 × name similarity; the highest total wins and ties keep the better
   rank. A symbol without candidates is stored unmatched (``NO_MATCH``, flagged ``has_issues``).
3. Rows verified by hand (``update_mapping_verification``) are never overwritten; markets Bithumb no
   longer lists are marked inactive, not deleted.
"""

from __future__ import annotations

import csv
import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

import psycopg

from marketpipe.db import MergeResult
from marketpipe.engine.registry import DERIVED, DatasetSpec, Row, RunContext

HARDCODED = "HARDCODED_MAPPING"
MANUAL_METHODS = ("MANUAL_VERIFICATION", "MANUAL_MAPPING")


@lru_cache(maxsize=1)
def hardcoded_ids() -> dict[str, str]:
    """symbol → coingecko_id from the packaged list (copied from the seed's hard-coded mapping)."""
    text = (resources.files("marketpipe.datasets.crypto.data") / "bithumb_coingecko_ids.csv").read_text(
        "utf-8"
    )
    return {
        row["bithumb_symbol"].strip().upper(): row["coingecko_id"].strip()
        for row in csv.DictReader(text.splitlines())
    }


@dataclass(frozen=True)
class Candidate:
    coingecko_id: str
    name: str
    rank: int | None
    market_cap: Decimal | None
    price: Decimal | None


def name_similarity(left: str | None, right: str | None) -> float:
    """1.0 exact (case-insensitive), 0.8 substring, 0.7 same first word, 0.6 any shared word, else the
    difflib ratio (the seed's rules)."""
    a, b = (left or "").strip().lower(), (right or "").strip().lower()
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    if a in b or b in a:
        return 0.8
    words_a, words_b = a.split(), b.split()
    if words_a[0] == words_b[0]:
        return 0.7
    if set(words_a) & set(words_b):
        return 0.6
    return difflib.SequenceMatcher(None, a, b).ratio()


def rank_score(rank: int | None) -> int:
    return 51 - rank if rank is not None and rank <= 100 else 0


def best_match(
    english_name: str | None, candidates: Sequence[Candidate]
) -> tuple[Candidate, float, str] | None:
    """The winning candidate, its score and the method label; None without candidates.

    ``candidates`` must be ordered by rank (NULL last) then market cap, so a strict ``>`` keeps the
    better-ranked coin on ties.
    """
    best: tuple[Candidate, float, float] | None = None
    for candidate in candidates:
        similarity = name_similarity(english_name, candidate.name)
        total = rank_score(candidate.rank) + 50 * similarity
        if best is None or total > best[1]:
            best = (candidate, total, similarity)
    if best is None:
        return None
    candidate, total, similarity = best
    if similarity >= 0.9:
        method = "EXACT_NAME_MATCH"
    elif candidate.rank is not None and candidate.rank <= 10:
        method = "TOP_10_RANK"
    elif similarity >= 0.7:
        method = "HIGH_NAME_SIMILARITY"
    elif total > 0:
        method = "RANK_PRIORITY"
    else:
        method = "AUTO_MATCHING"
    return candidate, round(total, 2), method


def _candidates(ctx: RunContext) -> tuple[dict[str, list[Candidate]], dict[str, Candidate]]:
    by_symbol: dict[str, list[Candidate]] = {}
    by_id: dict[str, Candidate] = {}
    rows = ctx.query(
        """SELECT coingecko_id, upper(symbol), name, market_cap_rank, market_cap_usd, current_price_usd
             FROM coingecko_id_mapping
            ORDER BY COALESCE(market_cap_rank, 999999), market_cap_usd DESC NULLS LAST, coingecko_id"""
    )
    for coin_id, symbol, name, rank, cap, price in rows:
        candidate = Candidate(coin_id, name, rank, cap, price)
        by_symbol.setdefault(symbol, []).append(candidate)
        by_id[coin_id] = candidate
    return by_symbol, by_id


def build(ctx: RunContext, item: str) -> list[Row]:
    markets = ctx.query(
        """SELECT market_code, korean_name, english_name FROM market_code_bithumb
            WHERE starts_with(market_code, 'KRW-') ORDER BY market_code"""
    )
    manual = {
        row[0]
        for row in ctx.query(
            "SELECT market_code FROM bithumb_coingecko_mapping WHERE match_method = ANY(%s) OR verified_by IS NOT NULL",
            (list(MANUAL_METHODS),),
        )
    }
    by_symbol, by_id = _candidates(ctx)
    fixed = hardcoded_ids()
    rows: list[Row] = []
    for market_code, korean_name, english_name in markets:
        if market_code in manual:
            continue
        symbol = market_code.removeprefix("KRW-")
        row: dict[str, Any] = {
            "market_code": market_code,
            "symbol": symbol,
            "bithumb_korean_name": korean_name,
            "bithumb_english_name": english_name,
            "is_active": True,
        }
        chosen = by_id.get(fixed[symbol]) if symbol in fixed else None
        if chosen is not None:
            score, method, verified, notes = Decimal(100), HARDCODED, True, None
        else:
            match = best_match(english_name, by_symbol.get(symbol.upper(), []))
            notes = f"hard-coded id {fixed[symbol]} not listed by CoinGecko" if symbol in fixed else None
            if match is None:
                rows.append(
                    {
                        **row,
                        "coingecko_id": None,
                        "coingecko_name": None,
                        "market_cap_rank": None,
                        "market_cap_usd": None,
                        "current_price_usd": None,
                        "match_method": "NO_MATCH",
                        "match_score": Decimal(0),
                        "is_verified": False,
                        "has_issues": True,
                        "notes": notes or "no CoinGecko coin with this symbol",
                    }
                )
                continue
            chosen, total, method = match
            score, verified = Decimal(str(total)), False
        rows.append(
            {
                **row,
                "coingecko_id": chosen.coingecko_id,
                "coingecko_name": chosen.name,
                "market_cap_rank": chosen.rank,
                "market_cap_usd": chosen.market_cap,
                "current_price_usd": chosen.price,
                "match_method": method,
                "match_score": score,
                "is_verified": verified,
                "has_issues": score < 60,
                "notes": notes,
            }
        )
    return rows


def deactivate_delisted(
    conn: psycopg.Connection, ctx: RunContext, item: str, rows: list[Row], merged: MergeResult
) -> None:
    """KRW markets no longer listed stay in the table (history, manual notes) but become inactive."""
    conn.execute(
        """UPDATE bithumb_coingecko_mapping m SET is_active = false
            WHERE m.is_active AND NOT EXISTS (SELECT 1 FROM market_code_bithumb b WHERE b.market_code = m.market_code)"""
    )


DATASET = DatasetSpec(
    name="bithumb_coingecko_mapping",
    table="bithumb_coingecko_mapping",
    group="crypto",
    schedule="@daily",
    providers=(),
    description="Bithumb KRW markets mapped to CoinGecko ids (seed's fixed list, then the auto-matcher)",
    key=("market_code",),
    fetch={DERIVED: build},
    after_merge=deactivate_delisted,
    depends_on=("market_code_bithumb", "coingecko_id_mapping"),
)
