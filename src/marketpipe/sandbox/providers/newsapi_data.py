"""Deterministic NewsAPI articles, the source list and the ``q`` query language (docs/providers.md §4).

A day's articles are a pure function of (seed, day, companies): the same query on the same sandbox day
returns the same articles, and a new day brings new ones. Titles mention real companies and tickers
and the macro keywords the collection plans search for.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol


class CompanyLike(Protocol):
    """What the article generator needs to know about a listed company."""

    @property
    def symbol(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def sector(self) -> str: ...


@dataclass(frozen=True)
class NewsSource:
    """A publisher; ``source_id`` is None for sources outside NewsAPI's curated list."""

    source_id: str | None
    name: str
    domain: str
    category: str
    language: str
    country: str
    description: str


SOURCES: tuple[NewsSource, ...] = (
    NewsSource("bloomberg", "Bloomberg", "bloomberg.com", "business", "en", "us",
               "Bloomberg delivers business and markets news, data, analysis, and video to the world."),
    NewsSource("reuters", "Reuters", "reuters.com", "general", "en", "us",
               "Reuters.com brings you the latest news from around the world."),
    NewsSource("cnbc", "CNBC", "cnbc.com", "business", "en", "us",
               "Get latest business news on stock markets, financial & earnings on CNBC."),
    NewsSource("the-wall-street-journal", "The Wall Street Journal", "wsj.com", "business", "en", "us",
               "WSJ online coverage of breaking news and current headlines from the US and around the world."),
    NewsSource("business-insider", "Business Insider", "businessinsider.com", "business", "en", "us",
               "Business Insider is a fast-growing business site with deep financial, media, tech coverage."),
    NewsSource("financial-times", "Financial Times", "ft.com", "business", "en", "gb",
               "The latest UK and international business, finance, economic and political news."),
    NewsSource("techcrunch", "TechCrunch", "techcrunch.com", "technology", "en", "us",
               "TechCrunch is a leading technology media property."),
    NewsSource("the-verge", "The Verge", "theverge.com", "technology", "en", "us",
               "The Verge covers the intersection of technology, science, art, and culture."),
    NewsSource("bbc-news", "BBC News", "bbc.co.uk", "general", "en", "gb",
               "Use BBC News for up-to-the-minute news, breaking news, video, audio and feature stories."),
    NewsSource("associated-press", "Associated Press", "apnews.com", "general", "en", "us",
               "The AP delivers in-depth coverage on the international, politics, lifestyle, business news."),
    NewsSource("fortune", "Fortune", "fortune.com", "business", "en", "us",
               "Fortune 500 Daily and Breaking Business News."),
    NewsSource("handelsblatt", "Handelsblatt", "handelsblatt.com", "business", "de", "de",
               "Auf Handelsblatt lesen sie Nachrichten über Unternehmen, Finanzen, Politik und Technik."),
    NewsSource("les-echos", "Les Echos", "lesechos.fr", "business", "fr", "fr",
               "Toute l'actualité économique, financière et boursière française et internationale."),
    NewsSource(None, "Yahoo Entertainment", "yahoo.com", "general", "en", "us", ""),
    NewsSource(None, "Investopedia", "investopedia.com", "business", "en", "us", ""),
    NewsSource(None, "Seeking Alpha", "seekingalpha.com", "business", "en", "us", ""),
    NewsSource(None, "Forbes", "forbes.com", "business", "en", "us", ""),
    NewsSource(None, "New York Post", "nypost.com", "general", "en", "us", ""),
)  # fmt: skip
SOURCES_BY_ID = {source.source_id: source for source in SOURCES if source.source_id}
CATEGORIES = ("business", "entertainment", "general", "health", "science", "sports", "technology")
LANGUAGES = ("ar", "de", "en", "es", "fr", "he", "it", "nl", "no", "pt", "ru", "sv", "ud", "zh")

#: Macro topics; the seed's NewsAPI plan searches exactly these keywords (docs/seed.md §2e).
TOPICS = (
    "economy", "business", "technology", "IPO", "inflation", "tariff", "trade war", "sanctions", "war",
    "politics", "election", "government policy", "congress", "diplomatic", "nuclear", "military",
)  # fmt: skip
_COMPANY_TITLES = (
    "{name} ({symbol}) stock jumps as {topic} worries ease",
    "{name} shares slide after {topic} headlines",
    "{name} beats estimates; {symbol} rises in extended trading",
    "Why {name} ({symbol}) could be the next big {sector} winner",
    "{name} CEO warns of {topic} impact on {sector} outlook",
    "Analysts raise price targets on {name} amid {topic} debate",
)
_MACRO_TITLES = (
    "Markets brace for {topic} news as investors weigh the outlook",
    "What the latest {topic} developments mean for your portfolio",
    "{topic_title} fears rattle Wall Street; S&P 500 slips",
    "Live updates: stocks, bonds react to {topic} headlines",
    "Economists see {topic} shaping the economy into next year",
)
_AUTHORS = ("Jane Doe", "John Smith", "Reuters Staff", "Emily Chen", "Carlos Ruiz", "Priya Natarajan", None)
ARTICLES_PER_WEEKDAY = 80
ARTICLES_PER_WEEKEND_DAY = 35
REMOVED_SHARE = 0.02


