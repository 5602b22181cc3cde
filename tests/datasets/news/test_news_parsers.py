"""Pure parsers of the news providers on literal replies (docs/providers.md examples and quirks)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from marketpipe.http.errors import MalformedResponse
from marketpipe.providers.alpha_vantage import fundamentals as alpha_vantage_fundamentals
from marketpipe.providers.alpha_vantage import news as alpha_vantage_news
from marketpipe.providers.finnhub import news as finnhub_news
from marketpipe.providers.newsapi import news as newsapi_news


def test_finnhub_market_news_uses_the_requested_category_and_utc_seconds():
    body = [
        {
            "category": "top news",
            "datetime": 1763312400,
            "headline": "H",
            "id": 7555018,
            "image": "",
            "related": "",
            "source": "MarketWatch",
            "summary": "S",
            "url": "https://m.w/x",
        },
        {"category": "top news", "headline": "no time", "id": 1},
    ]
    rows = finnhub_news.parse_market_news(body, "general")
    assert len(rows) == 1
    assert rows[0]["category"] == "general" and rows[0]["news_id"] == 7555018
    assert rows[0]["datetime"] == datetime(2025, 11, 16, 17, 0, tzinfo=UTC)
    assert rows[0]["image"] is None  # "" is stored as NULL
    assert finnhub_news.parse_market_news(None, "forex") == []  # HTTP 204
    with pytest.raises(MalformedResponse):
        finnhub_news.parse_market_news({"error": "x"}, "forex")


def test_finnhub_requests_carry_the_cursor_only_when_set():
    assert "minId" not in finnhub_news.market_news_request("crypto", 0).params
    assert finnhub_news.market_news_request("crypto", 42).params["minId"] == "42"


def test_newsapi_drops_removed_placeholders_and_parses_seven_digit_fractions():
    body = {
        "status": "ok",
        "articles": [
            {
                "source": {"id": "bbc-news", "name": "BBC News"},
                "author": "BBC",
                "title": "T1",
                "description": None,
                "url": "http://b/1",
                "publishedAt": "2023-11-29T07:52:18.8294287Z",
                "content": None,
            },
            {
                "source": {"id": None, "name": "[Removed]"},
                "title": "[Removed]",
                "url": "https://removed.com",
                "publishedAt": "1970-01-01T00:00:00Z",
            },
            {
                "source": {"id": None, "name": "NYP"},
                "title": "T2",
                "url": "http://n/2",
                "publishedAt": "2024-10-24T11:00:00+00:00",
            },
        ],
    }
    rows = newsapi_news.parse_articles(body)
    assert [r["title"] for r in rows] == ["T1", "T2"]
    assert rows[0]["published_at"] == datetime(2023, 11, 29, 7, 52, 18, 829428, tzinfo=UTC)
    assert rows[1]["source"] == "NYP" and rows[1]["author"] is None


def test_newsapi_has_no_politics_category():
    with pytest.raises(ValueError):
        newsapi_news.headlines_request(category="politics")
    request = newsapi_news.headlines_request(sources=["reuters", "cnbc"])
    assert request.params == {"sources": "reuters,cnbc", "pageSize": "100"}


def test_news_sentiment_keeps_av_keys_and_values():
    body = {
        "items": "1",
        "feed": [
            {
                "title": "Apple",
                "url": "https://b/1",
                "time_published": "20251106T150118",
                "authors": ["A", "B"],
                "summary": "s",
                "source": "Benzinga",
                "overall_sentiment_score": 0.249276,
                "overall_sentiment_label": "Somewhat-Bullish",
                "topics": [{"topic": "Earnings", "relevance_score": "0.875462"}],
                "ticker_sentiment": [
                    {
                        "ticker": "AAPL",
                        "relevance_score": "0.480056",
                        "ticker_sentiment_score": "0.303491",
                        "ticker_sentiment_label": "Somewhat-Bullish",
                    }
                ],
            }
        ],
    }
    (row,) = alpha_vantage_news.parse_news_sentiment(body)
    assert row["time_published"] == datetime(2025, 11, 6, 15, 1, 18, tzinfo=UTC)
    assert row["authors"] == "A, B" and row["overall_sentiment_score"] == Decimal("0.249276")
    assert row["ticker_sentiment"] == body["feed"][0]["ticker_sentiment"]
    assert row["topics"] == [{"topic": "Earnings", "relevance_score": "0.875462"}]
    nothing = {"Information": "No articles found. Please adjust the time range ..."}
    assert alpha_vantage_news.parse_news_sentiment(nothing) == []


def test_etf_profile_numbers_from_strings():
    body = {
        "net_assets": "381396293226",
        "net_expense_ratio": "0.0008",
        "portfolio_turnover": "n/a",
        "dividend_yield": "0.0177",
        "inception_date": "1998-12-16",
        "leveraged": "NO",
        "sectors": [{"sector": "INFORMATION TECHNOLOGY", "weight": "1.000"}],
        "holdings": [{"symbol": "TXN", "description": "TEXAS INSTRUMENTS", "weight": "0.13"}],
    }
    row = alpha_vantage_fundamentals.parse_etf_profile(body, "XLK")
    assert row["net_assets"] == 381396293226 and row["portfolio_turnover"] is None
    assert row["holdings"] == [{"symbol": "TXN", "description": "TEXAS INSTRUMENTS", "weight": 0.13}]
    with pytest.raises(MalformedResponse):
        alpha_vantage_fundamentals.parse_etf_profile({}, "ZZZ")
