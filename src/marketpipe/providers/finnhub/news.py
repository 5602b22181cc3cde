"""Finnhub news requests and pure parsers (docs/providers.md §2.1–§2.2): ``/news`` by category
with the ``minId`` cursor, and ``/company-news`` per symbol and date window. Classification and auth are
:mod:`marketpipe.providers.finnhub.client`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from marketpipe.http.errors import MalformedResponse
from marketpipe.http.types import ApiRequest
from marketpipe.providers.base import clean_text, drop, to_int
from marketpipe.providers.finnhub.client import NAME

#: The market-news categories Finnhub serves.
MARKET_CATEGORIES = ("general", "forex", "crypto", "merger")


def market_news_request(category: str, min_id: int | None) -> ApiRequest:
    """``/news?category=…[&minId=…]``: only items with ``id`` > ``min_id``."""
    params = {"category": category}
    if min_id:
        params["minId"] = str(min_id)
    return ApiRequest(
        provider=NAME, path="/news", params=params, label=f"finnhub news {category} >{min_id or 0}"
    )


def company_news_request(symbol: str, first: date, last: date) -> ApiRequest:
    """``/company-news?symbol&from&to`` (publication dates, inclusive)."""
    return ApiRequest(
        provider=NAME,
        path="/company-news",
        params={"symbol": symbol, "from": first.isoformat(), "to": last.isoformat()},
        label=f"finnhub company-news {symbol} {first}..{last}",
    )


def _items(body: Any) -> list[dict[str, Any]]:
    if body is None or body == "":
        return []  # HTTP 204: nothing new
    if not isinstance(body, list):
        raise MalformedResponse(NAME, f"expected a list of news items, got {type(body).__name__}")
    return [item for item in body if isinstance(item, dict)]


def _epoch(value: Any) -> datetime | None:
    seconds = to_int(value)
    if seconds is None or seconds <= 0:
        return None
    return datetime.fromtimestamp(seconds, UTC)


def parse_market_news(body: Any, category: str) -> list[dict[str, Any]]:
    """``market_news_finnhub`` rows; items without ``id`` or ``datetime`` are dropped (seed rule).

    ``category`` is the requested category (the items' own ``category`` is often "top news").
    """
    rows: list[dict[str, Any]] = []
    for item in _items(body):
        news_id = to_int(item.get("id"))
        published = _epoch(item.get("datetime"))
        if news_id is None or published is None:
            drop("news item without id or valid datetime")
            continue
        rows.append(
            {
                "category": category,
                "news_id": news_id,
                "datetime": published,
                "headline": clean_text(item.get("headline")),
                "image": clean_text(item.get("image")),
                "related": clean_text(item.get("related")),
                "source": clean_text(item.get("source")),
                "summary": clean_text(item.get("summary")),
                "url": clean_text(item.get("url")),
            }
        )
    return rows


def parse_company_news(body: Any) -> list[dict[str, Any]]:
    """Company-news items as dicts with a UTC ``published_at`` (items without a url are dropped)."""
    found: list[dict[str, Any]] = []
    for item in _items(body):
        url = clean_text(item.get("url"))
        if url is None:
            drop("news item without url")
            continue
        found.append(
            {
                "id": to_int(item.get("id")),
                "category": clean_text(item.get("category")),
                "headline": clean_text(item.get("headline")),
                "image": clean_text(item.get("image")),
                "related": clean_text(item.get("related")),
                "source": clean_text(item.get("source")),
                "summary": clean_text(item.get("summary")),
                "url": url,
                "published_at": _epoch(item.get("datetime")),
            }
        )
    return found
