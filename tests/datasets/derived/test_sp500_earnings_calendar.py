"""sp500_earnings_calendar + sp500_earnings_news, derived in SQL from tables this test fills."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from marketpipe.engine.clock import ManualClock
from marketpipe.engine.runner import RunOptions, RunResult, run_dataset

NY = ZoneInfo("America/New_York")
D = date(2026, 11, 16)  # the logical date
AAPL_R = D + timedelta(days=3)  # 2026-11-19, in the window
MSFT_R = D - timedelta(days=2)  # 2026-11-14, in the window (already reported)
A_R = D + timedelta(days=5)  # a one-letter ticker


def _run(settings: Any) -> RunResult:
    options = RunOptions(clock=ManualClock(datetime(2026, 11, 17, 1, 0, tzinfo=UTC)))
    result = run_dataset("sp500_earnings_calendar", settings=settings, options=options, logical_date=D)
    assert result.status == "ok", result.message
    return result


def _ny(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY)


def _fill(db: psycopg.Connection) -> None:
    companies = [
        (
            "AAPL",
            "Apple Inc.",
            "Information Technology",
            "Technology Hardware",
            "Cupertino, California",
            True,
        ),
        ("MSFT", "Microsoft Corporation", "Information Technology", "Systems Software", "Redmond", True),
        ("A", "Agilent Technologies", "Health Care", "Life Sciences Tools", "Santa Clara", True),
        ("OLD", "Old Co", "Energy", "Oil", "Houston", False),
    ]
    for symbol, name, sector, sub, hq, current in companies:
        db.execute(
            """INSERT INTO sp500_companies (symbol, company_name, gics_sector, gics_sub_industry, headquarters,
                                            is_current, removed_at)
               VALUES (%s, %s, %s, %s, %s, %s, CASE WHEN %s THEN NULL ELSE now() END)""",
            (symbol, name, sector, sub, hq, current, current),
        )
    events = [
        ("AAPL", AAPL_R, date(2026, 9, 30), Decimal("1.234"), "earnings report (post-market)"),
        ("MSFT", MSFT_R, date(2026, 9, 30), None, None),
        ("A", A_R, None, Decimal("-0.5"), None),
        ("A", D + timedelta(days=31), None, Decimal("1.1"), None),  # after the window
        ("OLD", D + timedelta(days=5), None, Decimal("0.5"), None),  # left the index
        ("XYZ", D + timedelta(days=5), None, Decimal("0.5"), None),  # never a constituent
    ]
    for symbol, report, fiscal, estimate, description in events:
        db.execute(
            """INSERT INTO earnings_calendar (symbol, report_date, fiscal_date_ending, estimate, currency,
                                              event_description) VALUES (%s, %s, %s, %s, 'USD', %s)""",
            (symbol, report, fiscal, estimate, description),
        )
    # AAPL forecast window is NY days [R−14, R−1]: 12 earnings articles on R−1 … R−12 (url e/k for R−k),
    # one on R−15 (outside), and one on the report day itself (outside too).
    for k in [*range(1, 13), 15]:
        db.execute(
            """INSERT INTO earnings_news_finnhub (symbol, report_date, headline, url, summary, source,
                                                  published_at) VALUES ('AAPL', %s, %s, %s, 's', 'src', %s)""",
            (AAPL_R, f"Apple preview {k}", f"https://e/{k}", _ny(AAPL_R - timedelta(days=k), 12)),
        )
    db.execute(
        """INSERT INTO earnings_news_finnhub (symbol, report_date, headline, url, source, published_at)
           VALUES ('AAPL', %s, 'On the day', 'https://e/day', 'src', %s)""",
        (AAPL_R, _ny(AAPL_R, 9)),
    )
    company_news = [
        # 23:30 New York on R−1 is already R in UTC: still forecast, day −1.
        ("AAPL", "https://c/late", "Apple late note", _ny(AAPL_R - timedelta(days=1), 23, 30)),
        ("AAPL", "https://e/1", "Same URL as an earnings article", _ny(AAPL_R - timedelta(days=1), 8)),
        ("AAPL", "https://c/after", "Apple reaction", _ny(AAPL_R + timedelta(days=2), 10)),
        ("AAPL", "https://c/too-late", "Too late", _ny(AAPL_R + timedelta(days=8), 10)),
        ("MSFT", "https://c/msft", "Microsoft after the call", _ny(MSFT_R + timedelta(days=1), 7)),
    ]
    for symbol, url, title, published in company_news:
        db.execute(
            """INSERT INTO company_news (symbol, source, url, title, description, published_at)
               VALUES (%s, 'finnhub', %s, %s, 'desc', %s)""",
            (symbol, url, title, published),
        )
    market_news = [
        ("https://m/apple", "Apple suppliers brace", None, _ny(AAPL_R - timedelta(days=3), 9)),
        ("https://m/msft", "MSFT shares climb", None, _ny(MSFT_R + timedelta(days=3), 9)),
        # A one-letter ticker is matched by company name only ("A" is a word in most titles).
        ("https://m/noise", "A quiet day for markets", "no names", _ny(A_R - timedelta(days=2), 9)),
        ("https://m/agilent", "Agilent Technologies guides up", None, _ny(A_R + timedelta(days=1), 9)),
    ]
    for url, title, description, published in market_news:
        db.execute(
            """INSERT INTO market_news (source, url, title, description, published_at)
               VALUES ('newsapi', %s, %s, %s, %s)""",
            (url, title, description, published),
        )
    sentiment = [
        (
            1,
            "https://s/aapl",
            [{"ticker": "AAPL", "relevance_score": "0.9"}],
            _ny(AAPL_R - timedelta(days=4), 10),
        ),
        (
            2,
            "https://s/aapl",
            [{"ticker": "AAPL", "relevance_score": "0.9"}],
            _ny(AAPL_R - timedelta(days=4), 10),
        ),
        (
            2,
            "https://s/aaplx",
            [{"ticker": "AAPLX", "relevance_score": "0.9"}],
            _ny(AAPL_R - timedelta(days=4), 10),
        ),
        (2, "https://s/aapl-text", [{"ticker": "IBM", "note": "AAPL"}], _ny(AAPL_R - timedelta(days=4), 10)),
    ]
    for batch, url, tickers, published in sentiment:
        db.execute(
            """INSERT INTO market_news_sentiment (batch_id, title, url, time_published, summary, source,
                                                  ticker_sentiment, query_type)
               VALUES (%s, 'AAPL sentiment', %s, %s, 'sum', 'Benzinga', %s::jsonb, 'tech')""",
            (batch, url, published, json.dumps(tickers)),
        )
    db.commit()


def _news(db: psycopg.Connection, symbol: str) -> dict[str, tuple[Any, ...]]:
    rows = db.execute(
        """SELECT n.url, n.source_table, n.news_section, n.days_from_earnings
             FROM sp500_earnings_news n JOIN sp500_earnings_calendar c ON c.id = n.calendar_id
            WHERE c.symbol = %s""",
        (symbol,),
    ).fetchall()
    db.commit()
    return {row[0]: row[1:] for row in rows}


def test_calendar_events_titles_and_news_windows(settings, db):
    _fill(db)
    first = _run(settings)

    events = db.execute(
        """SELECT symbol, company_name, report_date, estimate, gics_sector, headquarters, event_title,
                  event_description, total_news_count, forecast_news_count, reaction_news_count
             FROM sp500_earnings_calendar ORDER BY symbol"""
    ).fetchall()
    db.commit()
    assert [(e[0], e[2]) for e in events] == [("A", A_R), ("AAPL", AAPL_R), ("MSFT", MSFT_R)]
    agilent, aapl, msft = events
    assert agilent[6] == "A earnings (EPS est. -$0.50)"
    assert _news(db, "A") == {"https://m/agilent": ("market_news", "reaction", 1)}
    assert aapl[1] == "Apple Inc." and aapl[3] == Decimal("1.234") and aapl[4] == "Information Technology"
    assert aapl[5] == "Cupertino, California"
    assert aapl[6] == "AAPL earnings (EPS est. $1.23)" and msft[6] == "MSFT earnings"
    assert (
        aapl[7] == "Apple Inc. (AAPL) earnings report (post-market) for the fiscal quarter ending 2026-09-30"
    )

    news = _news(db, "AAPL")
    earnings_urls = {url for url, row in news.items() if row[0] == "earnings_news_finnhub"}
    # The 10 newest of the 12 in-window earnings articles; not the day itself, not R−15.
    assert earnings_urls == {f"https://e/{k}" for k in range(1, 11)}
    assert news["https://e/1"] == ("earnings_news_finnhub", "forecast", -1)  # deduped, earnings first
    assert news["https://c/late"] == ("company_news", "forecast", -1)  # a New York day, not UTC
    assert news["https://c/after"] == ("company_news", "reaction", 2)
    assert news["https://s/aapl"] == ("market_news_sentiment", "forecast", -4)  # one row for two batches
    assert news["https://m/apple"] == ("market_news", "forecast", -3)  # "Apple" without "Inc."
    for absent in ("https://e/day", "https://e/15", "https://c/too-late", "https://s/aaplx",
                   "https://s/aapl-text"):  # fmt: skip
        assert absent not in news
    assert aapl[8:] == (len(news), sum(r[1] == "forecast" for r in news.values()), 1)

    msft_news = _news(db, "MSFT")
    assert msft_news == {
        "https://c/msft": ("company_news", "reaction", 1),
        "https://m/msft": ("market_news", "reaction", 3),  # the ticker as a word
    }
    assert first.rows_inserted == 3 + len(news) + len(msft_news) + 1

    again = _run(settings)
    assert (again.rows_inserted, again.rows_updated) == (0, 0)
    assert _news(db, "AAPL") == news


def test_rescheduled_event_replaces_the_old_one_and_its_news(settings, db):
    _fill(db)
    _run(settings)
    old_id = db.execute("SELECT id FROM sp500_earnings_calendar WHERE symbol = 'AAPL'").fetchone()[0]
    db.execute(
        "UPDATE earnings_calendar SET report_date = %s WHERE symbol = 'AAPL'", (AAPL_R + timedelta(days=7),)
    )
    db.commit()
    _run(settings)
    rows = db.execute("SELECT id, report_date FROM sp500_earnings_calendar WHERE symbol = 'AAPL'").fetchall()
    stale = db.execute(
        "SELECT count(*) FROM sp500_earnings_news WHERE calendar_id = %s", (old_id,)
    ).fetchone()
    db.commit()
    assert [r[1] for r in rows] == [AAPL_R + timedelta(days=7)] and rows[0][0] != old_id
    assert stale[0] == 0
