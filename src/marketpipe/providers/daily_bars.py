"""Daily OHLCV bars from the free tiers: requests and pure parsers for ``daily_prices`` and
``crypto_daily_prices`` (the provider contracts are in docs/collecting.md "Daily price history").

- **FMP** ``GET /stable/historical-price-eod/full?symbol&from&to`` — a JSON array of
  ``{symbol, date, open, high, low, close, volume, change, changePercent, vwap}``, newest first; the
  free plan serves end-of-day data for its symbol set (others: the 402 "Premium Query Parameter"
  text) at 250 calls/day. Not adjusted (FMP's dividend-adjusted series is a separate endpoint).
- **Alpha Vantage** ``TIME_SERIES_DAILY`` — ``{"Meta Data": …, "Time Series (Daily)": {"YYYY-MM-DD":
  {"1. open", "2. high", "3. low", "4. close", "5. volume"}}}``, every value a string. Free keys get
  ``outputsize=compact`` only (the latest 100 sessions; ``full`` and ``TIME_SERIES_DAILY_ADJUSTED``
  answer the premium ``Information``), 25 calls/day.
- **Bithumb** ``GET /v1/candles/days?market=KRW-BTC&count≤200[&to=]`` (Upbit-compatible, no key) —
  newest first, ``{market, candle_date_time_utc, candle_date_time_kst, opening_price, high_price,
  low_price, trade_price, timestamp, candle_acc_trade_price, candle_acc_trade_volume, …}``; a day is
  the KST day (00:00 KST boundary, as the ticker's ``opening_price``).
- **CoinGecko** ``GET /coins/{id}/market_chart?vs_currency=usd&days≤365&interval=daily`` —
  ``{"prices": [[ms, price]…], "market_caps": …, "total_volumes": …}``: one point per day at 00:00 UTC
  plus the current price last. No open/high/low: a point at 00:00 UTC of D+1 is stored as D's
  ``close`` (the last price of D), the point of "now" is dropped. Demo keys see 365 days back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from marketpipe.http.errors import MalformedResponse
from marketpipe.http.types import ApiRequest
from marketpipe.providers.base import WrongType, clean_text, drop, to_decimal, to_int

#: Largest price/volume the NUMERIC(20, 6) / NUMERIC(30, 10) columns take; beyond is a bad bar.
MAX_STOCK_VALUE = Decimal("1e13")
MAX_CRYPTO_VALUE = Decimal("1e19")
BITHUMB_MAX_COUNT = 200
COINGECKO_MAX_DAYS = 365
AV_COMPACT_SESSIONS = 100

Row = dict[str, Any]


# -- requests ---------------------------------------------------------------------------------------


def fmp_eod_request(symbol: str, start: date, end: date) -> ApiRequest:
    return ApiRequest(
        provider="fmp",
        path="/historical-price-eod/full",
        params={"symbol": symbol, "from": start.isoformat(), "to": end.isoformat()},
        label=f"FMP historical-price-eod {symbol} {start}..{end}",
    )


def av_daily_request(symbol: str) -> ApiRequest:
    return ApiRequest(
        provider="alpha_vantage",
        path="/query",
        params={"function": "TIME_SERIES_DAILY", "symbol": symbol, "outputsize": "compact"},
        label=f"AV TIME_SERIES_DAILY {symbol}",
    )


def bithumb_days_request(market: str, count: int, to: datetime | None = None) -> ApiRequest:
    params = {"market": market, "count": str(max(1, min(BITHUMB_MAX_COUNT, count)))}
    if to is not None:
        params["to"] = to.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return ApiRequest(
        provider="bithumb", path="/v1/candles/days", params=params, label=f"Bithumb days {market}"
    )


def coingecko_chart_request(coin_id: str, days: int) -> ApiRequest:
    return ApiRequest(
        provider="coingecko",
        path=f"/coins/{coin_id}/market_chart",
        params={
            "vs_currency": "usd",
            "days": str(max(1, min(COINGECKO_MAX_DAYS, days))),
            "interval": "daily",
        },
        label=f"CoinGecko market_chart {coin_id}",
    )


# -- parsers ----------------------------------------------------------------------------------------


def to_day(value: Any) -> date | None:
    """``YYYY-MM-DD`` exactly (no trailing text, no other formats); None otherwise."""
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _bounded(value: Any, limit: Decimal) -> Decimal | None:
    try:
        number = to_decimal(value)
    except WrongType:
        return None  # a bar whose close is junk is skipped below, with a drop reason
    if number is None or abs(number) >= limit:
        return None
    return number


def _stock_bar(
    symbol: str, day: date | None, o: Any, h: Any, lo: Any, c: Any, v: Any, source: str
) -> Row | None:
    close = _bounded(c, MAX_STOCK_VALUE)
    if day is None or close is None or close <= 0:
        drop("daily bar without a valid date and positive close", {"date": str(day), "close": repr(c)[:40]})
        return None
    try:
        volume = to_int(v)
    except WrongType:
        volume = None
    return {
        "symbol": symbol,
        "date": day,
        "open": _bounded(o, MAX_STOCK_VALUE),
        "high": _bounded(h, MAX_STOCK_VALUE),
        "low": _bounded(lo, MAX_STOCK_VALUE),
        "close": close,
        "volume": volume if volume is not None and 0 <= volume < 2**63 else None,
        "source": source,
    }


def _in_window(rows: list[Row], start: date | None, end: date | None) -> list[Row]:
    keep = [r for r in rows if (start is None or r["date"] >= start) and (end is None or r["date"] <= end)]
    by_date = {r["date"]: r for r in keep}  # a repeated date keeps its last occurrence
    return [by_date[d] for d in sorted(by_date)]


def parse_fmp_eod(body: Any, symbol: str, start: date | None = None, end: date | None = None) -> list[Row]:
    """FMP end-of-day bars → ``daily_prices`` rows, oldest first; malformed entries are skipped."""
    if isinstance(body, Mapping) and isinstance(body.get("historical"), list):  # legacy v3 shape
        body = body["historical"]
    if not isinstance(body, list):
        raise MalformedResponse(
            "fmp", f"historical-price-eod: expected a JSON array, got {type(body).__name__}"
        )
    rows = []
    for item in body:
        if not isinstance(item, Mapping):
            drop("daily bar is not an object", repr(item)[:80])
            continue
        row = _stock_bar(
            symbol, to_day(item.get("date")), item.get("open"), item.get("high"), item.get("low"),
            item.get("close"), item.get("volume"), "fmp",
        )  # fmt: skip
        if row is not None:
            rows.append(row)
    return _in_window(rows, start, end)


def parse_av_daily(body: Any, symbol: str, start: date | None = None, end: date | None = None) -> list[Row]:
    """TIME_SERIES_DAILY → ``daily_prices`` rows, oldest first."""
    series = body.get("Time Series (Daily)") if isinstance(body, Mapping) else None
    if not isinstance(series, Mapping):
        raise MalformedResponse("alpha_vantage", "TIME_SERIES_DAILY: no 'Time Series (Daily)' object")
    rows = []
    for day_text, bar in series.items():
        if not isinstance(bar, Mapping):
            drop("daily bar is not an object", repr(bar)[:80])
            continue
        row = _stock_bar(
            symbol, to_day(day_text), bar.get("1. open"), bar.get("2. high"), bar.get("3. low"),
            bar.get("4. close"), bar.get("5. volume"), "alpha_vantage",
        )  # fmt: skip
        if row is not None:
            rows.append(row)
    return _in_window(rows, start, end)


def _crypto_row(
    symbol: str, quote: str, day: date, o: Any, h: Any, lo: Any, c: Any, v: Any, source: str
) -> Row | None:
    close = _bounded(c, MAX_CRYPTO_VALUE)
    if close is None or close <= 0:
        drop("daily bar without a positive close", {"date": str(day), "close": repr(c)[:40]})
        return None
    volume = _bounded(v, MAX_CRYPTO_VALUE)
    return {
        "symbol": symbol,
        "quote": quote,
        "date": day,
        "open": _bounded(o, MAX_CRYPTO_VALUE),
        "high": _bounded(h, MAX_CRYPTO_VALUE),
        "low": _bounded(lo, MAX_CRYPTO_VALUE),
        "close": close,
        "volume": volume if volume is not None and volume >= 0 else None,
        "source": source,
    }


def split_market(market: str) -> tuple[str, str]:
    """``KRW-BTC`` → (``BTC``, ``KRW``)."""
    quote, _, base = market.partition("-")
    if not quote or not base:
        raise MalformedResponse("bithumb", f"not a market code: {market[:40]!r}")
    return base, quote


def parse_bithumb_days(body: Any, market: str) -> list[Row]:
    """Bithumb day candles → ``crypto_daily_prices`` rows (KST days), oldest first."""
    if not isinstance(body, list):
        raise MalformedResponse("bithumb", f"candles/days: expected a JSON array, got {type(body).__name__}")
    symbol, quote = split_market(market)
    rows = []
    for item in body:
        try:
            if not isinstance(item, Mapping) or clean_text(item.get("market")) not in (None, market):
                drop("day candle of another market, or not an object", repr(item)[:80])
                continue
            kst = clean_text(item.get("candle_date_time_kst"))
        except WrongType as exc:
            drop(f"day candle: {exc}", repr(item)[:80])
            continue
        day = to_day(kst[:10]) if kst and len(kst) >= 10 else None
        if day is None:
            drop("day candle without a KST date", repr(item)[:80])
            continue
        row = _crypto_row(
            symbol, quote, day, item.get("opening_price"), item.get("high_price"), item.get("low_price"),
            item.get("trade_price"), item.get("candle_acc_trade_volume"), "bithumb",
        )  # fmt: skip
        if row is not None:
            rows.append(row)
    return _in_window(rows, None, None)


def parse_coingecko_chart(body: Any, symbol: str, now: datetime) -> list[Row]:
    """market_chart (daily) → ``crypto_daily_prices`` USD rows: the 00:00 UTC point of D+1 closes D."""
    prices = body.get("prices") if isinstance(body, Mapping) else None
    if not isinstance(prices, list):
        raise MalformedResponse("coingecko", "market_chart: no 'prices' array")
    volumes: dict[int, Any] = {}
    raw_volumes = body.get("total_volumes")
    if isinstance(raw_volumes, list):
        for point in raw_volumes:
            if isinstance(point, list) and len(point) == 2 and isinstance(point[0], int | float):
                volumes[int(point[0])] = point[1]
    rows = []
    today = now.astimezone(UTC).date()
    for point in prices:
        if not (isinstance(point, list) and len(point) == 2 and isinstance(point[0], int | float)):
            drop("chart point is not [ms, price]", repr(point)[:80])
            continue
        ms = int(point[0])
        if ms % 86_400_000 != 0 or not 0 < ms < 32_503_680_000_000:  # "now", or not a day boundary
            continue
        day = datetime.fromtimestamp(ms / 1000, UTC).date() - timedelta(days=1)
        if day >= today:
            continue
        row = _crypto_row(symbol, "USD", day, None, None, None, point[1], volumes.get(ms), "coingecko")
        if row is not None:
            rows.append(row)
    return _in_window(rows, None, None)
