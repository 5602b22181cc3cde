"""The simulated world every provider answers from: companies, prices, statements, news, macro.

Everything is a pure function of (seed, what, when): a value for a symbol on a day is computed from a
random stream seeded by ``(seed, symbol, ...)``, so replies are cheap, reproducible and agree across
providers (Finnhub's quote and Alpha Vantage's gainers see the same prices). Only what is at or before
the simulated clock's "now" is visible; a new simulated day brings new prices, news and reports.

Provider modules use the public methods of :class:`World` (``call.world`` inside a route).
"""

from __future__ import annotations

import csv
import hashlib
import math
import random
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any, Protocol

#: US regular session in UTC (fixed, DST ignored: 09:30–16:00 US/Eastern standard time).
SESSION_OPEN_S = 14 * 3600 + 30 * 60
SESSION_CLOSE_S = 21 * 3600
#: The trend of every price series passes through the company's seeded reference price on this day.
PRICE_REFERENCE_DAY = date(2026, 1, 2)
#: The bundled constituents list describes the index as of this day; scheduled changes come after it.
MEMBERSHIP_EPOCH = date(2026, 9, 1)


class Clock(Protocol):
    def timestamp(self) -> float: ...


def stable_int(*parts: object) -> int:
    """A 64-bit integer that depends only on ``parts`` (unlike ``hash``, stable across processes)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def day_of(ts: float) -> date:
    """The UTC calendar day of Unix time ``ts``."""
    return datetime.fromtimestamp(ts, UTC).date()


def day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def is_trading_day(day: date) -> bool:
    """Weekdays trade (holidays are not simulated)."""
    return day.weekday() < 5


def previous_trading_day(day: date) -> date:
    day -= timedelta(days=1)
    while not is_trading_day(day):
        day -= timedelta(days=1)
    return day


def last_trading_day(day: date) -> date:
    """``day`` itself if it trades, else the trading day before it."""
    return day if is_trading_day(day) else previous_trading_day(day)


@dataclass(frozen=True)
class Company:
    """One listed company (S&P 500 member or a candidate that may join)."""

    symbol: str
    name: str
    sector: str  # GICS sector
    sub_industry: str
    headquarters: str
    date_added: str
    cik: str  # not zero-padded
    founded: str


# Real US-listed companies outside the bundled list that the simulated index may add at a rebalance.
_CANDIDATES: tuple[Company, ...] = (
    Company("ARES", "Ares Management", "Financials", "Asset Management & Custody Banks",
            "Los Angeles, California", "", "1176948", "1997"),
    Company("RBLX", "Roblox Corporation", "Communication Services", "Interactive Home Entertainment",
            "San Mateo, California", "", "1315098", "2004"),
    Company("MRVL", "Marvell Technology", "Information Technology", "Semiconductors",
            "Santa Clara, California", "", "1835632", "1995"),
    Company("SNOW", "Snowflake Inc.", "Information Technology", "Internet Services & Infrastructure",
            "Bozeman, Montana", "", "1640147", "2012"),
    Company("ALNY", "Alnylam Pharmaceuticals", "Health Care", "Biotechnology",
            "Cambridge, Massachusetts", "", "1178670", "2002"),
    Company("CVNA", "Carvana", "Consumer Discretionary", "Automotive Retail",
            "Tempe, Arizona", "", "1690820", "2012"),
    Company("NTRA", "Natera", "Health Care", "Life Sciences Tools & Services",
            "Austin, Texas", "", "1604821", "2004"),
    Company("CHWY", "Chewy", "Consumer Discretionary", "Internet & Direct Marketing Retail",
            "Plantation, Florida", "", "1766502", "2011"),
    Company("ROKU", "Roku, Inc.", "Communication Services", "Movies & Entertainment",
            "San Jose, California", "", "1428439", "2002"),
    Company("MKL", "Markel Group", "Financials", "Property & Casualty Insurance",
            "Glen Allen, Virginia", "", "1096343", "1930"),
)  # fmt: skip


@lru_cache(maxsize=1)
def bundled_constituents() -> tuple[Company, ...]:
    """The S&P 500 list shipped with the sandbox (``data/sp500_constituents.csv``)."""
    text = resources.files("marketpipe.sandbox").joinpath("data/sp500_constituents.csv").read_text("utf-8")
    rows = csv.DictReader(text.splitlines())
    return tuple(
        Company(
            symbol=r["Symbol"],
            name=r["Security"],
            sector=r["GICS Sector"],
            sub_industry=r["GICS Sub-Industry"],
            headquarters=r["Headquarters Location"],
            date_added=r["Date added"],
            cik=r["CIK"],
            founded=r["Founded"],
        )
        for r in rows
    )


@dataclass(frozen=True)
class MembershipChange:
    """A constituent joining (``added``) or leaving (``removed``) the index on ``day``."""

    day: date
    action: str  # "added" | "removed"
    company: Company
    reason: str = ""


@dataclass(frozen=True)
class Quote:
    """A price snapshot of one symbol at one moment."""

    symbol: str
    price: float
    open: float
    high: float
    low: float
    prev_close: float
    volume: int
    ts: float  # Unix seconds of the snapshot

    @property
    def change(self) -> float:
        return self.price - self.prev_close

    @property
    def change_pct(self) -> float:
        return (self.price / self.prev_close - 1.0) * 100.0 if self.prev_close else 0.0


class World:
    """The seeded simulated world. Thread-safe; cheap to query; only ``reset`` forgets caches."""

    def __init__(self, seed: int, clock: Clock) -> None:
        self.seed = seed
        self.clock = clock
        self._lock = threading.RLock()
        self._manual_changes: list[MembershipChange] = []
        # Bumped on every membership edit (and reset) so caches keyed by it never serve stale members.
        self.membership_version = 0
        self._companies = {c.symbol: c for c in (*bundled_constituents(), *_CANDIDATES)}
        self._schedule = self._seeded_schedule()
        self._shapes: dict[str, tuple[float, float, float, tuple[tuple[float, float, float], ...]]] = {}
        self._paths: dict[tuple[str, int], tuple[float, float, list[float]]] = {}

    # -- randomness ------------------------------------------------------------------------
    def rng(self, *parts: object) -> random.Random:
        """A random stream that depends only on the seed and ``parts`` (e.g. ``("news", day)``)."""
        return random.Random(stable_int(self.seed, *parts))

    def unit(self, *parts: object) -> float:
        """A stable uniform number in [0, 1) for ``parts``."""
        return stable_int(self.seed, *parts) / 2.0**64

    # -- time -------------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock.timestamp()

    def today(self) -> date:
        return day_of(self.clock.timestamp())

    def reset(self) -> None:
        """Forget admin-made changes (the seeded world itself never changes)."""
        with self._lock:
            self._manual_changes.clear()
            self.membership_version += 1

    # -- companies and index membership ------------------------------------------------------
    def company(self, symbol: str) -> Company | None:
        """Any company the world knows (member, former member or candidate), by symbol."""
        return self._companies.get(symbol.upper())

    def known_symbols(self) -> list[str]:
        return sorted(self._companies)

    def scheduled_changes(self, until: date) -> list[MembershipChange]:
        """Seeded rebalances up to ``until``: one swap on each quarter's third Friday after MEMBERSHIP_EPOCH.

        Joiners come from a small pool of real non-member companies, so the schedule ends when the pool
        is used up (about two and a half years of quarters).
        """
        return [c for c in self._schedule if c.day <= until]

    def _seeded_schedule(self) -> tuple[MembershipChange, ...]:
        changes: list[MembershipChange] = []
        members = {c.symbol for c in bundled_constituents()}
        candidates = [c for c in _CANDIDATES if c.symbol not in members]
        year, month = MEMBERSHIP_EPOCH.year, MEMBERSHIP_EPOCH.month
        while candidates:
            if month % 3 == 0:
                day = _third_friday(year, month)
                if day >= MEMBERSHIP_EPOCH:
                    rng = self.rng("rebalance", day.isoformat())
                    leaving = sorted(members)[rng.randrange(len(members))]
                    joining = candidates.pop(rng.randrange(len(candidates)))
                    members.discard(leaving)
                    members.add(joining.symbol)
                    joined = Company(**{**joining.__dict__, "date_added": day.isoformat()})
                    self._companies[joined.symbol] = joined
                    changes.append(MembershipChange(day, "removed", self._companies[leaving], "rebalance"))
                    changes.append(MembershipChange(day, "added", joined, "rebalance"))
            month += 1
            if month > 12:
                year, month = year + 1, 1
        return tuple(changes)

    def membership_changes(self, until: date | None = None) -> list[MembershipChange]:
        """Scheduled and admin-made changes up to ``until`` (default: today), oldest first."""
        until = until or self.today()
        with self._lock:
            manual = [c for c in self._manual_changes if c.day <= until]
        return sorted((*self.scheduled_changes(until), *manual), key=lambda c: (c.day, c.action))

    def constituents(self, day: date | None = None) -> list[Company]:
        """The index members on ``day`` (default: today), sorted by symbol."""
        day = day or self.today()
        with self._lock:
            version = self.membership_version
        return list(self._membership_cache(day, version))

    @lru_cache(maxsize=64)  # noqa: B019 - the world lives as long as the app; the cache is bounded
    def _membership_cache(self, day: date, version: int) -> tuple[Company, ...]:
        members = {c.symbol: c for c in bundled_constituents()}
        for change in self.membership_changes(day):
            if change.action == "removed":
                members.pop(change.company.symbol, None)
            else:
                members[change.company.symbol] = change.company
        return tuple(members[s] for s in sorted(members))

    def change_membership(
        self, *, add: Company | None = None, remove: str | None = None, day: date | None = None
    ) -> list[MembershipChange]:
        """Admin: add a company to and/or remove a symbol from the index from ``day`` (default today)."""
        day = day or self.today()
        made: list[MembershipChange] = []
        with self._lock:
            if remove:
                company = self.company(remove) or Company(
                    remove.upper(), remove.upper(), "", "", "", "", "", ""
                )
                made.append(MembershipChange(day, "removed", company, "admin"))
            if add:
                company = (
                    add if add.date_added else Company(**{**add.__dict__, "date_added": day.isoformat()})
                )
                self._companies[company.symbol] = company
                made.append(MembershipChange(day, "added", company, "admin"))
            self._manual_changes.extend(made)
            self.membership_version += 1
        return made

    # -- company traits (seeded, stable) ------------------------------------------------------
    def traits(self, symbol: str) -> dict[str, float]:
        """Size and behaviour of a company: shares, volatility, margins (stable per seed)."""
        rng = self.rng("traits", symbol)
        return {
            "shares": float(int(10 ** rng.uniform(8.0, 10.2))),
            "vol": rng.uniform(0.009, 0.028),
            "drift": rng.uniform(-0.0002, 0.0006),
            "base_price": 10 ** rng.uniform(1.2, 2.7),
            "margin": rng.uniform(0.04, 0.32),
            "beta": rng.uniform(0.5, 1.8),
            "turnover": rng.uniform(0.002, 0.012),
            "dividend_yield": max(0.0, rng.uniform(-0.01, 0.045)),
            "fy_end_month": 12 if rng.random() < 0.7 else rng.choice((1, 3, 6, 9)),
        }

    def exchange(self, symbol: str) -> str:
        """The listing exchange (NYSE or NASDAQ), the same for every provider."""
        return "NASDAQ" if self.unit("exchange", symbol) < 0.35 else "NYSE"

    # -- prices ------------------------------------------------------------------------------
    def _price_shape(self, symbol: str) -> tuple[float, float, float, tuple[tuple[float, float, float], ...]]:
        """(log reference price, daily drift, daily volatility, slow cycles (amplitude, period, phase))."""
        shape = self._shapes.get(symbol)
        if shape is None:
            t = self.traits(symbol)
            rng = self.rng("price-shape", symbol)
            cycles = tuple(
                (rng.uniform(0.02, 0.12), rng.uniform(15.0, 400.0), rng.uniform(0.0, 2 * math.pi))
                for _ in range(4)
            )
            shape = (math.log(t["base_price"]), t["drift"], t["vol"], cycles)
            self._shapes[symbol] = shape
        return shape

    def close(self, symbol: str, day: date) -> float:
        """The official close of ``symbol`` on ``day`` (the last trading close for weekends).

        A closed form per (symbol, day): trend + slow cycles + that day's seeded noise and rare jump,
        so any day costs the same and nothing is replayed.
        """
        day = last_trading_day(day)
        log_ref, drift, vol, cycles = self._price_shape(symbol)
        n = day.toordinal()
        level = log_ref + drift * (n - PRICE_REFERENCE_DAY.toordinal())
        level += sum(a * math.sin(2 * math.pi * n / period + phase) for a, period, phase in cycles)
        noise = stable_int(self.seed, "close", symbol, n)
        u1 = ((noise >> 11) + 0.5) / 2.0**53
        u2 = (noise & 0x7FF) / 2048.0
        level += vol * math.sqrt(-2.0 * math.log(u1)) * math.cos(2 * math.pi * u2)
        if (noise >> 3) % 200 == 0:  # a rare one-day jump gives the movers lists some life
            level += (0.06 + 0.1 * u2) * (1 if noise & 1 else -1)
        return round(max(0.01, math.exp(level)), 2)

    def daily_volume(self, symbol: str, day: date) -> int:
        if not is_trading_day(day):
            return 0
        t = self.traits(symbol)
        return int(t["shares"] * t["turnover"] * (0.5 + self.unit("volume", symbol, day.toordinal())))

    def _path(self, symbol: str, day: date) -> tuple[float, float, list[float]]:
        """(open, close, wiggle amplitudes) of the intraday path on a trading day (cached)."""
        cached = self._paths.get((symbol, day.toordinal()))
        if cached is not None:
            return cached
        if len(self._paths) > 50_000:
            self._paths.clear()
        prev = self.close(symbol, previous_trading_day(day))
        close = self.close(symbol, day)
        rng = self.rng("intraday", symbol, day.toordinal())
        vol = self.traits(symbol)["vol"]
        opening = prev * (1.0 + rng.gauss(0.0, vol * 0.3))
        amplitudes = [rng.gauss(0.0, vol * 0.4) / k for k in range(1, 5)]
        self._paths[(symbol, day.toordinal())] = (opening, close, amplitudes)
        return opening, close, amplitudes

    def price(self, symbol: str, ts: float | None = None) -> float:
        """The traded price of ``symbol`` at Unix time ``ts`` (default: now), moving during sessions."""
        ts = self.now() if ts is None else ts
        day = day_of(ts)
        if not is_trading_day(day):
            return self.close(symbol, day)
        seconds = ts - day_start(day)
        if seconds < SESSION_OPEN_S:
            return self.close(symbol, previous_trading_day(day))
        if seconds >= SESSION_CLOSE_S:
            return self.close(symbol, day)
        fraction = (seconds - SESSION_OPEN_S) / (SESSION_CLOSE_S - SESSION_OPEN_S)
        opening, close, amplitudes = self._path(symbol, day)
        base = opening + (close - opening) * fraction
        wiggle = sum(a * math.sin((k + 1) * math.pi * fraction) for k, a in enumerate(amplitudes))
        return round(max(0.01, base * (1.0 + wiggle)), 4)

    def quote(self, symbol: str, ts: float | None = None) -> Quote:
        """Price, day open/high/low, previous close and volume so far, as of ``ts`` (default: now)."""
        ts = self.now() if ts is None else ts
        day = day_of(ts)
        trade_day = last_trading_day(day)
        prev_close = self.close(symbol, previous_trading_day(trade_day))
        session_start = day_start(trade_day) + SESSION_OPEN_S
        session_end = day_start(trade_day) + SESSION_CLOSE_S
        if ts < session_start:  # before today's open: the last session is the previous day
            trade_day = previous_trading_day(trade_day)
            prev_close = self.close(symbol, previous_trading_day(trade_day))
            session_start = day_start(trade_day) + SESSION_OPEN_S
            session_end = day_start(trade_day) + SESSION_CLOSE_S
        until = min(ts, session_end)
        samples = [self.price(symbol, session_start + (until - session_start) * i / 24) for i in range(25)]
        done = (until - session_start) / (session_end - session_start)
        volume = int(self.daily_volume(symbol, trade_day) * max(0.0, min(1.0, done)))
        return Quote(
            symbol=symbol,
            price=samples[-1],
            open=samples[0],
            high=max(samples),
            low=min(samples),
            prev_close=prev_close,
            volume=volume,
            ts=until,
        )

    def articles(self, day: date, until_ts: float | None = None) -> tuple[Article, ...]:
        """News of ``day`` published by ``until_ts`` (default: now), oldest first (see :class:`Article`)."""
        return articles(self, day, until_ts)

    def movers(self, symbols: Iterable[str], ts: float | None = None) -> list[Quote]:
        """Quotes of ``symbols`` sorted by percent change, best first."""
        quotes = [self.quote(s, ts) for s in symbols]
        return sorted(quotes, key=lambda q: (-q.change_pct, q.symbol))


def _third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    offset = (4 - first.weekday()) % 7
    return first + timedelta(days=offset + 14)


def pick(rng: random.Random, items: Sequence[Any], k: int) -> list[Any]:
    """``k`` distinct items of ``items`` (fewer if there are fewer)."""
    return rng.sample(list(items), min(k, len(items)))


# -- news -------------------------------------------------------------------------------------------

#: Alpha Vantage topic query codes → display names used in replies (docs/providers.md §1.3).
NEWS_TOPICS: dict[str, str] = {
    "blockchain": "Blockchain",
    "earnings": "Earnings",
    "ipo": "IPO",
    "mergers_and_acquisitions": "Mergers & Acquisitions",
    "financial_markets": "Financial Markets",
    "economy_fiscal": "Economy - Fiscal",
    "economy_monetary": "Economy - Monetary",
    "economy_macro": "Economy - Macro",
    "energy_transportation": "Energy & Transportation",
    "finance": "Finance",
    "life_sciences": "Life Sciences",
    "manufacturing": "Manufacturing",
    "real_estate": "Real Estate & Construction",
    "retail_wholesale": "Retail & Wholesale",
    "technology": "Technology",
}

_SECTOR_TOPIC = {
    "Information Technology": "technology",
    "Communication Services": "technology",
    "Health Care": "life_sciences",
    "Financials": "finance",
    "Energy": "energy_transportation",
    "Industrials": "manufacturing",
    "Materials": "manufacturing",
    "Consumer Discretionary": "retail_wholesale",
    "Consumer Staples": "retail_wholesale",
    "Real Estate": "real_estate",
    "Utilities": "energy_transportation",
}

#: Tickers that get most of the coverage (as in real news flow).
HOT_TICKERS = (
    "AAPL", "MSFT", "NVDA", "GOOGL", "AMZN", "META", "TSLA", "JPM", "V", "MA", "XOM", "CVX", "JNJ", "PFE",
    "UNH", "ABBV", "WMT", "COST", "HD", "LOW", "DIS", "NFLX", "BA", "CAT", "GE", "F", "GM", "INTC", "AMD",
    "ORCL", "CRM", "BAC", "WFC", "GS", "C", "COIN", "KO", "MCD", "NKE", "IBM",
)  # fmt: skip

_NEWS_SOURCES = (
    ("Benzinga", "www.benzinga.com", "Markets"),
    ("Motley Fool", "www.fool.com", "n/a"),
    ("Zacks Commentary", "www.zacks.com", "n/a"),
    ("Reuters", "www.reuters.com", "Business"),
    ("CNBC", "www.cnbc.com", "Top News"),
    ("Business Insider", "markets.businessinsider.com", "Markets"),
    ("MarketWatch", "www.marketwatch.com", "Top Stories"),
    ("Decrypt.co", "decrypt.co", "General"),
)
_AUTHORS = (
    "Benzinga Insights",
    "Zacks Equity Research",
    "RTTNews",
    "Sam Quirke",
    "Maria Li",
    "John Doe",
    "Ana Ruiz",
)
_HEADLINES = (
    "{name} ( {sym} ) Shares Move After {topic} Update",
    "Investigating {name}'s Standing In {industry} Industry Compared To Competitors",
    "Why {name} Stock Is Trending Today",
    "{name} Reports Quarterly Results: What Investors Should Know",
    "Analysts Revise Price Targets On {name} After {topic} News",
    "{name} Announces Strategic Update Amid {topic} Headwinds",
    "Is {name} A Buy After Recent {topic} Developments?",
)
_SUMMARIES = (
    "In the dynamic and cutthroat world of business, conducting thorough company analysis is essential "
    "for investors. {name} drew attention as {topic} themes dominated the session.",
    "Shares of {name} moved as traders weighed fresh {topic} signals and the broader market tone.",
    "{name} remains in focus; analysts point to {topic} trends as a driver for the coming quarters.",
)
NEWS_PER_DAY = 96  # one article every 15 minutes on average


@dataclass(frozen=True)
class Article:
    """A simulated news article with per-ticker and per-topic relevance and sentiment."""

    id: int
    ts: float  # published, Unix seconds
    title: str
    url: str
    summary: str
    source: str
    source_domain: str
    category: str
    authors: tuple[str, ...]
    banner_image: str | None
    topics: tuple[tuple[str, float], ...]  # (query code, relevance)
    tickers: tuple[tuple[str, float, float], ...]  # (ticker, relevance, sentiment score)
    sentiment: float  # overall score


def sentiment_label(score: float) -> str:
    """Alpha Vantage's label for a sentiment score (hyphenated, as in replies)."""
    if score <= -0.35:
        return "Bearish"
    if score <= -0.15:
        return "Somewhat-Bearish"
    if score < 0.15:
        return "Neutral"
    if score < 0.35:
        return "Somewhat-Bullish"
    return "Bullish"