@dataclass(frozen=True)
class Article:
    """One generated article with the hidden facts the filters need."""

    source: NewsSource
    published: datetime  # the real publication time (filters use this)
    payload: dict[str, Any]  # the reply object exactly as NewsAPI renders it
    text_title: str
    text_description: str
    text_content: str
    popularity: float


def _rng(*parts: object) -> random.Random:
    return random.Random(":".join(str(p) for p in parts))


def _render_published(moment: datetime, style: int) -> str:
    # publishedAt formats vary on the real API: Z, +00:00 and 7-digit fractional seconds.
    if style == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    if style == 1:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}7Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80]


def _removed_payload() -> dict[str, Any]:
    return {
        "source": {"id": None, "name": "[Removed]"},
        "author": None,
        "title": "[Removed]",
        "description": "[Removed]",
        "url": "https://removed.com",
        "urlToImage": None,
        "publishedAt": "1970-01-01T00:00:00Z",
        "content": "[Removed]",
    }


def _article(rng: random.Random, day: date, index: int, companies: Sequence[CompanyLike]) -> Article:
    source = rng.choice(SOURCES)
    topic = rng.choice(TOPICS)
    company = companies[rng.randrange(len(companies))]
    fields = {
        "name": company.name,
        "symbol": company.symbol,
        "sector": company.sector.lower(),
        "topic": topic,
        "topic_title": topic[:1].upper() + topic[1:],
    }
    about_company = rng.random() < 0.6
    title = rng.choice(_COMPANY_TITLES if about_company else _MACRO_TITLES).format(**fields)
    description = (
        f"{company.name} (NYSE/NASDAQ: {company.symbol}) and the wider {fields['sector']} sector were in focus "
        f"as investors followed {topic} news."
        if about_company
        else f"Investors followed {topic} news closely on {day.strftime('%A')}, weighing the economy and rates."
    )
    body = (
        f"{description} Analysts said the {topic} story could shape the market for weeks.\r\n"
        f"<ul><li>{company.name} ({company.symbol}) traded actively.</li></ul> More details followed in the session."
    )
    full_length = len(body) + rng.randrange(800, 6000)
    published = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
        seconds=rng.randrange(0, 86400), microseconds=rng.randrange(0, 1_000_000)
    )
    slug = _slug(title)
    payload: dict[str, Any] = {
        "source": {"id": source.source_id, "name": source.name},
        "author": rng.choice(_AUTHORS),
        "title": f"{title} - {source.name}" if source.source_id is None else title,
        "description": description if rng.random() > 0.08 else None,
        "url": f"https://www.{source.domain}/{day.isoformat().replace('-', '/')}/{slug}-{index}",
        "urlToImage": f"https://images.{source.domain}/{slug[:24]}-{index}.jpg"
        if rng.random() > 0.12
        else None,
        "publishedAt": _render_published(published, rng.randrange(3)),
        "content": f"{body[:200]}… [+{full_length - 200} chars]" if rng.random() > 0.05 else None,
    }
    if rng.random() < REMOVED_SHARE:
        payload = _removed_payload()
    return Article(
        source=source,
        published=published,
        payload=payload,
        text_title=payload["title"] or "",
        text_description=payload["description"] or "",
        text_content=payload["content"] or "",
        popularity=rng.random(),
    )


@lru_cache(maxsize=128)
def _day_articles(day: date, seed: int, companies: tuple[Any, ...]) -> tuple[Article, ...]:
    rng = _rng("newsapi", seed, day.isoformat())
    count = ARTICLES_PER_WEEKDAY if day.weekday() < 5 else ARTICLES_PER_WEEKEND_DAY
    return tuple(_article(rng, day, index, companies) for index in range(count))


