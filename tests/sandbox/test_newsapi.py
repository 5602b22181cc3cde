"""NewsAPI simulator against a real sandbox server (docs/providers.md §4)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

KEY = "newsapi-test-key"
SPEC_ARTICLE_KEYS = [
    "source",
    "author",
    "title",
    "description",
    "url",
    "urlToImage",
    "publishedAt",
    "content",
]
SEED_SOURCES = "bloomberg,reuters,cnbc,the-wall-street-journal,business-insider,financial-times"


@pytest.fixture
def news(sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url("newsapi"), timeout=10) as client:
        yield client


def _get(client: httpx.Client, path: str, **params: object) -> httpx.Response:
    return client.get(path, params={"apiKey": KEY, **params})


def _published(article: dict) -> datetime:
    # Tolerant parse: Z, +00:00 and 7-digit fractions all occur (docs/providers.md §4.2).
    text = article["publishedAt"].replace("Z", "+00:00")
    head, _, tail = text.partition(".")
    if tail:
        fraction, _, zone = tail.partition("+")
        text = f"{head}.{fraction[:6]}+{zone}"
    return datetime.fromisoformat(text)


def _live(articles: list[dict]) -> list[dict]:
    return [a for a in articles if a["title"] != "[Removed]"]


def test_everything_has_the_spec_shape_and_mentions_real_companies(sandbox, news: httpx.Client) -> None:
    doc = _get(news, "/everything", q="inflation", pageSize=50).json()
    assert list(doc) == ["status", "totalResults", "articles"]
    assert doc["status"] == "ok" and doc["totalResults"] >= len(doc["articles"]) > 0
    members = set(sandbox.admin.constituents())
    mentioning = 0
    for article in doc["articles"]:
        assert list(article) == SPEC_ARTICLE_KEYS
        assert set(article["source"]) == {"id", "name"}
        if article["title"] == "[Removed]":
            continue
        text = f"{article['title']} {article['description'] or ''} {article['content'] or ''}".lower()
        assert "inflation" in text
        if any(f"({symbol.lower()})" in text or f": {symbol.lower()})" in text for symbol in members):
            mentioning += 1
    assert mentioning > 0


def test_nullable_fields_and_varied_timestamps_occur(news: httpx.Client) -> None:
    articles = _get(news, "/everything", q="economy OR business OR technology", pageSize=100).json()[
        "articles"
    ]
    assert any(a["source"]["id"] is None for a in articles)
    assert any(a["author"] is None or a["description"] is None or a["urlToImage"] is None for a in articles)
    formats = {
        ("Z" if a["publishedAt"].endswith("Z") else "+") + str(len(a["publishedAt"])) for a in _live(articles)
    }
    assert len(formats) >= 2
    assert all(a["content"] is None or "[+" in a["content"] for a in _live(articles))


def test_from_to_window_and_sorting(sandbox, news: httpx.Client) -> None:
    yesterday = (sandbox.admin.now() - timedelta(days=1)).date().isoformat()
    doc = _get(
        news, "/everything", q="economy", sortBy="publishedAt", language="en", pageSize=30,
        **{"from": yesterday, "to": yesterday},
    ).json()  # fmt: skip
    live = _live(doc["articles"])
    assert live and all(_published(a).date().isoformat() == yesterday for a in live)
    times = [_published(a) for a in live]
    assert times == sorted(times, reverse=True)
    popular = _get(
        news, "/everything", q="economy", sortBy="popularity", **{"from": yesterday, "to": yesterday}
    )
    assert {a["url"] for a in popular.json()["articles"]} == {a["url"] for a in doc["articles"]}


def test_query_language_phrases_and_exclusions(news: httpx.Client) -> None:
    phrase = _live(_get(news, "/everything", q='"trade war"', pageSize=100).json()["articles"])
    assert phrase and all("trade war" in (a["title"] + (a["description"] or "")).lower() for a in phrase)
    both = _get(news, "/everything", q="tariff AND NOT Apple", pageSize=100).json()["articles"]
    assert all(
        "apple" not in (a["title"] + (a["description"] or "") + (a["content"] or "")).lower() for a in both
    )
    either = _get(news, "/everything", q="(nuclear OR military) -war", pageSize=100).json()
    assert either["totalResults"] > 0


def test_pages_are_disjoint_and_the_developer_cap_is_100_results(news: httpx.Client) -> None:
    first = _get(news, "/everything", q="technology", pageSize=20, page=1).json()
    second = _get(news, "/everything", q="technology", pageSize=20, page=2).json()
    assert first["totalResults"] == second["totalResults"] > 100
    assert not {a["url"] for a in first["articles"]} & {a["url"] for a in second["articles"]}
    assert _get(news, "/everything", q="technology", pageSize=20, page=5).status_code == 200
    capped = _get(news, "/everything", q="technology", pageSize=100, page=2)
    assert capped.status_code == 426
    assert capped.json() == {
        "status": "error",
        "code": "maximumResultsReached",
        "message": "You have requested too many results. Developer accounts are limited to a max of 100 results. "
        "You are trying to request results 100 to 200. Please upgrade to a paid plan if you need more results.",
    }


def test_history_is_limited_to_about_a_month(sandbox, news: httpx.Client) -> None:
    old = (sandbox.admin.now() - timedelta(days=45)).date().isoformat()
    reply = _get(news, "/everything", q="economy", **{"from": old})
    assert reply.status_code == 400
    body = reply.json()
    assert (
        body["code"] == "parameterInvalid"
        and "too far in the past" in body["message"]
        and old in body["message"]
    )


def test_everything_needs_a_scope(news: httpx.Client) -> None:
    reply = _get(news, "/everything", language="en")
    assert reply.status_code == 400 and reply.json()["code"] == "parametersMissing"


def test_top_headlines_by_country_category_and_sources(news: httpx.Client) -> None:
    business = _get(news, "/top-headlines", country="us", category="business", pageSize=100).json()
    assert business["status"] == "ok" and business["articles"]
    by_source = _get(news, "/top-headlines", sources=SEED_SOURCES, pageSize=20).json()
    assert 0 < len(by_source["articles"]) <= 20
    assert {a["source"]["id"] for a in by_source["articles"]} <= set(SEED_SOURCES.split(","))
    sources = _get(news, "/top-headlines/sources", category="business").json()
    assert sources["status"] == "ok" and all(s["category"] == "business" for s in sources["sources"])


def test_top_headlines_refusals(news: httpx.Client) -> None:
    mixed = _get(news, "/top-headlines", sources="bloomberg", country="us")
    assert (mixed.status_code, mixed.json()["code"]) == (400, "parametersIncompatible")
    assert _get(news, "/top-headlines").json()["code"] == "parametersMissing"
    assert (
        _get(news, "/top-headlines", category="politics", country="us").json()["code"] == "parameterInvalid"
    )
    unknown = _get(news, "/top-headlines", sources="no-such-source")
    assert (unknown.status_code, unknown.json()["code"]) == (400, "sourceDoesNotExist")
    too_many = _get(news, "/top-headlines", sources=",".join(["bloomberg"] * 21))
    assert too_many.json()["code"] == "sourcesTooMany"


def test_key_header_and_key_errors(sandbox, news: httpx.Client) -> None:
    assert news.get("/top-headlines", params={"country": "us"}, headers={"X-Api-Key": KEY}).status_code == 200
    missing = news.get("/top-headlines", params={"country": "us"})
    assert missing.status_code == 401 and missing.json()["code"] == "apiKeyMissing"
    assert missing.json()["status"] == "error"
    sandbox.admin.set_keys("newsapi", valid=[KEY])
    invalid = news.get("/top-headlines", params={"country": "us", "apiKey": "wrong"})
    assert invalid.status_code == 401 and invalid.json()["code"] == "apiKeyInvalid"


def test_fifty_requests_per_twelve_hours_then_rate_limited(sandbox, news: httpx.Client) -> None:
    sandbox.admin.set_clock(datetime(2026, 11, 16, 0, 30, tzinfo=UTC), rate=0)
    statuses = [_get(news, "/top-headlines", country="us", pageSize=1).status_code for _ in range(51)]
    assert statuses == [200] * 50 + [429]
    refused = _get(news, "/top-headlines", country="us").json()
    assert refused["code"] == "rateLimited" and "50 requests available every 12 hours" in refused["message"]
    sandbox.admin.advance(hours=12)
    assert _get(news, "/top-headlines", country="us").status_code == 200


def test_a_new_day_brings_new_articles(sandbox, news: httpx.Client) -> None:
    sandbox.admin.freeze()
    before = {
        a["url"] for a in _live(_get(news, "/top-headlines", country="us", pageSize=100).json()["articles"])
    }
    sandbox.admin.advance(days=2)
    after = {
        a["url"] for a in _live(_get(news, "/top-headlines", country="us", pageSize=100).json()["articles"])
    }
    assert after and not before & after


def test_server_error_fault_uses_the_error_envelope(sandbox, news: httpx.Client) -> None:
    sandbox.admin.add_fault("newsapi", "server_error", route="everything", count=1)
    reply = _get(news, "/everything", q="economy")
    assert reply.status_code == 500 and reply.json()["code"] == "unexpectedError"
