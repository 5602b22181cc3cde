"""Alpha Vantage NEWS_SENTIMENT parser (docs/providers.md §1.2–§1.3). Requests are built with
:func:`marketpipe.providers.alpha_vantage.client.request`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marketpipe.http.errors import MalformedResponse
from marketpipe.providers.alpha_vantage.client import NAME
from marketpipe.providers.base import clean_text, drop, to_decimal

#: The element keys AV uses inside ``ticker_sentiment`` / ``topics`` (the backend reads them verbatim).
TICKER_SENTIMENT_KEYS = ("ticker", "relevance_score", "ticker_sentiment_score", "ticker_sentiment_label")
TOPIC_KEYS = ("topic", "relevance_score")


def parse_time_published(value: Any) -> datetime | None:
    """``YYYYMMDDTHHMMSS`` (UTC, no zone; ``HHMM`` also seen) → aware datetime."""
    text = clean_text(value)
    if text is None:
        return None
    for fmt in ("%Y%m%dT%H%M%S", "%Y%m%dT%H%M"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _keep_keys(elements: Any, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """AV's list elements with exactly AV's keys and values (scores stay as AV sent them)."""
    if not isinstance(elements, list):
        return []
    return [{k: e[k] for k in keys if k in e} for e in elements if isinstance(e, dict)]


def parse_news_sentiment(body: Any) -> list[dict[str, Any]]:
    """``market_news_sentiment`` rows (without batch/query columns) from a NEWS_SENTIMENT reply.

    A "No articles found" reply (an ``Information`` the classifier lets through) gives ``[]``.
    Articles need ``title``, ``url`` and a parseable ``time_published``.
    """
    if not isinstance(body, dict):
        raise MalformedResponse(NAME, "NEWS_SENTIMENT reply is not an object")
    if "feed" not in body:
        if "Information" in body:
            return []
        raise MalformedResponse(NAME, "NEWS_SENTIMENT reply has no 'feed'")
    feed = body["feed"]
    if not isinstance(feed, list):
        raise MalformedResponse(NAME, "'feed' is not a list")
    rows: list[dict[str, Any]] = []
    for article in feed:
        if not isinstance(article, dict):
            drop("feed entry is not an object")
            continue
        title, url = clean_text(article.get("title")), clean_text(article.get("url"))
        published = parse_time_published(article.get("time_published"))
        if not title or not url or published is None:
            drop("article without title, url or valid time_published")
            continue
        authors = article.get("authors")
        rows.append(
            {
                "title": title,
                "url": url,
                "time_published": published,
                "authors": ", ".join(str(a) for a in authors)
                if isinstance(authors, list) and authors
                else None,
                "summary": clean_text(article.get("summary")),
                "source": clean_text(article.get("source")),
                "overall_sentiment_score": to_decimal(article.get("overall_sentiment_score")),
                "overall_sentiment_label": clean_text(article.get("overall_sentiment_label")),
                "ticker_sentiment": _keep_keys(article.get("ticker_sentiment"), TICKER_SENTIMENT_KEYS),
                "topics": _keep_keys(article.get("topics"), TOPIC_KEYS),
            }
        )
    return rows
