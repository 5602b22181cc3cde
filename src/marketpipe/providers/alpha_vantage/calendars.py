"""Alpha Vantage EARNINGS_CALENDAR and IPO_CALENDAR (docs/providers.md §1): CSV replies parsed by
header name (a quota refusal in CSV clothing is caught by ``client.classify`` first)."""

from __future__ import annotations

import csv
import io
from typing import Any

from marketpipe.http.errors import MalformedResponse
from marketpipe.providers.alpha_vantage.client import NAME
from marketpipe.providers.base import clean_text, drop, to_date, to_decimal
from marketpipe.providers.records import earnings_event


def _csv_rows(text: str, required: tuple[str, ...], what: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [name for name in required if name not in header]
    if missing:
        raise MalformedResponse(NAME, f"{what}: CSV header lacks {', '.join(missing)}")
    return [{(k or "").strip(): (v or "") for k, v in row.items()} for row in reader]


def parse_earnings_calendar_csv(text: str) -> list[dict[str, Any]]:
    """EARNINGS_CALENDAR CSV → ``earnings_calendar`` rows, by header name (6 or 7 columns)."""
    events = (
        earnings_event(
            {
                "symbol": raw.get("symbol"),
                "name": raw.get("name"),
                "report_date": raw.get("reportDate"),
                "fiscal_date_ending": raw.get("fiscalDateEnding"),
                "estimate": raw.get("estimate"),
                "currency": raw.get("currency"),
                "timing": raw.get("timeOfTheDay"),
            }
        )
        for raw in _csv_rows(text, ("symbol", "name", "reportDate"), "EARNINGS_CALENDAR")
    )
    return [event for event in events if event is not None]


def parse_ipo_calendar_csv(text: str) -> list[dict[str, Any]]:
    """IPO_CALENDAR CSV → ``ipo_calendar`` rows (SPAC price ranges ``0,0`` kept as 0)."""
    rows = []
    for raw in _csv_rows(text, ("symbol", "name", "ipoDate"), "IPO_CALENDAR"):
        symbol, ipo_date = clean_text(raw.get("symbol")), to_date(raw.get("ipoDate"))
        if not symbol or ipo_date is None:
            drop("IPO without symbol or valid ipoDate")
            continue
        rows.append(
            {
                "symbol": symbol,
                "company_name": clean_text(raw.get("name")),
                "ipo_date": ipo_date,
                "price_range_low": to_decimal(raw.get("priceRangeLow")),
                "price_range_high": to_decimal(raw.get("priceRangeHigh")),
                "currency": clean_text(raw.get("currency")) or "USD",
                "exchange": clean_text(raw.get("exchange")),
            }
        )
    return rows
