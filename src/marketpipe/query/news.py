"""News across every collected feed, deduplicated, newest first, with per-ticker sentiment.

Feeds (table → provider label):

- ``market_news_sentiment`` → ``alpha_vantage`` (scored by the provider per ticker);
- ``company_news`` → ``finnhub_company``; ``earnings_news_finnhub`` → ``finnhub_earnings``;
  ``market_news_finnhub`` → ``finnhub_market`` (``related`` lists its tickers);
- ``market_news`` → ``newsapi`` (no tickers: a ticker is "mentioned" when its symbol is a word of the
  title or description).

An article carried by several feeds (same URL once normalised, or same title once case and
punctuation are dropped) is one item listing every feed. Alpha Vantage's own ticker scores are kept;
every ticker of an article no provider scores gets our VADER score (:mod:`marketpipe.query.sentiment`).
Pages are keyset-paginated on ``(published_at, url)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from marketpipe.query import core, sentiment
from marketpipe.query.core import Source
from marketpipe.query.models import NewsItem, NewsPage, TickerSentiment

MAX_NEWS = 100
MAX_SUMMARY = 1000
MAX_TICKERS_SCORED = 10
_TRACKING = re.compile(r"^(utm_|fbclid$|gclid$|ref$|cmpid$)")
_TITLE_NOISE = re.compile(r"[^a-z0-9]+")

_PAGE = """AND (%(ts)s::timestamptz IS NULL OR {t} < %(ts)s OR ({t} = %(ts)s AND {u} < %(key)s))
           ORDER BY {t} DESC, {u} DESC LIMIT %(n)s"""


def _feeds(symbol: str | None) -> list[tuple[str, str]]:
    """(provider, SQL) per feed; each SQL selects title, url, source, published_at, summary, tickers,
    scores (AV's ticker_sentiment or NULL)."""
    sym_filter = symbol is not None
    av = f"""SELECT title, url, source, time_published AS published_at, summary,
                    NULL::text AS related, ticker_sentiment AS scores
               FROM (SELECT DISTINCT ON (url) * FROM market_news_sentiment
                      WHERE {"ticker_sentiment @> jsonb_build_array(jsonb_build_object('ticker', %(sym)s::text))" if sym_filter else "true"}
                      ORDER BY url, batch_id DESC) latest
              WHERE true {_PAGE.format(t="time_published", u="url")}"""
    company = f"""SELECT title, url, source, published_at, description AS summary,
                         symbol AS related, NULL::jsonb AS scores
                    FROM company_news
                   WHERE symbol = %(sym)s AND published_at IS NOT NULL AND title IS NOT NULL
                   {_PAGE.format(t="published_at", u="url")}"""
    earnings = f"""SELECT headline AS title, url, source, published_at, summary,
                          concat_ws(',', symbol, related) AS related, NULL::jsonb AS scores
                     FROM earnings_news_finnhub
                    WHERE symbol = %(sym)s AND headline IS NOT NULL
                    {_PAGE.format(t="published_at", u="url")}"""
    finnhub_market = f"""SELECT headline AS title, url, source, datetime AS published_at, summary, related,
                                NULL::jsonb AS scores
                           FROM market_news_finnhub
                          WHERE headline IS NOT NULL AND url IS NOT NULL
                            AND {"%(sym)s::text = ANY (string_to_array(replace(related, ' ', ''), ','))" if sym_filter else "true"}
                          {_PAGE.format(t="datetime", u="url")}"""
    newsapi = f"""SELECT title, url, source, published_at, description AS summary, NULL::text AS related,
                         NULL::jsonb AS scores
                    FROM market_news
                   WHERE {"(title ~ %(word)s OR description ~ %(word)s)" if sym_filter else "true"}
                   {_PAGE.format(t="published_at", u="url")}"""
    feeds = [("alpha_vantage", av), ("finnhub_market", finnhub_market), ("newsapi", newsapi)]
    if sym_filter:
        feeds[1:1] = [("finnhub_company", company), ("finnhub_earnings", earnings)]
    return feeds


def normalise_url(url: str) -> str:
    """The URL an article is known by: lower-case host, no fragment, no tracking parameters, no
    trailing slash, http and https alike."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if not _TRACKING.match(k)])
    return urlunsplit(("", parts.netloc.lower().removeprefix("www."), parts.path.rstrip("/"), query, ""))


def normalise_title(title: str) -> str:
    return _TITLE_NOISE.sub(" ", title.lower()).strip()


@dataclass
class _Article:
    title: str
    url: str
    source: str | None
    published_at: datetime
    summary: str | None
    providers: list[str] = field(default_factory=list)
    tickers: list[str] = field(default_factory=list)
    scored: dict[str, TickerSentiment] = field(default_factory=dict)


def _provider_scores(scores: Any) -> dict[str, TickerSentiment]:
    out: dict[str, TickerSentiment] = {}
    if not isinstance(scores, list):
        return out
    for entry in scores:
        if not isinstance(entry, dict) or not isinstance(entry.get("ticker"), str):
            continue
        try:
            value = float(entry.get("ticker_sentiment_score"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        try:
            relevance: float | None = float(entry.get("relevance_score"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            relevance = None
        ticker = entry["ticker"][:20]
        out[ticker] = TickerSentiment(
            ticker=ticker,
            score=value,
            label=str(entry.get("ticker_sentiment_label") or sentiment.label(value))[:40],
            relevance=relevance,
            model="alpha_vantage",
        )
    return out


def _tickers(related: str | None, text: str, symbol: str | None) -> list[str]:
    found = [symbol] if symbol else []
    if related:
        found += [t.strip().upper() for t in related.split(",") if core.SYMBOL_RE.match(t.strip())]
    found += sentiment.cashtags(text)
    return list(dict.fromkeys(found))[:MAX_TICKERS_SCORED]


async def news(
    src: Source, symbol: str | None = None, limit: int = 20, cursor: str | None = None
) -> NewsPage:
    """News for ``symbol`` (market news when ``None``)."""
    sym = core.symbol(symbol) if symbol is not None else None
    limit = core.limit(limit, MAX_NEWS)
    after = core.decode_cursor(cursor)
    fetch_n = limit * 2 + 5
    params = {
        "sym": sym,
        "word": rf"(^|[^A-Za-z0-9$])\$?{re.escape(sym)}([^A-Za-z0-9]|$)" if sym else None,
        "ts": after[0] if after else None,
        "key": after[1] if after else "",
        "n": fetch_n,
    }
    articles: list[_Article] = []
    more = False
    for provider, sql in _feeds(sym):
        rows = await src.rows(sql, params)
        more = more or len(rows) == fetch_n
        for r in rows:
            text = f"{r['title']}. {r['summary'] or ''}"
            article = _Article(
                title=r["title"],
                url=r["url"],
                source=r["source"],
                published_at=r["published_at"],
                summary=(r["summary"] or None) and r["summary"][:MAX_SUMMARY],
                providers=[provider],
                tickers=_tickers(r["related"], text, sym),
                scored=_provider_scores(r["scores"]),
            )
            articles.append(article)
    articles.sort(key=lambda a: (a.published_at, a.url), reverse=True)
    merged: list[_Article] = []
    by_key: dict[str, _Article] = {}
    for article in articles:
        keys = [f"u:{normalise_url(article.url)}", f"t:{normalise_title(article.title)}"]
        into = next((by_key[k] for k in keys if k in by_key), None)
        if into is None:
            merged.append(article)
            into = article
        else:
            into.providers = list(dict.fromkeys(into.providers + article.providers))
            into.tickers = list(dict.fromkeys(into.tickers + article.tickers))[:MAX_TICKERS_SCORED]
            into.scored = {**article.scored, **into.scored}
            into.summary = into.summary or article.summary
        for k in keys:
            by_key.setdefault(k, into)
    page = merged[:limit]
    items = [_item(a) for a in page]
    next_cursor = (
        core.encode_cursor(page[-1].published_at, page[-1].url)
        if page and (more or len(merged) > limit)
        else None
    )
    return NewsPage(symbol=sym, items=items, next_cursor=next_cursor)


def _item(article: _Article) -> NewsItem:
    scores = list(article.scored.values())
    if not article.scored:  # no provider scored this article: ours, per ticker it mentions
        text = f"{article.title}. {article.summary or ''}"
        scores = [
            TickerSentiment(ticker=t, score=s, label=lab, model="vader")
            for t, s, lab in sentiment.per_ticker(text, article.tickers)
        ]
    return NewsItem(
        title=article.title,
        url=article.url,
        source=article.source,
        published_at=article.published_at,
        summary=article.summary,
        providers=article.providers,
        sentiment=scores,
    )
