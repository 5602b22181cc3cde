"""Daily OHLCV history served by the sandbox's FMP, Alpha Vantage, Bithumb and CoinGecko routes.

Bars come from the same seeded world as every intraday price, so a day bar agrees with the trades
the WebSocket streamed that day: stocks/ETFs from :meth:`World.quote` at the session close (open,
high, low, close, volume of the session), coins from :mod:`bithumb_world` (KST days, KRW) and
:mod:`coingecko_universe` (USD, 00:00 UTC points).

Provider behaviour reproduced (sources in each function):

- FMP ``/stable/historical-price-eod/full``: newest first, ``from``/``to`` inclusive, at most
  ``FMP_HISTORY_YEARS`` back on the free plan [R: FMP pricing page "Basic: 5 years of history"],
  a bar only once its session closed;
- Alpha Vantage ``TIME_SERIES_DAILY``: ``compact`` = the latest 100 sessions; ``outputsize=full`` is
  premium on free keys since 2024 [R: AV support page / many 2024–26 client issues] and answers the
  premium ``Information`` body;
- Bithumb ``/v1/candles/days``: newest first, ``count`` ≤ 200, ``to`` exclusive (UTC unless an
  offset is given), the current day's candle included while it forms [V: Upbit-compatible docs,
  apidocs.bithumb.com "일(Day) 캔들"];
- CoinGecko ``/coins/{id}/market_chart``: ``days`` ≤ 365 for Demo keys, else error 10012
  [V: docs.coingecko.com "Coin Historical Chart Data by ID" — Demo plan limited to the past 365
  days]; with ``interval=daily`` one point per 00:00 UTC plus the current price last.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from marketpipe.sandbox.providers import bithumb_world as bw
from marketpipe.sandbox.providers import coingecko_universe as cu
from marketpipe.sandbox.providers.alpha_vantage import ETFS
from marketpipe.sandbox.world import (
    SESSION_CLOSE_S,
    SESSION_OPEN_S,
    World,
    day_start,
    is_trading_day,
    stable_int,
)

FMP_HISTORY_YEARS = 5
AV_COMPACT = 100
BITHUMB_MAX_COUNT = 200
#: The sandbox's Bithumb markets have candles from this KST day on (a listing date for all).
BITHUMB_FIRST_DAY = date(2024, 1, 1)
COINGECKO_DEMO_DAYS = 365
COINGECKO_RANGE_BODY = {
    "error": {
        "status": {
            "error_code": 10012,
            "error_message": (
                "Your request exceeds the allowed time range. Public API users are limited to querying "
                "historical data within the past 365 days. Upgrade to a paid plan to enjoy full "
                "historical data access: https://www.coingecko.com/en/api/pricing."
            ),
        }
    }
}
KST = timedelta(hours=9)
DAY_S = 86400


def stock_known(world: World, symbol: str) -> bool:
    """Index members and the ETFs the sandbox profiles have daily history."""
    return world.company(symbol) is not None or symbol in ETFS or symbol == "IWM"


def _closed_sessions(world: World, first: date, last: date, now_ts: float) -> list[date]:
    days = []
    day = first
    while day <= last:
        if is_trading_day(day) and day_start(day) + SESSION_CLOSE_S <= now_ts:
            days.append(day)
        day += timedelta(days=1)
    return days


def stock_bar(world: World, symbol: str, day: date) -> dict[str, Any]:
    """The session bar of ``day`` (a trading day that has closed)."""
    # The intraday path sampled six times (every 78 min): the same path the streamed trades follow,
    # at a cost that lets one call serve five years (World.quote samples 25 points per day).
    opening_ts = day_start(day) + SESSION_OPEN_S
    samples = [world.price(symbol, opening_ts + (SESSION_CLOSE_S - SESSION_OPEN_S) * k / 5) for k in range(5)]
    close = world.close(symbol, day)
    return {
        "open": round(samples[0], 2),
        "high": round(max(*samples, close), 2),
        "low": round(min(*samples, close), 2),
        "close": round(close, 2),
        "volume": world.daily_volume(symbol, day),
    }


def fmp_eod(world: World, symbol: str, first: date, last: date, now_ts: float) -> list[dict[str, Any]]:
    today = datetime.fromtimestamp(now_ts, UTC).date()
    first = max(first, today.replace(year=today.year - FMP_HISTORY_YEARS))
    rows = []
    for day in reversed(_closed_sessions(world, first, last, now_ts)):
        bar = stock_bar(world, symbol, day)
        change = round(bar["close"] - bar["open"], 2)
        rows.append(
            {
                "symbol": symbol,
                "date": day.isoformat(),
                "open": bar["open"],
                "high": bar["high"],
                "low": bar["low"],
                "close": bar["close"],
                "volume": bar["volume"],
                "change": change,
                "changePercent": round(change / bar["open"] * 100, 5) if bar["open"] else 0,
                "vwap": round((bar["high"] + bar["low"] + bar["close"]) / 3, 4),
            }
        )
    return rows


def av_daily(world: World, symbol: str, now_ts: float) -> dict[str, Any]:
    today = datetime.fromtimestamp(now_ts, UTC).date()
    sessions = _closed_sessions(world, today - timedelta(days=AV_COMPACT * 2), today, now_ts)[-AV_COMPACT:]
    series = {}
    for day in reversed(sessions):
        bar = stock_bar(world, symbol, day)
        series[day.isoformat()] = {
            "1. open": f"{bar['open']:.4f}",
            "2. high": f"{bar['high']:.4f}",
            "3. low": f"{bar['low']:.4f}",
            "4. close": f"{bar['close']:.4f}",
            "5. volume": str(bar["volume"]),
        }
    return {
        "Meta Data": {
            "1. Information": "Daily Prices (open, high, low, close) and Volumes",
            "2. Symbol": symbol,
            "3. Last Refreshed": sessions[-1].isoformat() if sessions else today.isoformat(),
            "4. Output Size": "Compact",
            "5. Time Zone": "US/Eastern",
        },
        "Time Series (Daily)": series,
    }


def _kst_day_start(day: date) -> float:
    return day_start(day) - KST.total_seconds()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def bithumb_days(
    seed: int, market: bw.Market, count: int, to_ts: float, now_ts: float
) -> list[dict[str, Any]]:
    """Day candles (KST days) that start before ``to_ts``, newest first, at most ``count``."""
    end = min(to_ts, now_ts)
    day = (datetime.fromtimestamp(end, UTC) + KST).date()
    if _kst_day_start(day) >= end:
        day -= timedelta(days=1)
    rows: list[dict[str, Any]] = []
    while len(rows) < count and day >= BITHUMB_FIRST_DAY:
        start = _kst_day_start(day)
        until = min(start + DAY_S - 1, now_ts)
        opening = bw.price_in_quote(seed, market, start)
        close = bw.price_in_quote(seed, market, until)
        # Eight samples a day (every 3 h) plus open and close: cheap enough for 200 candles a call
        # (the ticker's 30-minute buckets would cost ~3 s a page).
        samples = [bw.price_in_quote(seed, market, min(start + k * 10800, until)) for k in range(9)]
        high, low = max(samples), min(samples)
        prev_close = bw.price_in_quote(seed, market, start - 1)
        krw_per_unit = max(close if market.quote == "KRW" else close * 1.0, 1e-12)
        units = (
            market.daily_volume_krw
            / krw_per_unit
            * (0.6 + 0.8 * (stable_int(seed, market.code, "dayv", day.toordinal()) % 1000) / 1000)
        )
        units *= min(1.0, (until - start) / DAY_S)
        rounded = [
            bw._quote_round(market, v)
            for v in (opening, max(high, opening, close), min(low, opening, close), close)
        ]
        rows.append(
            {
                "market": market.code,
                "candle_date_time_utc": _iso(start),
                "candle_date_time_kst": _iso(start + KST.total_seconds()),
                "opening_price": rounded[0],
                "high_price": rounded[1],
                "low_price": rounded[2],
                "trade_price": rounded[3],
                "timestamp": int(until * 1000),
                "candle_acc_trade_price": units * (opening + close) / 2,
                "candle_acc_trade_volume": round(units, 8),
                "prev_closing_price": bw._quote_round(market, prev_close),
                "change_price": rounded[3] - bw._quote_round(market, prev_close),
                "change_rate": round((close - prev_close) / prev_close, 8) if prev_close else 0,
            }
        )
        day -= timedelta(days=1)
    return rows


def coingecko_chart(seed: int, coin: cu.Coin, days: int, now_ts: float) -> dict[str, Any]:
    """Daily points at 00:00 UTC for the last ``days`` days (today included), then the current instant."""
    today = datetime.fromtimestamp(now_ts, UTC).date()
    points = [
        day_start(today - timedelta(days=n)) for n in range(days - 1, -1, -1)
    ]  # days + 1 points with "now"
    points.append(now_ts)
    prices, caps, volumes = [], [], []
    for ts in points:
        stats = cu.market_stats(coin, ts, seed)
        ms = int(ts * 1000)
        prices.append([ms, stats.price])
        caps.append([ms, stats.market_cap])
        volumes.append([ms, stats.total_volume])
    return {"prices": prices, "market_caps": caps, "total_volumes": volumes}
