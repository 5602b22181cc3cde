"""News datasets against the sandbox and real PostgreSQL: values, idempotence, cursors, quota stops."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import httpx

from marketpipe.http.types import per_day, per_hours, per_minute, per_second
from plugins.engine import ONE_DAY, count, engine_settings, seed_universe

FINNHUB_KEY = "sandbox-finnhub-1"
NEWSAPI_KEY = "sandbox-newsapi-1"


def _settings(settings, sandbox):
    return engine_settings(settings, sandbox.port, finnhub_keys=[FINNHUB_KEY], newsapi_keys=[NEWSAPI_KEY])


def _finnhub(sandbox, path: str, **params: str):
    reply = httpx.get(sandbox.base_url("finnhub") + path, params={**params, "token": FINNHUB_KEY}, timeout=10)
    reply.raise_for_status()
    return reply.json()


# -- market_news_finnhub ---------------------------------------------------------------------------------


def test_market_news_stores_four_categories_and_second_run_asks_only_for_newer(
    settings, collect, db, sandbox, engine_clock
):
    cfg = _settings(settings, sandbox)
    sandbox.admin.freeze()
    first = collect("market_news_finnhub", settings=cfg)
    assert first.status == "ok", first.message
    assert first.calls == 4
    served = _finnhub(sandbox, "/news", category="general")
    assert count(db, "SELECT count(*) FROM market_news_finnhub WHERE category = 'general'") == len(served)
    newest = served[0]
    row = db.execute(
        "SELECT headline, url, source, datetime FROM market_news_finnhub WHERE category='general' AND news_id=%s",
        (newest["id"],),
    ).fetchone()
    db.commit()
    assert row[:3] == (newest["headline"], newest["url"], newest["source"])
    assert row[3] == datetime.fromtimestamp(newest["datetime"], UTC)
    # The cursor is the newest stored id per category.
    for category in ("general", "forex", "crypto", "merger"):
        state = db.execute(
            "SELECT state->>'min_id' FROM collect_cursors WHERE dataset='market_news_finnhub' AND item=%s",
            (category,),
        ).fetchone()[0]
        stored = count(db, "SELECT max(news_id) FROM market_news_finnhub WHERE category=%s", category)
        assert int(state) == stored
        assert _finnhub(sandbox, "/news", category=category, minId=state) == []

    calls_before = sandbox.admin.calls("finnhub", endpoint="news")
    again = collect("market_news_finnhub", settings=cfg)
    assert again.status == "ok" and again.rows_inserted == 0 and again.rows_updated == 0
    assert sandbox.admin.calls("finnhub", endpoint="news") == calls_before + 4

    # Two hours later only the items published since are new (general: one every 9 minutes).
    sandbox.admin.advance(hours=2)
    engine_clock.advance(timedelta(hours=2))
    total_before = count(db, "SELECT count(*) FROM market_news_finnhub")
    later = collect("market_news_finnhub", settings=cfg)
    assert later.status == "ok"
    assert 0 < later.rows_inserted < 40
    assert count(db, "SELECT count(*) FROM market_news_finnhub") == total_before + later.rows_inserted
    assert later.rows_updated == 0


def test_market_news_failed_category_keeps_its_cursor_and_is_retried(settings, collect, db, sandbox):
    cfg = _settings(settings, sandbox)
    sandbox.admin.freeze()
    sandbox.admin.add_fault("finnhub", "server_error", route="/news", count=3)
    partial = collect("market_news_finnhub", settings=cfg)
    assert partial.status == "partial" and partial.items_failed == 1 and partial.items_done == 3
    failed = db.execute(
        "SELECT item FROM collect_cursors WHERE dataset='market_news_finnhub' AND last_done_at IS NULL"
    ).fetchall()
    db.commit()
    assert len(failed) == 1
    retried = collect("market_news_finnhub", settings=cfg)
    assert retried.status == "ok" and retried.rows_inserted > 0
    assert count(db, "SELECT count(DISTINCT category) FROM market_news_finnhub") == 4


# -- company_news --------------------------------------------------------------------------------------


def test_company_news_sweeps_symbols_with_a_seven_day_window_and_resumes_after_the_minute_budget(
    settings, collect, db, sandbox, engine_clock
):
    symbols = sorted(sandbox.admin.constituents())[:8]
    seed_universe(db, symbols)
    cfg = _settings(settings, sandbox)
    sandbox.admin.freeze()
    windows = {"finnhub": (per_minute(5),)}
    # Start just after a minute boundary so the 5-per-minute window cannot roll over mid-run.
    engine_clock.set(engine_clock.now().replace(second=1, microsecond=0) + timedelta(minutes=1))
    stopped = collect("company_news", settings=cfg, quota_windows=windows, max_wait_s=0.0)
    assert stopped.status == "partial" and stopped.error_class == "QuotaExhausted"
    assert stopped.items_done == 5 and stopped.calls == 5
    day = engine_clock.now().date()
    served = _finnhub(
        sandbox, "/company-news", symbol=symbols[0], **{"from": str(day - timedelta(days=7)), "to": str(day)}
    )
    assert count(db, "SELECT count(*) FROM company_news WHERE symbol=%s", symbols[0]) == len(
        {i["url"] for i in served}
    )
    if served:
        title = db.execute(
            "SELECT title FROM company_news WHERE symbol=%s AND url=%s", (symbols[0], served[0]["url"])
        ).fetchone()
        db.commit()
        assert title[0] == served[0]["headline"]

    engine_clock.advance(timedelta(minutes=1))
    resumed = collect("company_news", settings=cfg, quota_windows=windows, max_wait_s=0.0)
    assert resumed.status == "ok" and resumed.items_done == 3 and resumed.calls == 3
    done = db.execute(
        "SELECT count(*) FROM collect_cursors WHERE dataset='company_news' AND last_done_at IS NOT NULL"
    ).fetchone()[0]
    db.commit()
    assert done == 8
    # Same day again: every symbol is fresh, no call.
    idle = collect("company_news", settings=cfg)
    assert idle.calls == 0 and idle.status == "ok"


# -- earnings_news_finnhub -----------------------------------------------------------------------------


def test_earnings_news_covers_reports_of_the_next_two_weeks(settings, collect, db, sandbox, engine_clock):
    cfg = _settings(settings, sandbox)
    sandbox.admin.freeze()
    day = engine_clock.now().date()
    symbols = sorted(sandbox.admin.constituents())[:4]
    with db.transaction():
        for offset, symbol in enumerate(symbols):
            db.execute(
                "INSERT INTO earnings_calendar (symbol, report_date) VALUES (%s, %s)",
                (symbol, day + timedelta(days=[1, 5, 14, 20][offset])),
            )
    db.commit()
    result = collect("earnings_news_finnhub", settings=cfg)
    assert result.status == "ok", result.message
    assert result.calls == 3  # the report 20 days out is not in range yet
    report = day + timedelta(days=5)
    served = _finnhub(
        sandbox,
        "/company-news",
        symbol=symbols[1],
        **{"from": str(report - timedelta(days=14)), "to": str(report)},
    )
    assert count(
        db,
        "SELECT count(*) FROM earnings_news_finnhub WHERE symbol=%s AND report_date=%s",
        symbols[1],
        report,
    ) == len({i["url"] for i in served})
    assert count(db, "SELECT count(*) FROM earnings_news_finnhub WHERE symbol=%s", symbols[3]) == 0
    again = collect("earnings_news_finnhub", settings=cfg)
    assert again.calls == 0 and again.rows_inserted == 0


# -- market_news (NewsAPI) -----------------------------------------------------------------------------


def test_newsapi_plan_fills_the_logical_day_without_invalid_categories(
    settings, collect, db, sandbox, engine_clock
):
    cfg = _settings(settings, sandbox)
    sandbox.admin.freeze()
    result = collect("market_news", settings=cfg)
    assert result.status == "ok", result.message
    assert result.calls == 20  # 3 categories + 16 keywords + 1 sources call
    day = engine_clock.now().date()
    searched = day - timedelta(days=1)  # /everything is 24 h behind on the free plan
    assert count(db, "SELECT count(*) FROM market_news") > 0
    assert (
        count(
            db,
            "SELECT count(*) FROM market_news WHERE (published_at AT TIME ZONE 'UTC')::date NOT IN (%s, %s)",
            day,
            searched,
        )
        == 0
    )
    assert count(db, "SELECT count(*) FROM market_news WHERE title = '[Removed]'") == 0
    # A stored article matches what NewsAPI served for the same query.
    reply = httpx.get(
        sandbox.base_url("newsapi") + "/everything",
        params={
            "q": "economy",
            "from": str(searched),
            "to": str(searched),
            "sortBy": "popularity",
            "language": "en",
            "pageSize": "100",
        },
        headers={"X-Api-Key": NEWSAPI_KEY},
        timeout=10,
    ).json()
    if reply["articles"]:
        article = reply["articles"][0]
        row = db.execute(
            "SELECT title, author FROM market_news WHERE source=%s AND url=%s",
            (article["source"]["name"], article["url"]),
        ).fetchone()
        db.commit()
        assert row == (article["title"], article["author"])
    again = collect("market_news", settings=cfg)
    assert again.calls == 0 and again.rows_inserted == 0


def test_newsapi_keyword_searches_follow_the_free_plans_24_hour_delay(
    settings, collect, db, sandbox, engine_clock, monkeypatch
):
    """At 23:50 on D the Developer plan's /everything serves nothing of D (24 h delay): searches ask
    for the previous 24 hours' window instead, so they find articles. With the delay set to 0 (a paid
    plan's setting, and the old behaviour) the same run's keyword searches find nothing."""
    cfg = _settings(settings, sandbox)
    late = datetime.combine(engine_clock.now().date(), time(23, 50), tzinfo=UTC)
    shift = late - engine_clock.now()
    engine_clock.advance(shift)
    sandbox.admin.advance(seconds=shift.total_seconds())
    sandbox.admin.freeze()
    sandbox.admin.set_quotas(False)
    day = late.date()

    monkeypatch.setenv("MARKETPIPE_NEWSAPI_DELAY_HOURS", "0")
    undelayed = collect("market_news", settings=cfg, quotas=False)
    assert undelayed.status == "ok"
    searched_today = count(
        db, "SELECT count(*) FROM market_news WHERE (published_at AT TIME ZONE 'UTC')::date < %s", day
    )
    assert searched_today == 0  # the keyword searches for D came back empty

    monkeypatch.delenv("MARKETPIPE_NEWSAPI_DELAY_HOURS")
    delayed = collect("market_news", settings=cfg, quotas=False, force=True)
    assert delayed.status == "ok", delayed.message
    yesterday = count(
        db,
        "SELECT count(*) FROM market_news WHERE (published_at AT TIME ZONE 'UTC')::date = %s",
        day - timedelta(days=1),
    )
    assert yesterday > 0


def test_newsapi_twelve_hour_budget_stops_partial_and_resumes(settings, collect, db, sandbox, engine_clock):
    cfg = _settings(settings, sandbox)
    sandbox.admin.freeze()
    stopped = collect(
        "market_news",
        settings=cfg,
        quota_windows={"newsapi": (per_hours(12, 7), per_day(100))},
        max_wait_s=0.0,
    )
    assert stopped.status == "partial" and stopped.error_class == "QuotaExhausted"
    assert stopped.items_done == 7 and stopped.calls == 7 and stopped.resume_at is not None
    engine_clock.advance(timedelta(hours=12))
    resumed = collect("market_news", settings=cfg)
    assert resumed.status == "ok" and resumed.calls == 13


# -- market_news_sentiment -----------------------------------------------------------------------------


def test_news_sentiment_runs_the_logical_weekday_plan_as_one_batch(collect, db, sandbox, engine_clock):
    # The sandbox clock keeps flowing: its 5-per-second burst window must be able to roll over.
    assert engine_clock.now().weekday() == 0  # the sandbox starts on a Monday
    # Headroom above 25 a day: a burst refusal on a busy machine is retried and counts as a call.
    sandbox.admin.set_provider_quota(
        "alpha_vantage",
        windows=[{"name": "day", "limit": 60, "seconds": 86400}, {"name": "burst", "limit": 5, "seconds": 1}],
    )
    roomy = {"alpha_vantage": (per_day(60), per_second(5))}
    first = collect("market_news_sentiment", quota_windows=roomy)
    assert first.status == "ok", (first.message, first.calls, first.items_done)
    assert first.items_done == 25 and first.calls >= 25
    labels = {r[0] for r in db.execute("SELECT DISTINCT query_type FROM market_news_sentiment").fetchall()}
    db.commit()
    assert "energy_transportation_latest" in labels and "ticker_xom" in labels
    assert not any("technology" in label for label in labels)  # Tuesday's theme, not Monday's
    assert count(db, "SELECT count(DISTINCT batch_id) FROM market_news_sentiment") == 1
    keys = db.execute(
        """SELECT DISTINCT jsonb_object_keys(e) FROM market_news_sentiment, jsonb_array_elements(ticker_sentiment) e"""
    ).fetchall()
    db.commit()
    assert {k[0] for k in keys} == {
        "ticker",
        "relevance_score",
        "ticker_sentiment_score",
        "ticker_sentiment_label",
    }
    topic_keys = db.execute(
        "SELECT DISTINCT jsonb_object_keys(e) FROM market_news_sentiment, jsonb_array_elements(topics) e"
    ).fetchall()
    db.commit()
    assert {k[0] for k in topic_keys} == {"topic", "relevance_score"}

    again = collect("market_news_sentiment", quota_windows=roomy)
    assert again.calls == 0 and count(db, "SELECT count(DISTINCT batch_id) FROM market_news_sentiment") == 1

    sandbox.admin.advance(days=1)
    engine_clock.advance(ONE_DAY)
    tuesday = collect("market_news_sentiment", quota_windows=roomy)
    assert tuesday.status == "ok" and tuesday.items_done == 25
    assert count(db, "SELECT count(DISTINCT batch_id) FROM market_news_sentiment") == 2
    assert count(db, "SELECT count(*) FROM market_news_sentiment WHERE query_type = 'technology_latest'") > 0
