"""Row builders shared by providers that serve the same table (so every source fills it alike)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marketpipe.providers.base import clean_text, drop, to_date, to_decimal


def earnings_event(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """An ``earnings_calendar`` row from normalised keys (symbol, name, report_date,
    fiscal_date_ending, estimate, currency, timing); None without a symbol or a valid date."""
    symbol, report_date = clean_text(raw.get("symbol")), to_date(raw.get("report_date"))
    if not symbol or report_date is None:
        drop("earnings event without symbol or valid report date")
        return None
    timing = clean_text(raw.get("timing"))
    return {
        "symbol": symbol,
        "company_name": clean_text(raw.get("name")),
        "report_date": report_date,
        "fiscal_date_ending": to_date(raw.get("fiscal_date_ending")),
        "estimate": to_decimal(raw.get("estimate")),
        "currency": clean_text(raw.get("currency")),
        "event_description": f"earnings report ({timing})" if timing else "earnings report",
    }


def constituent(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """An ``sp500_companies`` row from normalised keys (the table's column names); the CIK is
    zero-padded to 10 digits; None without a symbol or a name."""
    symbol, name = clean_text(raw.get("symbol")), clean_text(raw.get("company_name"))
    if not symbol or not name:
        drop("company without symbol or name")
        return None
    cik = clean_text(raw.get("cik"))
    return {
        "symbol": symbol,
        "company_name": name,
        "gics_sector": clean_text(raw.get("gics_sector")),
        "gics_sub_industry": clean_text(raw.get("gics_sub_industry")),
        "headquarters": clean_text(raw.get("headquarters")),
        "date_added": to_date(raw.get("date_added")),
        "cik": cik.zfill(10) if cik and cik.isdigit() else cik,
        "founded": clean_text(raw.get("founded")),
    }
