"""Response models of the query API and the MCP tools (one vocabulary for both)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

# --- per symbol ------------------------------------------------------------------------------------


class Quote(BaseModel):
    """The latest streamed trade of a symbol (Redis ``sp500_realtime_data`` / ``etf_realtime_data``)."""

    symbol: str
    price: float | None
    volume: float | None = None
    timestamp: int | None = Field(None, description="trade time, epoch milliseconds")
    feed: Literal["sp500", "etf"]


class Profile(BaseModel):
    """S&P 500 constituent facts (Wikipedia list)."""

    name: str
    sector: str | None
    sub_industry: str | None
    headquarters: str | None
    date_added: date | None
    founded: str | None
    is_current: bool


class OverviewSnapshot(BaseModel):
    """One Alpha Vantage OVERVIEW snapshot (a collection batch)."""

    batch_id: int
    collected_at: datetime
    name: str
    description: str | None
    exchange: str | None
    currency: str | None
    country: str | None
    sector: str | None
    industry: str | None
    fiscal_year_end: str | None
    latest_quarter: str | None
    market_capitalization: float | None
    pe_ratio: float | None
    forward_pe: float | None
    peg_ratio: float | None
    eps: float | None
    dividend_yield: float | None
    beta: float | None
    profit_margin: float | None
    revenue_ttm: float | None
    analyst_target_price: float | None
    week_52_high: float | None
    week_52_low: float | None
    shares_outstanding: float | None


class OverviewPoint(BaseModel):
    batch_id: int
    collected_at: datetime
    market_capitalization: float | None
    pe_ratio: float | None
    eps: float | None
    analyst_target_price: float | None


class StockOverview(BaseModel):
    symbol: str
    profile: Profile | None
    latest: OverviewSnapshot | None
    history: list[OverviewPoint] = Field(description="older snapshots, newest first (bounded)")


StatementKind = Literal["income", "balance", "cash_flow"]


class StatementPeriod(BaseModel):
    fiscal_date_ending: date
    values: dict[str, float | None]


class Statements(BaseModel):
    symbol: str
    kind: StatementKind
    periods: list[StatementPeriod] = Field(description="newest first")


class EarningsReport(BaseModel):
    report_date: date
    eps_estimate: float | None
    eps_actual: float | None
    surprise_pct: float | None


class EarningsEvent(BaseModel):
    report_date: date
    fiscal_date_ending: date | None
    estimate: float | None
    currency: str | None


class Earnings(BaseModel):
    symbol: str
    history: list[EarningsReport] = Field(description="reported quarters, newest first")
    calendar: list[EarningsEvent] = Field(description="scheduled reports, soonest first")


class TickerSentiment(BaseModel):
    ticker: str
    score: float = Field(description="-1 (bearish) … 1 (bullish)")
    label: str
    relevance: float | None = None
    model: Literal["alpha_vantage", "vader"] = Field(
        description="alpha_vantage: the provider's own score; vader: ours (lexicon model)"
    )


class NewsItem(BaseModel):
    title: str
    url: str
    source: str | None
    published_at: datetime
    summary: str | None
    providers: list[str] = Field(description="every collected feed that carried this article")
    sentiment: list[TickerSentiment]


class NewsPage(BaseModel):
    symbol: str | None
    items: list[NewsItem] = Field(description="newest first, deduplicated across providers")
    next_cursor: str | None


class Gap(BaseModel):
    """A stretch where bars were expected but none is stored (both ends inclusive)."""

    start: datetime | date
    end: datetime | date
    missing: int = Field(description="expected bars missing")


class DailyBar(BaseModel):
    date: date
    open: float | None
    high: float | None
    low: float | None
    close: float
    adj_close: float | None
    volume: float | None
    source: str


class DailyBars(BaseModel):
    symbol: str
    bars: list[DailyBar] = Field(description="oldest first")
    gaps: list[Gap] = Field(description="NYSE sessions in the range without a bar")


class Candle(BaseModel):
    t: datetime
    o: float
    h: float
    low: float = Field(alias="l")
    c: float
    v: float
    n: int

    model_config = {"populate_by_name": True, "serialize_by_alias": True}


class Candles(BaseModel):
    symbol: str
    interval: Literal["1m", "5m", "1h"]
    candles: list[Candle] = Field(description="oldest first")
    gaps: list[Gap] = Field(description="holes between streamed candles longer than one interval")


# --- market -------------------------------------------------------------------------------------------


class Mover(BaseModel):
    symbol: str
    rank: int | None
    price: float | None
    change_amount: float | None
    change_percentage: float | None
    volume: float | None


class Movers(BaseModel):
    category: Literal["top_gainers", "top_losers", "most_actively_traded"]
    batch_id: int | None
    as_of: datetime | None
    items: list[Mover]


class Ipo(BaseModel):
    symbol: str
    company_name: str | None
    ipo_date: date
    price_range_low: float | None
    price_range_high: float | None
    currency: str | None
    exchange: str | None


class IpoCalendar(BaseModel):
    items: list[Ipo] = Field(description="soonest first")
    next_cursor: str | None


class MacroPoint(BaseModel):
    date: date
    value: float | None


class MacroSeries(BaseModel):
    series: str
    name: str
    unit: str
    interval: str
    first_date: date | None
    last_date: date | None
    points: list[MacroPoint] = Field(description="oldest first")


class MacroSeriesInfo(BaseModel):
    series: str
    name: str
    unit: str
    interval: str
    points: int
    last_date: date | None


class MacroCatalog(BaseModel):
    series: list[MacroSeriesInfo]


# --- social ---------------------------------------------------------------------------------------------


class Post(BaseModel):
    network: Literal["x", "truth_social"]
    id: str
    account: str
    display_name: str | None
    created_at: datetime
    text: str
    url: str | None
    likes: int
    reposts: int
    replies: int
    sentiment: list[TickerSentiment]


class PostsPage(BaseModel):
    items: list[Post] = Field(description="newest first")
    next_cursor: str | None


# --- crypto ---------------------------------------------------------------------------------------------


class CryptoMarket(BaseModel):
    market_code: str
    symbol: str
    korean_name: str
    english_name: str
    market_warning: str | None
    coingecko_id: str | None
    coingecko_name: str | None
    market_cap_rank: int | None
    match_method: str | None
    is_verified: bool | None


class CryptoMarkets(BaseModel):
    items: list[CryptoMarket]
    next_cursor: str | None


class CoinDetails(BaseModel):
    coingecko_id: str
    symbol: str
    name: str
    description: str | None
    homepage_url: str | None
    genesis_date: date | None
    categories: list[str]
    market_cap_rank: int | None
    current_price_usd: float | None
    current_price_krw: float | None
    market_cap_usd: float | None
    total_volume_usd: float | None
    price_change_percentage_24h: float | None
    circulating_supply: float | None
    max_supply: float | None
    updated_at: datetime


class VenuePrice(BaseModel):
    exchange_id: str
    exchange_name: str
    target: str
    price_usd: float
    volume_usd: float | None
    timestamp: datetime


class KimchiPremium(BaseModel):
    symbol: str
    premium_pct: float | None = Field(description="Korean venues' mean USD price vs the global median, in %")
    korean_usd: float | None
    global_usd: float | None
    korean: list[VenuePrice]
    global_: list[VenuePrice] = Field(alias="global")
    as_of: datetime = Field(description="newest ticker used")
    age_seconds: float
    stale: bool = Field(description="older than two collection intervals (CoinGecko tickers: every 12 h)")

    model_config = {"populate_by_name": True, "serialize_by_alias": True}