def _news_day(world: World, day: date) -> tuple[Article, ...]:
    rng = world.rng("news", day.toordinal())
    members = world.constituents(day)
    if not members:
        return ()
    symbols = [c.symbol for c in members]
    hot = [s for s in HOT_TICKERS if world.company(s) is not None]
    start = day_start(day)
    articles: list[Article] = []
    for index in range(NEWS_PER_DAY):
        ts = float(int(start + index * 900 + rng.randrange(0, 900)))
        primary = rng.choice(hot) if rng.random() < 0.5 and hot else rng.choice(symbols)
        company = world.company(primary)
        sector_topic = _SECTOR_TOPIC.get(company.sector if company else "", "financial_markets")
        topics = {sector_topic: round(rng.uniform(0.5, 1.0), 6)}
        for _ in range(rng.randrange(0, 3)):
            topics.setdefault(rng.choice(tuple(NEWS_TOPICS)), round(rng.uniform(0.1, 0.9), 6))
        mood = rng.gauss(0.1, 0.25)
        tickers = [(primary, round(rng.uniform(0.4, 1.0), 6), round(mood + rng.gauss(0, 0.1), 6))]
        for other in rng.sample(symbols, rng.randrange(0, 3)):
            if other != primary:
                tickers.append((other, round(rng.uniform(0.05, 0.5), 6), round(rng.gauss(0.05, 0.2), 6)))
        if "blockchain" in topics or rng.random() < 0.03:
            tickers.append(("CRYPTO:BTC", round(rng.uniform(0.1, 0.6), 6), round(rng.gauss(0.1, 0.2), 6)))
        if rng.random() < 0.03:
            tickers.append(("FOREX:USD", round(rng.uniform(0.05, 0.3), 6), round(rng.gauss(0, 0.1), 6)))
        source, domain, category = rng.choice(_NEWS_SOURCES)
        name = company.name if company else primary
        topic_name = NEWS_TOPICS[sector_topic]
        title = rng.choice(_HEADLINES).format(
            name=name,
            sym=f"NYSE:{primary}",
            topic=topic_name,
            industry=company.sub_industry if company else "",
        )
        article_id = day.toordinal() * 1000 + index
        slug = "-".join(title.lower().replace("(", "").replace(")", "").replace("'", "").split()[:8])
        articles.append(
            Article(
                id=article_id,
                ts=ts,
                title=title,
                url=f"https://{domain}/news/{day:%Y/%m/%d}/{article_id}/{slug}",
                summary=rng.choice(_SUMMARIES).format(name=name, topic=topic_name.lower()),
                source=source,
                source_domain=domain,
                category=category,
                authors=tuple(rng.sample(_AUTHORS, rng.choice((0, 1, 1, 1, 2)))),
                banner_image=rng.choice(
                    (
                        f"https://{domain}/images/{article_id}.jpg",
                        f"https://{domain}/images/{article_id}.png",
                        None,
                        "",
                    )
                ),
                topics=tuple(topics.items()),
                tickers=tuple(tickers),
                sentiment=round(mood, 6),
            )
        )
    return tuple(articles)


_news_cache_lock = threading.Lock()


def articles(world: World, day: date, until_ts: float | None = None) -> tuple[Article, ...]:
    """The articles of ``day`` published at or before ``until_ts`` (default: now), oldest first."""
    key = (world.seed, day.toordinal(), id(world), world.membership_version)
    with _news_cache_lock:
        cached = _NEWS_CACHE.get(key)
    if cached is None:
        cached = _news_day(world, day)
        with _news_cache_lock:
            if len(_NEWS_CACHE) > 512:
                _NEWS_CACHE.clear()
            _NEWS_CACHE[key] = cached
    limit = world.now() if until_ts is None else until_ts
    return tuple(a for a in cached if a.ts <= limit)


_NEWS_CACHE: dict[tuple[int, int, int, int], tuple[Article, ...]] = {}
