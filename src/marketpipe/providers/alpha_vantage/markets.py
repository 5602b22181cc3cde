"""Alpha Vantage TOP_GAINERS_LOSERS (docs/providers.md §1): the day's top gainers, losers and most
actively traded tickers."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from marketpipe.http.errors import MalformedResponse
from marketpipe.providers.alpha_vantage.client import NAME
from marketpipe.providers.base import clean_text, drop, to_decimal, to_int

_EASTERN = ZoneInfo("America/New_York")
TOP_GAINERS_CATEGORIES = ("top_gainers", "top_losers", "most_actively_traded")


def parse_last_updated(value: Any) -> datetime | None:
    """``"2025-11-06 16:16:00 US/Eastern"`` → an aware datetime (US/Eastern wall clock)."""
    text = clean_text(value)
    if not text:
        return None
    stamp = " ".join(text.split()[:2])
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(stamp, fmt).replace(tzinfo=_EASTERN)
        except ValueError:
            continue
    return None


def parse_top_gainers(body: Any) -> list[dict[str, Any]]:
    """TOP_GAINERS_LOSERS → ``top_gainers`` rows (without batch_id); change % as a number
    (``change_percentage_value``; the table derives AV's "12.3%" string from it)."""
    if not isinstance(body, dict) or not any(isinstance(body.get(c), list) for c in TOP_GAINERS_CATEGORIES):
        raise MalformedResponse(NAME, "TOP_GAINERS_LOSERS: no gainers/losers lists")
    last_updated = parse_last_updated(body.get("last_updated"))
    rows = []
    for category in TOP_GAINERS_CATEGORIES:
        for rank, entry in enumerate(body.get(category) or [], start=1):
            symbol = clean_text(entry.get("ticker")) if isinstance(entry, dict) else None
            if not symbol:
                drop(f"{category} entry without a ticker")
                continue
            rows.append(
                {
                    "last_updated": last_updated,
                    "symbol": symbol,
                    "category": category,
                    "rank_position": rank,
                    "price": to_decimal(entry.get("price")),
                    "change_amount": to_decimal(entry.get("change_amount")),
                    "change_percentage_value": to_decimal(entry.get("change_percentage")),
                    "volume": to_int(entry.get("volume")),
                }
            )
    return rows
