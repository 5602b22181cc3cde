"""Contract tests of Finnhub, FRED, NewsAPI, FMP, X, Truth Social, Bithumb and CoinGecko on their
documented replies, plus the CDN page any of them may be answered with."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from contract import replies
from contract._kit import item, parse, reply, request
from marketpipe.http.types import OutcomeKind
from marketpipe.providers import fmp, fred, newsapi, x
from marketpipe.providers.base import classify_status
from marketpipe.providers.x import timeline as x_timeline


def test_finnhub_market_news_cursor_moves_to_the_newest_id():
    parsed, _ = parse("market_news_finnhub", "finnhub", replies.FINNHUB_NEWS, item("general", min_id=7555000))
    (row,) = parsed.rows
    assert row["news_id"] == 7555018 and parsed.state == {"min_id": 7555018}
    older, _ = parse("market_news_finnhub", "finnhub", replies.FINNHUB_NEWS, item("general", min_id=7555018))
    assert older.rows == [] and older.state == {"min_id": 7555018}  # never backwards


def test_finnhub_company_news_of_an_empty_204_body():
    parsed, _ = parse(
        "company_news", "finnhub", "", item("AAPL", **{"from": date(2026, 11, 9), "to": date(2026, 11, 16)})
    )
    assert parsed.rows == []


def test_fred_missing_marker_is_null_not_dropped():
    parsed, drops = parse("cpi", "fred", replies.FRED_OBSERVATIONS, item("monthly"))
    assert len(parsed.rows) == 2 and drops == []
    assert sum(1 for row in parsed.rows if None in row.values()) == 1  # "." → NULL, the row kept


def test_fred_errors_are_classified():
    assert fred.classify(request("fred"), reply(replies.FRED_BAD_KEY, 400)).kind is OutcomeKind.INVALID_KEY
    assert fred.classify(request("fred"), reply(replies.FRED_THROTTLED, 429)).kind is OutcomeKind.THROTTLED


def test_newsapi_articles_inside_the_window_with_seven_digit_fractions():
    first = datetime(2023, 11, 29, tzinfo=UTC)
    last = datetime(2023, 11, 30, tzinfo=UTC)
    parsed, _ = parse(
        "market_news",
        "newsapi",
        replies.NEWSAPI_EVERYTHING,
        item("everything:war", **{"from": first, "to": last}),
    )
    (row,) = parsed.rows  # the 2024 article lies outside the window
    assert row["published_at"] == datetime(2023, 11, 29, 7, 52, 18, 829428, tzinfo=UTC)


def test_newsapi_rate_limited_is_a_throttle_or_quota():
    outcome = newsapi.classify(request("newsapi"), reply(replies.NEWSAPI_RATE_LIMITED, 429))
    assert outcome.kind in (OutcomeKind.QUOTA, OutcomeKind.THROTTLED)


def test_fmp_constituents_and_the_legacy_refusal():
    parsed, _ = parse("sp500_companies", "fmp", replies.FMP_SP500, item(current=0))
    (row,) = parsed.rows
    assert row["symbol"] == "APO" and row["is_current"] is True
    assert fmp.classify(request("fmp"), reply(replies.FMP_LEGACY, 403)).kind is OutcomeKind.REFUSED


def test_x_user_lookup_and_the_http_200_not_found():
    parsed, _ = parse("x_user_profiles", "x", replies.X_USER, item("elonmusk"))
    (row,) = parsed.rows
    assert row["user_id"] == "44196397" and row["username"] == "elonmusk"
    assert x.classify(request("x"), reply(replies.X_UNKNOWN_USER)).kind is OutcomeKind.NOT_FOUND


def test_x_timeline_page_and_its_next_token():
    import json

    body = json.loads(replies.X_TIMELINE)
    rows, newest = x_timeline.parse_timeline(body, "44196397")
    assert newest == "1795123456789012345" and rows[0]["cashtags"][0]["tag"] == "TSLA"
    assert x_timeline.next_token(body) == "7140dibdnow9c7btw4b0vjn0hp4bmxz"
    follow = x_timeline.timeline_request(
        "44196397", since_id="1", start_time=None, pagination_token="7140dibdnow9c7btw4b0vjn0hp4bmxz"
    )
    assert (
        follow.params["pagination_token"] == "7140dibdnow9c7btw4b0vjn0hp4bmxz"
        and follow.params["since_id"] == "1"
    )


def test_truth_status_and_retruth_rows():
    import json

    from marketpipe.providers.truth_social.posts import parse_post

    original = parse_post(json.loads(replies.TRUTH_STATUS), "politician", 10)
    assert original is not None and original["reblog_of_id"] is None
    assert original["clean_content"] == "TARIFFS ARE WORKING! #MAGA"
    wrapper = parse_post(json.loads(replies.TRUTH_RETRUTH), "government", 8)
    assert wrapper is not None
    assert wrapper["id"] == "114589999999999999" and wrapper["username"] == "WhiteHouse"
    assert wrapper["content"] == original["content"] and wrapper["clean_content"] == original["clean_content"]
    assert wrapper["media_count"] == 1 and wrapper["tags"] == original["tags"]
    assert (wrapper["reblog_of_id"], wrapper["reblog_of_username"]) == (
        "114589123456789012",
        "realDonaldTrump",
    )
    assert wrapper["reblog_of_url"] == "https://truthsocial.com/@realDonaldTrump/114589123456789012"


def test_truth_trending_tags_history():
    parsed, _ = parse("truth_social_tags", "truth_social", replies.TRUTH_TRENDS, item())
    (row,) = parsed.rows
    assert (
        row["day_0_uses"] == 4272
        and row["day_1_uses"] == 2277
        and row["collected_date"] == date(2026, 11, 16)
    )


def test_bithumb_markets():
    parsed, _ = parse("market_code_bithumb", "bithumb", replies.BITHUMB_MARKETS, item())
    assert {r["market_code"] for r in parsed.rows} == {"KRW-BTC", "BTC-ETH"}


def test_coingecko_derivatives_price_is_text_and_global_is_keyed_on_the_interval():
    parsed, _ = parse("coingecko_derivatives", "coingecko", replies.COINGECKO_DERIVATIVES, item())
    (row,) = parsed.rows
    assert row["price"] == Decimal("77034.8") and row["batch_id"] == "20261116_000000"
    glob, _ = parse("coingecko_global", "coingecko", replies.COINGECKO_GLOBAL, item())
    assert glob.rows[0]["collected_at"] == datetime(2026, 11, 16, tzinfo=UTC)


def test_a_cdn_403_page_is_transient_and_a_json_403_is_a_refusal():
    page = reply(replies.CLOUDFLARE_CHALLENGE, 403, "text/html; charset=UTF-8")
    outcome = classify_status(page)
    assert (
        outcome is not None and outcome.kind is OutcomeKind.TRANSIENT and "Just a moment" in outcome.message
    )
    plan = classify_status(reply('{"Error Message": "Exclusive Endpoint"}', 403))
    assert plan is not None and plan.kind is OutcomeKind.REFUSED
