"""post_analysis_cache: assets named by a post, their market around it, against a real PostgreSQL; the
keyword matcher on hostile text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from hypothesis import given, settings
from hypothesis import strategies as st

from marketpipe.datasets.derived.post_analysis_cache import (
    KEYWORDS,
    MAX_ASSETS,
    WORDS_SEARCHED,
    affected_assets,
    keyword_hits,
)
from marketpipe.engine.clock import ManualClock
from marketpipe.engine.runner import RunOptions, RunResult, run_dataset

POST = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)  # Monday 10:00 New York
NEXT_OPEN = datetime(2026, 11, 17, 14, 30, tzinfo=UTC)  # Tuesday 09:30 New York


def _run(settings: Any, now: datetime) -> RunResult:
    result = run_dataset(
        "post_analysis_cache", settings=settings, options=RunOptions(clock=ManualClock(now)), logical_date=now
    )
    assert result.status == "ok", result.message
    return result


def _candle(db: psycopg.Connection, symbol: str, at: datetime, close: float, volume: float) -> None:
    db.execute(
        "INSERT INTO trade_candles (stream, symbol, interval_s, bucket_start, open, high, low, close, volume,"
        " trades, open_key, close_key) VALUES ('trades', %s, 60, %s, %s, %s, %s, %s, %s, 1, 0, 0)",
        (symbol, at, close, close, close, close, volume),
    )


def _fill(db: psycopg.Connection) -> None:
    db.execute("INSERT INTO sp500_companies (symbol, company_name) VALUES ('AAPL', 'Apple Inc.')")
    db.execute(
        "INSERT INTO market_code_bithumb (market_code, korean_name, english_name) VALUES ('KRW-BTC', '비트코인', 'Bitcoin')"
    )
    db.execute(
        "INSERT INTO x_posts (tweet_id, author_id, text, created_at, source_account, username)"
        " VALUES ('t1', 'a1', 'The new iPhone and $BTC, nothing else', %s, 'someone', 'someone')",
        (POST,),
    )
    db.execute(
        "INSERT INTO truth_social_posts (id, created_at, username, account_id, content, clean_content)"
        " VALUES ('p1', %s, 'nobody', 'acc', '<p>lunch</p>', 'lunch')",
        (POST - timedelta(days=5),),
    )
    # AAPL: 100 at the post, 102 an hour later, 99 twelve hours later; 110 in the next session's first hour.
    _candle(db, "AAPL", POST - timedelta(minutes=30), 98, 50)
    _candle(db, "AAPL", POST, 100, 10)
    _candle(db, "AAPL", POST + timedelta(minutes=30), 101, 30)
    _candle(db, "AAPL", POST + timedelta(hours=1), 102, 5)
    _candle(db, "AAPL", POST + timedelta(hours=12), 99, 1)
    _candle(db, "AAPL", NEXT_OPEN + timedelta(minutes=10), 108, 1)
    _candle(db, "AAPL", NEXT_OPEN + timedelta(minutes=40), 112, 1)
    # BTC on Bithumb: 50_000_000 at the post, 51_000_000 after 24 h.
    for ts, price in ((POST, 50_000_000), (POST + timedelta(hours=24), 51_000_000)):
        ms = int(ts.timestamp() * 1000)
        db.execute(
            "INSERT INTO bithumb_ticker (market, trade_timestamp, timestamp_field, trade_price, trade_volume)"
            " VALUES ('KRW-BTC', %s, %s, %s, 0.5)",
            (ms, ms, price),
        )
    db.commit()


def test_a_post_gets_its_assets_market_and_changes_then_becomes_complete(settings, db) -> None:
    _fill(db)
    first = _run(settings, POST + timedelta(days=1, hours=1))
    assert first.rows_inserted == 2 + 2  # two analyses, two keywords
    row = db.execute(
        "SELECT author_username, affected_assets, market_data, price_analysis, volume_analysis, analysis_status"
        " FROM post_analysis_cache WHERE post_id = 't1' AND post_source = 'x'"
    ).fetchone()
    author, assets, market, prices, volumes, status = row
    assert author == "someone" and status == "partial"
    assert [(a["symbol"], a["priority"], a["matched_keyword"]) for a in assets] == [
        ("AAPL", 1, "iphone"),
        ("BTC", 1, "$btc"),
    ]
    assert set(market) == {"AAPL", "BTC"}
    assert market["AAPL"]["data_source"] == "sp500_websocket_trades"
    assert market["BTC"]["data_source"] == "bithumb_ticker"
    assert [p["close"] for p in market["AAPL"]["price_timeline"]] == [
        98.0,
        100.0,
        101.0,
        102.0,
        99.0,
        108.0,
        112.0,
    ]
    assert prices["AAPL"] == {
        "base_price": 100.0,
        "1h_change": 2.0,
        "12h_change": -1.0,
        "next_day_change": 10.0,
    }
    # (the minute nearest +1 h is the post's own, within the 2 h tolerance; nothing near +12 h)
    assert prices["BTC"] == {"base_price": 50_000_000.0, "1h_change": 0.0, "24h_change": 2.0}
    assert volumes["AAPL"] == {
        "total_volume_before_1h": 50.0,
        "total_volume_after_1h": 40.0,
        "volume_change_pct_1h": -20.0,
    }
    keywords = db.execute(
        "SELECT keyword, keyword_position FROM post_keywords WHERE post_id = 't1'"
    ).fetchall()
    assert sorted(keywords) == [("$btc", 4), ("iphone", 2)]
    # The lunch post names nothing and its author has no default assets: an empty, complete analysis.
    lunch = db.execute(
        "SELECT affected_assets, market_data, analysis_status FROM post_analysis_cache WHERE post_id = 'p1'"
    ).fetchone()
    assert lunch == ([], {}, "complete")
    db.commit()

    # Two days after the post the analysis is final; the complete one is not looked at again.
    second = _run(settings, POST + timedelta(days=2, hours=1))
    assert (second.rows_inserted, second.rows_updated) == (0, 1)
    assert db.execute("SELECT analysis_status FROM post_analysis_cache WHERE post_id = 't1'").fetchone() == (
        "complete",
    )
    third = _run(settings, POST + timedelta(days=3))
    assert (third.rows_inserted, third.rows_updated) == (0, 0)
    assert db.execute("SELECT count(*) FROM post_keywords").fetchone() == (2,)


def test_no_text_means_no_keywords_and_authors_bring_their_default_assets() -> None:
    assert keyword_hits(None) == [] and keyword_hits("") == []
    assert affected_assets("ElonMusk", "hello")[0]["source"] == "account_default"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec=None), max_size=3000))
def test_keyword_matching_survives_any_text(text: str) -> None:
    hits = keyword_hits(text)
    for keyword, position, symbol in hits:
        assert 0 <= position < WORDS_SEARCHED
        assert symbol == KEYWORDS.get(keyword) or (keyword.startswith("$") and symbol == keyword[1:].upper())
    assets = affected_assets("anyone\x00\ud800", text)
    assert len(assets) <= MAX_ASSETS and len({a["symbol"] for a in assets}) == len(assets)


def test_huge_text_is_searched_only_at_its_start() -> None:
    text = "bitcoin " + "word " * 1_000_000 + "tesla"
    assert keyword_hits(text) == [("bitcoin", 0, "BTC")]
