"""NewsAPI requests and pure parsers (docs/providers.md §4): ``/top-headlines`` and
``/everything`` with the Developer plan's 100-result cap, articles mapped to ``market_news`` rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from marketpipe.http.errors import MalformedResponse
from marketpipe.http.types import ApiRequest
from marketpipe.providers.base import clean_text, drop
from marketpipe.providers.newsapi.client import NAME

#: The categories ``/top-headlines`` accepts (there is no 'politics').
CATEGORIES = frozenset({"business", "entertainment", "general", "health", "science", "sports", "technology"})
#: The Developer plan serves at most 100 results per query: one page of 100 is everything.
PAGE_SIZE = 100
REMOVED = "[Removed]"


def headlines_request(*, category: str | None = None, sources: list[str] | None = None) -> ApiRequest:
    """``/top-headlines`` for a US category, or for a list of source ids (never both)."""
    if sources:
        params = {"sources": ",".join(sources), "pageSize": str(PAGE_SIZE)}
        label = f"newsapi headlines sources={len(sources)}"
    else:
        if category not in CATEGORIES:
            raise ValueError(f"{category!r} is not a NewsAPI category")
        params = {"category": category, "country": "us", "language": "en", "pageSize": str(PAGE_SIZE)}
        label = f"newsapi headlines {category}"
    return ApiRequest(provider=NAME, path="/top-headlines", params=params, label=label)


def everything_request(
    query: str, first: datetime, last: datetime, sort_by: str = "popularity"
) -> ApiRequest:
    """``/everything`` for ``query`` published in [first, last) (ISO 8601 instants, UTC)."""
    return ApiRequest(
        provider=NAME,
        path="/everything",
        params={
            "q": query,
            "from": _iso(first),
            "to": _iso(last - timedelta(seconds=1)),  # NewsAPI's "to" is inclusive
            "sortBy": sort_by,
            "language": "en",
            "pageSize": str(PAGE_SIZE),
        },
        label=f"newsapi everything {query!r} {_iso(first)}..{_iso(last)}",
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def parse_published(value: Any) -> datetime | None:
    """``publishedAt`` in its observed spellings (``Z``, ``+00:00``, 7-digit fractions) as UTC."""
    text = clean_text(value)
    if text is None:
        return None
    text = text.replace("Z", "+00:00")
    main, sep, rest = text.partition(".")
    if sep:  # trim fractional seconds to microseconds, keep the offset
        digits = "".join(ch for ch in rest if ch.isdigit())
        offset = rest[len(digits) :]
        text = f"{main}.{digits[:6].ljust(6, '0')}{offset}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_articles(body: Any) -> list[dict[str, Any]]:
    """``market_news`` rows. Placeholders of taken-down articles ("[Removed]") and rows without
    source, url, title or a valid time are dropped."""
    if not isinstance(body, dict) or not isinstance(body.get("articles"), list):
        raise MalformedResponse(NAME, "reply has no 'articles' list")
    rows: list[dict[str, Any]] = []
    for article in body["articles"]:
        if not isinstance(article, dict):
            drop("article is not an object")
            continue
        raw_source = article.get("source")
        source: dict[str, Any] = raw_source if isinstance(raw_source, dict) else {}
        source_name = clean_text(source.get("name"))
        title = clean_text(article.get("title"))
        url = clean_text(article.get("url"))
        published = parse_published(article.get("publishedAt"))
        if (
            not source_name
            or not title
            or not url
            or published is None
            or REMOVED in (source_name, title)
            or published.year < 2000
        ):
            drop("article without title, url or valid publishedAt (or removed)")
            continue
        rows.append(
            {
                "source": source_name,
                "url": url,
                "author": clean_text(article.get("author")),
                "title": title,
                "description": clean_text(article.get("description")),
                "content": clean_text(article.get("content")),
                "published_at": published,
            }
        )
    return rows
