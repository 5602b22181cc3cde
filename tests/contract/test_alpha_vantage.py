"""Alpha Vantage contract: documented replies → parsers and classifier (all failures are HTTP 200)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from contract import replies
from contract._kit import item, parse, reply, request
from marketpipe.http.types import OutcomeKind
from marketpipe.providers import alpha_vantage
from marketpipe.providers.alpha_vantage import calendars as alpha_vantage_calendars


def test_overview_maps_documented_fields_and_ignores_unknown_ones():
    parsed, _ = parse("company_overview", "alpha_vantage", replies.AV_OVERVIEW, item("IBM"))
    (row,) = parsed.rows
    assert row["symbol"] == "IBM" and row["name"] == "International Business Machines"
    assert row["market_capitalization"] == 161692500000 and row["pe_ratio"] == Decimal("19.96")
    assert row["week_52_high"] == Decimal("197.22") and row["ebitda"] is None  # absent → NULL


def test_balance_sheet_reads_quarterly_reports_and_none_spellings():
    parsed, _ = parse("balance_sheet", "alpha_vantage", replies.AV_BALANCE_SHEET, item("AAPL"))
    (row,) = parsed.rows  # only quarterlyReports are stored
    assert row["fiscaldateending"] == date(2024, 12, 31) and row["totalassets"] == Decimal("344085000000")
    assert row["goodwill"] is None


def test_earnings_history_keeps_both_quarters_with_and_without_report_time():
    parsed, _ = parse("earnings_history", "alpha_vantage", replies.AV_EARNINGS, item("AAPL"))
    assert sorted(r["report_date"] for r in parsed.rows) == [date(2024, 5, 2), date(2025, 1, 30)]


def test_top_gainers_parses_percent_text_and_ranks_per_category():
    parsed, _ = parse("top_gainers", "alpha_vantage", replies.AV_TOP_GAINERS, item())
    by_cat = {r["category"]: r for r in parsed.rows}
    assert set(by_cat) == {"top_gainers", "top_losers", "most_actively_traded"}
    assert by_cat["top_gainers"]["symbol"] == "JGH^"
    assert by_cat["top_gainers"]["change_percentage_value"] == Decimal("134.7826")
    assert by_cat["top_losers"]["volume"] == 4


def test_news_sentiment_reads_the_feed():
    it = item("technology", query_params="topics=technology")
    parsed, _ = parse("market_news_sentiment", "alpha_vantage", replies.AV_NEWS_SENTIMENT, it)
    (row,) = parsed.rows
    assert row["query_type"] == "technology" and row["query_params"] == "topics=technology"


def test_economic_series_keeps_both_points():
    parsed, _ = parse("cpi", "alpha_vantage", replies.AV_CPI, item("monthly"))
    assert len(parsed.rows) == 2


def test_ipo_calendar_csv_keeps_spac_zero_ranges():
    parsed, _ = parse("ipo_calendar", "alpha_vantage", replies.AV_IPO_CALENDAR_CSV, item())
    by_symbol = {r["symbol"]: r for r in parsed.rows}
    assert by_symbol["ACME"]["price_range_low"] == Decimal("18.00")
    assert by_symbol["KTWOR"]["price_range_high"] == Decimal("0")


def test_earnings_calendar_csv_with_crlf_and_an_empty_estimate():
    rows = alpha_vantage_calendars.parse_earnings_calendar_csv(replies.AV_EARNINGS_CALENDAR_CSV)
    assert [r["symbol"] for r in rows] == ["NVDA", "AAPL"]


@pytest.mark.parametrize(
    ("body", "kind", "retry_after_s"),
    [
        (replies.AV_DAILY_QUOTA, OutcomeKind.QUOTA, None),
        # The burst text says "(25 requests per day)" too: it must still be a ~1 s throttle.
        (replies.AV_BURST, OutcomeKind.THROTTLED, 1.0),
        (replies.AV_LEGACY_NOTE, OutcomeKind.THROTTLED, 60.0),
        (replies.AV_PREMIUM, OutcomeKind.REFUSED, None),
        (replies.AV_DEMO, OutcomeKind.INVALID_KEY, None),
        (replies.AV_INVALID_KEY, OutcomeKind.INVALID_KEY, None),
        (replies.AV_INVALID_CALL, OutcomeKind.NOT_FOUND, None),
        (replies.AV_NO_ARTICLES, OutcomeKind.OK, None),
    ],
)
def test_refusal_bodies_are_classified(body, kind, retry_after_s):
    outcome = alpha_vantage.classify(request("alpha_vantage"), reply(body))
    assert outcome.kind is kind
    assert outcome.retry_after_s == retry_after_s


def test_the_csv_quota_row_is_a_quota_refusal_not_an_event():
    outcome = alpha_vantage.classify(
        request("alpha_vantage", "csv"), reply(replies.AV_CSV_QUOTA, content_type="application/x-download")
    )
    assert outcome.kind is OutcomeKind.QUOTA