def articles_between(
    first: datetime,
    last: datetime,
    now: datetime,
    seed: int,
    companies_on: Callable[[date], Sequence[CompanyLike]],
) -> list[Article]:
    """All articles published in [first, last] and not after ``now``, newest first.

    A day's articles are about the companies listed that day (``companies_on``), so an index change
    never rewrites past news.
    """
    out: list[Article] = []
    day = first.date()
    while day <= min(last, now).date():
        out.extend(
            article
            for article in _day_articles(day, seed, tuple(companies_on(day)))
            if first <= article.published <= last and article.published <= now
        )
        day += timedelta(days=1)
    out.sort(key=lambda article: article.published, reverse=True)
    return out


# -- the q query language ---------------------------------------------------------------------------

_TOKEN = re.compile(r'\s*(?:(\()|(\))|"([^"]*)"|([+-]?)([^\s()"]+))')


class QueryError(ValueError):
    """``q`` could not be parsed (unbalanced parentheses or quotes)."""


@dataclass(frozen=True)
class _Term:
    text: str
    required: bool = False
    excluded: bool = False


def _tokens(query: str) -> list[object]:
    tokens: list[object] = []
    position = 0
    query = query.strip()
    while position < len(query):
        match = _TOKEN.match(query, position)
        if not match or match.end() == position:
            raise QueryError(f"cannot parse q near position {position}")
        position = match.end()
        open_paren, close_paren, phrase, sign, word = match.groups()
        if open_paren:
            tokens.append("(")
        elif close_paren:
            tokens.append(")")
        elif phrase is not None:
            tokens.append(_Term(phrase.lower()))
        elif word in {"AND", "OR", "NOT"} and not sign:
            tokens.append(word)
        else:
            tokens.append(_Term(word.lower(), required=sign == "+", excluded=sign == "-"))
    return tokens


class Query:
    """A parsed NewsAPI ``q``: phrases, ``+must``, ``-exclude``, AND/OR/NOT and parentheses.

    Adjacent terms without an operator are ANDed (NewsAPI's default).
    """

    def __init__(self, text: str) -> None:
        if len(text) > 500:
            raise QueryError("q is longer than 500 characters")
        self._tokens = _tokens(text)
        self._position = 0
        self._tree = self._or() if self._tokens else ("all",)
        if self._position != len(self._tokens):
            raise QueryError("unbalanced parentheses in q")

    def _peek(self) -> object | None:
        return self._tokens[self._position] if self._position < len(self._tokens) else None

    def _or(self) -> tuple[Any, ...]:
        left = self._and()
        while self._peek() == "OR":
            self._position += 1
            left = ("or", left, self._and())
        return left

    def _and(self) -> tuple[Any, ...]:
        left = self._not()
        while self._peek() not in (None, ")", "OR"):
            if self._peek() == "AND":
                self._position += 1
            left = ("and", left, self._not())
        return left

    def _not(self) -> tuple[Any, ...]:
        if self._peek() == "NOT":
            self._position += 1
            return ("not", self._not())
        return self._atom()

    def _atom(self) -> tuple[Any, ...]:
        token = self._peek()
        if token == "(":
            self._position += 1
            inner = self._or()
            if self._peek() != ")":
                raise QueryError("unbalanced parentheses in q")
            self._position += 1
            return inner
        if isinstance(token, _Term):
            self._position += 1
            node: tuple[Any, ...] = ("term", token.text)
            return ("not", node) if token.excluded else node
        raise QueryError("q has an operator without a term")

    def matches(self, text: str) -> bool:
        """Whether ``text`` (any case) satisfies the query."""
        return self._eval(self._tree, text.lower())

    def score(self, text: str) -> int:
        """How many query terms occur in ``text`` (for ``sortBy=relevancy``)."""
        lowered = text.lower()
        return sum(lowered.count(token.text) for token in self._tokens if isinstance(token, _Term))

    def _eval(self, node: tuple[Any, ...], text: str) -> bool:
        kind = node[0]
        if kind == "all":
            return True
        if kind == "term":
            return _contains_word(text, node[1])
        if kind == "not":
            return not self._eval(node[1], text)
        if kind == "and":
            return self._eval(node[1], text) and self._eval(node[2], text)
        return self._eval(node[1], text) or self._eval(node[2], text)


@lru_cache(maxsize=512)
def _word_pattern(term: str) -> re.Pattern[str]:
    return re.compile(r"(?<![a-z0-9])" + re.escape(term) + r"(?![a-z0-9])")


def _contains_word(text: str, term: str) -> bool:
    return bool(_word_pattern(term).search(text))


def searchable_text(article: Article, search_in: Sequence[str] | None) -> str:
    """The article text ``q`` is matched against (``searchIn`` limits the fields)."""
    fields = search_in or ("title", "description", "content")
    parts = {
        "title": article.text_title,
        "description": article.text_description,
        "content": article.text_content,
    }
    return "\n".join(parts[field] for field in fields if field in parts)
