"""Deterministic Finnhub content: company news, market news, earnings, IPOs (docs/providers.md §2.2).

Pure functions of (company list, day, clock). Every value derives from a string-seeded
``random.Random`` so the same world yields the same news on every run and in every process, and a
new sandbox day brings new items. Nothing here knows about HTTP.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol


class CompanyLike(Protocol):
    """What the news generators need to know about a listed company."""

    @property
    def symbol(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def sector(self) -> str: ...


#: Price lookup: (symbol, moment) -> price in USD.
PriceAt = Callable[[str, datetime], float]

NEWS_SOURCES = ("Yahoo", "MarketWatch", "SeekingAlpha", "Benzinga", "CNBC", "Reuters", "Finnhub")
MARKET_CATEGORIES = ("general", "forex", "crypto", "merger")
#: Market-news ids: item k of category c has id ``MARKET_ID_BASE + 4*k + c`` (unique, increasing in time).
MARKET_ID_BASE = 7_000_000
#: Minutes between two market-news items per category (general is the busiest feed).
MARKET_NEWS_EVERY_MIN = {"general": 9, "forex": 37, "crypto": 23, "merger": 71}
MARKET_NEWS_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
MARKET_NEWS_BATCH = 100
COMPANY_NEWS_HISTORY_DAYS = 365
EARNINGS_HISTORY_DAYS = 31
EARNINGS_CALENDAR_CAP = 1500

_COMPANY_HEADLINES = (
    "{name} ({symbol}) shares move after analyst update",
    "{name} stock: what to watch ahead of earnings",
    "Is {name} a buy after its latest {sector} rally?",
    "{symbol} stock rises as {name} expands buyback",
    "{name} ({symbol}) falls as investors weigh guidance",
    "Why {name} stock is trending today",
    "{name} announces new partnership, {symbol} reacts",
    "Options traders bet on big move in {name} ({symbol})",
    "{name} CEO discusses outlook for {sector} demand",
    "{symbol}: institutional investors add to stakes in {name}",
)
_COMPANY_SUMMARIES = (
    "{name} ({symbol}) was in focus on {day} as traders reassessed the {sector} group.",
    "Shares of {name} traded near ${price:.2f}; analysts reiterated their views on {symbol}.",
    "{name} said demand remained solid. The company trades under the ticker {symbol}.",
)
_MARKET_HEADLINES: dict[str, tuple[str, ...]] = {
    "general": (
        "Stocks edge higher as investors weigh Fed outlook; {name} ({symbol}) leads",
        "Wall Street week ahead: inflation data, earnings from {name}",
        "The stock market faces big questions about the economy this week",
        "Treasury yields climb; {sector} shares lag the S&P 500",
        "Dow, S&P 500 and Nasdaq: {name} and {other} in focus",
    ),
    "forex": (
        "Dollar firms against the euro ahead of US jobs data",
        "Yen slides as Bank of Japan holds rates steady",
        "EUR/USD steadies as traders price ECB path",
        "Sterling gains after UK inflation surprise",
    ),
    "crypto": (
        "Bitcoin climbs above key level as ETF inflows resume",
        "Ether slips as traders take profits; {name} exposure in focus",
        "Crypto markets mixed as regulators weigh stablecoin rules",
        "Solana and XRP lead altcoin rebound",
    ),
    "merger": (
        "{name} ({symbol}) agrees to acquire rival in all-stock deal",
        "{name} explores sale of {sector} unit, sources say",
        "{other} nears deal to buy stake in {name}",
        "Regulators review {name} merger with {other}",
    ),
}
_MARKET_OWN_CATEGORY = {"general": ("top news", "business"), "forex": ("forex",), "crypto": ("crypto",)}


def _rng(*parts: object) -> random.Random:
    # str seeds are hashed with SHA-512 by random.Random: stable across processes and runs.
    return random.Random(":".join(str(p) for p in parts))


def stable_int(*parts: object, modulo: int) -> int:
    """A stable integer in [0, modulo) derived from ``parts`` (same in every process)."""
    digest = hashlib.blake2b(":".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % modulo


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def _days(first: date, last: date) -> Iterable[date]:
    current = first
    while current <= last:
        yield current
        current += timedelta(days=1)


# -- company news ----------------------------------------------------------------------------------


def company_news_for_day(company: CompanyLike, day: date, price: float, seed: int) -> list[dict[str, Any]]:
    """All company-news items about ``company`` published on ``day`` (UTC), oldest first.

    0–4 items a day (fewer at weekends); some share a headline across sources, some have an empty
    image or summary, and the url is usually a Finnhub redirect (docs/providers.md §2.2).
    """
    rng = _rng("finnhub-company-news", seed, company.symbol, day.isoformat())
    count = rng.choice((0, 1, 1, 2, 2, 3, 4)) if day.weekday() < 5 else rng.choice((0, 0, 1))
    fields = {"name": company.name, "symbol": company.symbol, "sector": company.sector.lower()}
    items: list[dict[str, Any]] = []
    headline = ""
    for index in range(count):
        published = _day_start(day) + timedelta(seconds=rng.randrange(6 * 3600, 23 * 3600))
        # Duplicate headlines across sources are common on the real feed.
        if not headline or rng.random() > 0.2:
            headline = rng.choice(_COMPANY_HEADLINES).format(**fields)
        news_id = 130_000_000 + stable_int(seed, company.symbol, day, index, modulo=9_000_000)
        source = rng.choice(NEWS_SOURCES)
        summary = rng.choice(_COMPANY_SUMMARIES).format(day=day.isoformat(), price=price, **fields)
        items.append(
            {
                "category": "company",
                "datetime": _epoch(published),
                "headline": headline,
                "id": news_id,
                "image": "" if rng.random() < 0.3 else f"https://static2.finnhub.io/file/news/{news_id}.jpg",
                "related": company.symbol,
                "source": source,
                "summary": "" if rng.random() < 0.1 else summary,
                "url": (
                    f"https://finnhub.io/api/news?id={hashlib.sha1(str(news_id).encode()).hexdigest()}"
                    if rng.random() < 0.8
                    else f"https://www.{source.lower()}.com/news/{company.symbol.lower()}-{news_id}"
                ),
            }
        )
    items.sort(key=lambda item: item["datetime"])
    return items


def company_news(
    company: CompanyLike | None,
    date_from: date,
    date_to: date,
    now: datetime,
    price_at: PriceAt,
    seed: int,
) -> list[dict[str, Any]]:
    """``/company-news``: items in [from, to] (publication date, inclusive), newest first.

    Only the last year is available on the free plan and nothing from the future is returned;
    an unknown symbol gives ``[]``.
    """
    if company is None:
        return []
    first = max(date_from, (now - timedelta(days=COMPANY_NEWS_HISTORY_DAYS)).date())
    last = min(date_to, now.date())
    now_epoch = _epoch(now)
    items: list[dict[str, Any]] = []
    for day in _days(first, last):
        price = price_at(company.symbol, _day_start(day) + timedelta(hours=16))
        items.extend(
            item for item in company_news_for_day(company, day, price, seed) if item["datetime"] <= now_epoch
        )
    items.sort(key=lambda item: item["datetime"], reverse=True)
    return items


# -- market news ------------------------------------------------------------------------------------


def _market_item(
    category: str, k: int, companies_on: Callable[[date], Sequence[CompanyLike]], seed: int
) -> dict[str, Any]:
    cat_index = MARKET_CATEGORIES.index(category)
    every = MARKET_NEWS_EVERY_MIN[category]
    rng = _rng("finnhub-market-news", seed, category, k)
    published = MARKET_NEWS_EPOCH + timedelta(minutes=every * k, seconds=rng.randrange(0, every * 60))
    # The companies listed on the item's own day: a later index change never rewrites old news.
    companies = companies_on(published.date())
    company = companies[rng.randrange(len(companies))]
    other = companies[rng.randrange(len(companies))]
    headline = rng.choice(_MARKET_HEADLINES[category]).format(
        name=company.name, symbol=company.symbol, sector=company.sector.lower(), other=other.name
    )
    mentions_symbol = company.symbol in headline
    own_category = rng.choice(_MARKET_OWN_CATEGORY.get(category, (category,)))
    source = rng.choice(("MarketWatch", "Reuters", "CNBC", "Bloomberg", "Benzinga"))
    news_id = MARKET_ID_BASE + 4 * k + cat_index
    return {
        "category": own_category,
        "datetime": _epoch(published),
        "headline": headline,
        "id": news_id,
        "image": "" if rng.random() < 0.15 else f"https://static2.finnhub.io/file/publicdatany/{news_id}.jpg",
        "related": company.symbol if mentions_symbol and category == "merger" else "",
        "source": source,
        "summary": f"{headline}. Markets reacted as investors digested the news.",
        "url": f"https://www.{source.lower()}.com/story/{category}-{news_id}",
    }


def market_news(
    category: str,
    min_id: int,
    now: datetime,
    companies_on: Callable[[date], Sequence[CompanyLike]],
    seed: int,
) -> list[dict[str, Any]]:
    """``/news``: the latest batch (≤100 items) of ``category``, newest first, only ids > ``min_id``."""
    every = MARKET_NEWS_EVERY_MIN[category]
    elapsed_min = int((now - MARKET_NEWS_EPOCH).total_seconds() // 60)
    if elapsed_min < 0:
        return []
    newest_k = elapsed_min // every
    cat_index = MARKET_CATEGORIES.index(category)
    now_epoch = _epoch(now)
    items: list[dict[str, Any]] = []
    for k in range(newest_k, max(-1, newest_k - MARKET_NEWS_BATCH - 2), -1):
        if MARKET_ID_BASE + 4 * k + cat_index <= min_id:
            break
        item = _market_item(category, k, companies_on, seed)
        if item["datetime"] <= now_epoch:
            items.append(item)
        if len(items) == MARKET_NEWS_BATCH:
            break
    return items


# -- earnings ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EarningsEvent:
    """One scheduled quarterly report of a company."""

    symbol: str
    report_date: date
    hour: str
    fiscal_year: int
    fiscal_quarter: int
    period_end: date
    eps_estimate: float
    eps_actual: float
    revenue_estimate: int
    revenue_actual: int


def _month_end(year: int, month: int) -> date:
    return date(year + (month // 12), month % 12 + 1, 1) - timedelta(days=1)


def fiscal_quarter_ends(first: date, last: date, fy_end_month: int) -> list[tuple[date, int, int]]:
    """(period end, fiscal year, fiscal quarter) of quarters ending in [first, last].

    A fiscal year ending in month ``fy_end_month`` of year Y is "fiscal Y"; its quarters end every
    three months before that (e.g. fy_end_month=1: quarters end Apr, Jul, Oct, Jan).
    """
    out = []
    for year in range(first.year, last.year + 1):
        for month in range(1, 13):
            if (month - fy_end_month) % 3:
                continue
            end = _month_end(year, month)
            if not first <= end <= last:
                continue
            quarter = ((month - fy_end_month - 1) % 12) // 3 + 1
            fiscal_year = year if month <= fy_end_month else year + 1
            out.append((end, fiscal_year, quarter))
    return out


def earnings_events(
    symbol: str, first: date, last: date, seed: int, fy_end_month: int = 12
) -> list[EarningsEvent]:
    """The company's quarterly reports with a report date in [first, last].

    Each company reports 20–45 days after its fiscal quarter end, always on a weekday; the lag, the
    hour and the EPS level are fixed per symbol so the calendar is stable from day to day.
    """
    base = _rng("earnings-profile", seed, symbol)
    lag_days = base.randrange(20, 46)
    hour = base.choice(("bmo", "amc", "amc", "bmo", "dmh", ""))
    eps_level = round(base.uniform(0.3, 6.0), 2)
    revenue_level = base.randrange(1_000, 120_000) * 1_000_000
    events: list[EarningsEvent] = []
    for period_end, fiscal_year, quarter in fiscal_quarter_ends(
        first - timedelta(days=60), last, fy_end_month
    ):
        report = period_end + timedelta(days=lag_days)
        while report.weekday() >= 5:
            report += timedelta(days=1)
        if not first <= report <= last:
            continue
        rng = _rng("earnings", seed, symbol, fiscal_year, quarter)
        estimate = round(eps_level * rng.uniform(0.85, 1.15), 4)
        revenue_estimate = int(revenue_level * rng.uniform(0.9, 1.1))
        events.append(
            EarningsEvent(
                symbol=symbol,
                report_date=report,
                hour=hour,
                fiscal_year=fiscal_year,
                fiscal_quarter=quarter,
                period_end=period_end,
                eps_estimate=estimate,
                eps_actual=round(estimate * rng.uniform(0.8, 1.25), 2),
                revenue_estimate=revenue_estimate,
                revenue_actual=int(revenue_estimate * rng.uniform(0.95, 1.06)),
            )
        )
    return events


def _reported(event: EarningsEvent, now: datetime) -> bool:
    if event.report_date != now.date():
        return event.report_date < now.date()
    # Same day: before-open reports are out by 13:30 UTC, the others after the close (21:00 UTC).
    return now.time() >= (time(13, 30) if event.hour == "bmo" else time(21, 0))


def earnings_calendar(
    symbols: Sequence[tuple[str, int]], date_from: date, date_to: date, now: datetime, seed: int
) -> dict[str, list[dict[str, Any]]]:
    """``/calendar/earnings``: events in the window, at most one month back (free plan).

    Unreported events carry ``null`` actuals; the list is cut at 1500 events like the real API's
    silent truncation of very wide ranges.
    """
    first = max(date_from, (now - timedelta(days=EARNINGS_HISTORY_DAYS)).date())
    rows: list[dict[str, Any]] = []
    for symbol, fy_end_month in symbols:
        for event in earnings_events(symbol, first, date_to, seed, fy_end_month):
            done = _reported(event, now)
            rows.append(
                {
                    "date": event.report_date.isoformat(),
                    "epsActual": event.eps_actual if done else None,
                    "epsEstimate": event.eps_estimate,
                    "hour": event.hour,
                    "quarter": event.fiscal_quarter,
                    "revenueActual": event.revenue_actual if done else None,
                    "revenueEstimate": event.revenue_estimate,
                    "symbol": symbol,
                    "year": event.fiscal_year,
                }
            )
    rows.sort(key=lambda row: (row["date"], row["symbol"]), reverse=True)
    return {"earningsCalendar": rows[:EARNINGS_CALENDAR_CAP]}


def stock_earnings(
    symbol: str | None, limit: int | None, now: datetime, seed: int, fy_end_month: int = 12
) -> list[dict[str, Any]]:
    """``/stock/earnings``: the last four reported quarters (free plan), newest first."""
    if symbol is None:
        return []
    events = [
        event
        for event in earnings_events(
            symbol, (now - timedelta(days=500)).date(), now.date(), seed, fy_end_month
        )
        if _reported(event, now)
    ]
    events.sort(key=lambda event: event.period_end, reverse=True)
    rows = []
    for event in events[: min(4, limit) if limit else 4]:
        surprise = round(event.eps_actual - event.eps_estimate, 4)
        rows.append(
            {
                "actual": event.eps_actual,
                "estimate": event.eps_estimate,
                "period": event.period_end.isoformat(),
                "quarter": event.fiscal_quarter,
                "surprise": surprise,
                "surprisePercent": round(surprise / event.eps_estimate * 100, 4),
                "symbol": symbol,
                "year": event.fiscal_year,
            }
        )
    return rows


# -- IPOs -------------------------------------------------------------------------------------------


def ipo_events_for_week(monday: date, seed: int) -> list[dict[str, Any]]:
    """Two to five IPOs priced in the week starting ``monday`` (not S&P 500 members)."""
    rng = _rng("ipo-week", seed, monday.isoformat())
    events = []
    for index in range(rng.randrange(2, 6)):
        letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTVWXYZ") for _ in range(rng.choice((3, 4))))
        shares = rng.randrange(20, 400) * 100_000
        low = rng.randrange(8, 30)
        events.append(
            {
                "day": monday + timedelta(days=rng.randrange(0, 5)),
                "symbol": letters,
                "name": f"{letters.title()} {rng.choice(('Therapeutics', 'Holdings', 'Technologies', 'Bancorp', 'Energy'))} Inc.",
                "exchange": rng.choice(("NASDAQ Global", "NYSE", "NASDAQ Capital")),
                "shares": shares,
                "price_low": float(low),
                "price_high": float(low + rng.choice((1, 2, 3))),
                "index": index,
            }
        )
    return events


def ipo_events(first: date, last: date, seed: int) -> list[dict[str, Any]]:
    """All generated IPO events with a date in [first, last]."""
    monday = first - timedelta(days=first.weekday())
    events: list[dict[str, Any]] = []
    while monday <= last:
        events.extend(event for event in ipo_events_for_week(monday, seed) if first <= event["day"] <= last)
        monday += timedelta(days=7)
    return events


def ipo_calendar(date_from: date, date_to: date, now: datetime, seed: int) -> dict[str, list[dict[str, Any]]]:
    """``/calendar/ipo`` [U: not in docs/providers.md §2.2; shape from Finnhub's public docs]."""
    rows = []
    for event in ipo_events(date_from, date_to, seed):
        priced = event["day"] <= now.date()
        price = (event["price_low"] + event["price_high"]) / 2
        rows.append(
            {
                "date": event["day"].isoformat(),
                "exchange": event["exchange"],
                "name": event["name"],
                "numberOfShares": event["shares"],
                "price": f"{price:.2f}" if priced else f"{event['price_low']:.2f}-{event['price_high']:.2f}",
                "status": "priced" if priced else "expected",
                "symbol": event["symbol"],
                "totalSharesValue": round(event["shares"] * price),
            }
        )
    rows.sort(key=lambda row: row["date"], reverse=True)
    return {"ipoCalendar": rows}
