"""Bithumb's simulated markets and tickers (pure functions of the seed and the sandbox clock).

Markets: every symbol of ``bithumb_coingecko_ids.csv`` as a KRW market, plus a few KRW listings that
file does not map (new listings, coins CoinGecko does not know), plus BTC- and USDT- quoted markets
for the larger coins. Trades happen at deterministic instants (a per-market slot length and a hit
probability per slot), so the ticker's ``timestamp`` only moves when a trade happened and a poller can
drop unchanged snapshots, exactly as the seed's Kafka producer does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from marketpipe.sandbox.providers.coingecko_universe import (
    Coin,
    bithumb_mapping,
    generated_coin,
    krw_price,
    price_usd,
    round_krw,
    unit,
    universe,
)

KST = timedelta(hours=9)
KST_MS = 32_400_000

#: KRW listings the shipped mapping file does not cover: (symbol, english name, coin id or None).
#: Some have a CoinGecko coin with the same symbol (the mapping's "suggestion report" finds them),
#: some have none at all.
_UNMAPPED_KRW: list[tuple[str, str, str | None]] = [
    ("WBTC", "Wrapped Bitcoin", "wrapped-bitcoin"),
    ("STETH", "Lido Staked Ether", "staked-ether"),
    ("ZORMI", "Zormi", None),
    ("KAVEX", "Kavex", None),
    ("NULO", "Nulo Chain", None),
    ("BORA2", "BORA Classic", None),
    ("HUNTX", "HuntX", None),
    ("QUAMI", "Quami Network", None),
    ("TRIVA", "Triva Protocol", None),
    ("ELSOL", "Elsol Finance", None),
    ("DEXRA", "Dexra", None),
    ("SYNU", "Synu AI", None),
    ("PIXO", "Pixo Swap", None),
    ("GALMU", "Galmu DAO", None),
    ("HEXTER", "Hexter", None),
]

# Korean names for the majors; the rest are transliterated from the English name.
_KOREAN_NAMES = {
    "BTC": "비트코인",
    "ETH": "이더리움",
    "XRP": "리플",
    "USDT": "테더",
    "SOL": "솔라나",
    "DOGE": "도지코인",
    "ADA": "에이다",
    "TRX": "트론",
    "SHIB": "시바이누",
    "AVAX": "아발란체",
    "LINK": "체인링크",
    "BNB": "바이낸스코인",
    "TON": "톤코인",
    "SUI": "수이",
    "PEPE": "페페",
    "USDC": "유에스디코인",
    "POL": "폴리곤 에코시스템 토큰",
    "CRO": "크로노스",
    "WBTC": "랩드 비트코인",
}
_HANGUL_BY_LETTER = {
    "a": "아",
    "b": "브",
    "c": "크",
    "d": "드",
    "e": "에",
    "f": "프",
    "g": "그",
    "h": "흐",
    "i": "이",
    "j": "즈",
    "k": "크",
    "l": "르",
    "m": "므",
    "n": "느",
    "o": "오",
    "p": "프",
    "q": "큐",
    "r": "르",
    "s": "스",
    "t": "트",
    "u": "우",
    "v": "브",
    "w": "우",
    "x": "스",
    "y": "이",
    "z": "즈",
}


def _korean_name(symbol: str, english_name: str) -> str:
    if symbol in _KOREAN_NAMES:
        return _KOREAN_NAMES[symbol]
    words = []
    for word in english_name.lower().split():
        letters = "".join(_HANGUL_BY_LETTER.get(ch, ch) for ch in word if ch.isalnum())
        words.append(letters[:6])
    return " ".join(w for w in words if w) or symbol


@dataclass(frozen=True)
class Market:
    """One Bithumb market (``KRW-BTC``) and the coin that prices it (None: unknown to CoinGecko)."""

    code: str
    quote: str
    base: str
    korean_name: str
    english_name: str
    warning: str  # NONE | CAUTION
    coin: Coin | None
    slot_s: float  # trades happen at most once per slot
    trade_probability: float
    daily_volume_krw: float


@dataclass(frozen=True)
class Markets:
    """All markets in Bithumb's listing order, plus a lookup by code."""

    items: tuple[Market, ...]
    by_code: dict[str, Market]


@lru_cache(maxsize=4)
def markets(seed: int = 0) -> Markets:
    """The deterministic Bithumb market list for ``seed`` (~400 KRW + BTC- + USDT- markets)."""
    world = universe(seed)
    items: list[Market] = []
    krw_listings: list[tuple[str, str, Coin | None]] = []
    for symbol, coin_id in bithumb_mapping():
        coin = world.by_id[coin_id]
        name = coin.name
        # Bithumb's English names drift from CoinGecko's now and then ("Threshold" vs "Threshold Network").
        if unit(seed, symbol, "name-variant") < 0.12 and " " in name:
            name = name.rsplit(" ", 1)[0]
        krw_listings.append((symbol, name, coin))
    for extra_symbol, extra_name, extra_id in _UNMAPPED_KRW:
        krw_listings.append((extra_symbol, extra_name, world.by_id.get(extra_id) if extra_id else None))
    for listed_symbol, english, listed_coin in krw_listings:
        items.append(_market(seed, "KRW", listed_symbol, english, listed_coin))
    ranked = sorted(
        (c for _s, _e, c in krw_listings if c is not None and c.market_cap_rank is not None),
        key=lambda c: c.market_cap_rank or 0,
    )
    symbol_of = {c.id: s for s, _e, c in krw_listings if c is not None}
    for coin in ranked[:45]:
        if coin.id != "bitcoin":
            items.append(_market(seed, "BTC", symbol_of[coin.id], coin.name, coin))
    for coin in ranked[:12]:
        if coin.id != "tether":
            items.append(_market(seed, "USDT", symbol_of[coin.id], coin.name, coin))
    return Markets(items=tuple(items), by_code={m.code: m for m in items})


def _market(seed: int, quote: str, symbol: str, english: str, coin: Coin | None) -> Market:
    code = f"{quote}-{symbol}"
    rank = coin.market_cap_rank if coin is not None and coin.market_cap_rank else 3000
    # Big coins trade every second or two; the long tail every few minutes.
    slot = 1.0 if rank <= 3 else min(240.0, 1.0 + rank / 8.0)
    if quote != "KRW":
        slot *= 6
    volume = 1.5e11 / math.sqrt(rank) * (0.3 + unit(seed, code, "vol"))
    if quote != "KRW":
        volume /= 50
    return Market(
        code=code,
        quote=quote,
        base=symbol,
        korean_name=_korean_name(symbol, english),
        english_name=english,
        warning="CAUTION" if unit(seed, code, "warn") < 0.05 else "NONE",
        coin=coin,
        slot_s=slot,
        trade_probability=0.55 + 0.4 * unit(seed, code, "p"),
        daily_volume_krw=volume,
    )


# -- prices ----------------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _orphan_coin(seed: int, market: Market) -> Coin:
    """A stand-in price model for a listing CoinGecko does not know."""
    return generated_coin(
        seed, "bithumb-only:" + market.base, market.base.lower(), market.english_name, cap_lo=1e6, cap_hi=5e7
    )


def price_in_quote(seed: int, market: Market, t: float) -> float:
    """Unrounded price of the market's base in its quote currency at unix time ``t``."""
    coin = market.coin or _orphan_coin(seed, market)
    if market.quote == "KRW":
        return krw_price(coin, "bithumb", t, seed)
    quote_coin = universe(seed).by_id["bitcoin" if market.quote == "BTC" else "tether"]
    return price_usd(coin, t, seed) / price_usd(quote_coin, t, seed) * 1.004  # a small local premium


def quote_price(seed: int, market: Market, t: float) -> int | float:
    """The price as Bithumb would print it (KRW rounded to the tick, BTC to 8 places)."""
    raw = price_in_quote(seed, market, t)
    if market.quote == "KRW":
        return round_krw(raw)
    if market.quote == "BTC":
        return round(raw, 8)
    return round(raw, 4 if raw >= 1 else 8)


def last_trade_ms(seed: int, market: Market, now: float) -> int:
    """Epoch ms of the market's last trade at or before ``now`` (deterministic trade instants)."""
    slot_index = math.floor(now / market.slot_s)
    for back in range(512):
        index = slot_index - back
        if unit(seed, market.code, "trade", index) < market.trade_probability:
            at = (index + unit(seed, market.code, "at", index)) * market.slot_s
            if at <= now:
                return int(at * 1000)
    return int((slot_index - 512) * market.slot_s * 1000)


def _day_start_kst(t: float) -> float:
    """Unix seconds of the 00:00 KST that starts Bithumb's trading day containing ``t``."""
    return math.floor((t + 9 * 3600) / 86400) * 86400 - 9 * 3600


_BUCKET_S = 1800


@lru_cache(maxsize=65536)
def _bucket_extremes(seed: int, code: str, day_start: float, bucket: int) -> tuple[float, float]:
    """(high, low) of one 30-minute bucket of a trading day (sampled every 6 minutes)."""
    market = markets(seed).by_code[code]
    samples = [price_in_quote(seed, market, day_start + bucket * _BUCKET_S + k * 360) for k in range(5)]
    return max(samples), min(samples)


def day_extremes(seed: int, market: Market, day_start: float, until: float) -> tuple[float, float]:
    """(high, low) of the trading day from ``day_start`` up to ``until``."""
    full_buckets = int((until - day_start) // _BUCKET_S)
    high = low = price_in_quote(seed, market, until)
    for bucket in range(full_buckets):
        bucket_high, bucket_low = _bucket_extremes(seed, market.code, day_start, bucket)
        high, low = max(high, bucket_high), min(low, bucket_low)
    return high, low


def _quote_round(market: Market, value: float) -> int | float:
    if market.quote == "KRW":
        return round_krw(value)
    return round(value, 8)


def _fmt_date(ms: int, shift: timedelta = timedelta(0)) -> tuple[str, str]:
    moment = datetime.fromtimestamp(ms / 1000, UTC) + shift
    return moment.strftime("%Y%m%d"), moment.strftime("%H%M%S")


def ticker(seed: int, market: Market, now: float, *, kst_timestamp_quirk: bool = True) -> dict[str, Any]:
    """The v1 ``/v1/ticker`` object for ``market`` as of ``now`` (26 fields, docs/providers.md §8.1)."""
    trade_ms = last_trade_ms(seed, market, now)
    trade_t = trade_ms / 1000
    day_start = _day_start_kst(trade_t)
    trade_price = quote_price(seed, market, trade_t)
    opening = _quote_round(market, price_in_quote(seed, market, day_start))
    prev_close = _quote_round(market, price_in_quote(seed, market, day_start - 1))
    high, low = day_extremes(seed, market, day_start, trade_t)
    high_p = max(_quote_round(market, high), trade_price, opening)
    low_p = min(_quote_round(market, low), trade_price, opening)
    change_price = trade_price - prev_close
    change_rate = (change_price / prev_close) if prev_close else 0.0
    change = "RISE" if change_price > 0 else "FALL" if change_price < 0 else "EVEN"
    price_now = float(trade_price)
    # Accumulated volume since 00:00 KST, with a little deterministic irregularity.
    krw_per_unit = (
        price_now
        if market.quote == "KRW"
        else krw_price(market.coin or _orphan_coin(seed, market), "bithumb", trade_t, seed)
    )
    daily_units = market.daily_volume_krw / max(krw_per_unit, 1e-12)
    elapsed = trade_t - day_start
    acc_volume = daily_units * elapsed / 86400 * (0.9 + 0.2 * unit(seed, market.code, "accv", int(day_start)))
    acc_volume_24h = daily_units * (0.85 + 0.3 * unit(seed, market.code, "acc24", int(trade_t // 3600)))
    avg_price = (float(opening) + price_now) / 2
    trade_volume = round(daily_units / 20000 * (0.05 + 3 * unit(seed, market.code, "size", trade_ms)), 8)
    high52, low52, high52_date, low52_date = _week52(seed, market, trade_t, float(high_p), float(low_p))
    trade_date, trade_time = _fmt_date(trade_ms)
    trade_date_kst, trade_time_kst = _fmt_date(trade_ms, KST)
    signed_change_rate = round(change_rate, 8)
    return {
        "market": market.code,
        "trade_date": trade_date,
        "trade_time": trade_time,
        "trade_date_kst": trade_date_kst,
        "trade_time_kst": trade_time_kst,
        # Bithumb quirk (docs/providers.md §8.1): KST wall-clock encoded as if UTC, 9 h ahead of true epoch.
        "trade_timestamp": trade_ms + (KST_MS if kst_timestamp_quirk else 0),
        "opening_price": opening,
        "high_price": high_p,
        "low_price": low_p,
        "trade_price": trade_price,
        "prev_closing_price": prev_close,
        "change": change,
        "change_price": _num(abs(change_price)),
        "change_rate": abs(signed_change_rate),
        "signed_change_price": _num(change_price),
        "signed_change_rate": signed_change_rate,
        "trade_volume": trade_volume,
        "acc_trade_price": acc_volume * avg_price,
        "acc_trade_price_24h": acc_volume_24h * avg_price,
        "acc_trade_volume": round(acc_volume, 8),
        "acc_trade_volume_24h": round(acc_volume_24h, 8),
        "highest_52_week_price": high52,
        "highest_52_week_date": high52_date,
        "lowest_52_week_price": low52,
        "lowest_52_week_date": low52_date,
        # The snapshot time moves only with a trade (a few ms after it), see the module docstring.
        "timestamp": trade_ms + 20 + int(400 * unit(seed, market.code, "snap", trade_ms)),
    }


def _num(value: float | int) -> int | float:
    """Whole numbers as int, others rounded to 8 places (Bithumb's JSON numbers)."""
    if float(value).is_integer():
        return int(value)
    return round(float(value), 8)


def _week52(
    seed: int, market: Market, t: float, high: float, low: float
) -> tuple[int | float, int | float, str, str]:
    week = int(t // (7 * 86400))
    base = price_in_quote(seed, market, t)
    high52 = max(high, base * (1.1 + 0.6 * unit(seed, market.code, "h52", week)))
    low52 = min(low, base * (0.45 + 0.4 * unit(seed, market.code, "l52", week)))
    day = datetime.fromtimestamp(t, UTC).date()
    high_date = day - timedelta(days=1 + int(360 * unit(seed, market.code, "h52d", week)))
    low_date = day - timedelta(days=1 + int(360 * unit(seed, market.code, "l52d", week)))
    return (
        _quote_round(market, high52),
        _quote_round(market, low52),
        high_date.isoformat(),
        low_date.isoformat(),
    )


def legacy_ticker(seed: int, market: Market, now: float) -> dict[str, str]:
    """The legacy ``/public/ticker`` object for one coin: every value a string (docs/providers.md §8.2)."""
    v1 = ticker(seed, market, now)
    fluctate = v1["trade_price"] - _quote_round(market, price_in_quote(seed, market, now - 86400))
    base = float(v1["trade_price"]) - fluctate
    return {
        "opening_price": str(v1["opening_price"]),
        "closing_price": str(v1["trade_price"]),
        "min_price": str(v1["low_price"]),
        "max_price": str(v1["high_price"]),
        "units_traded": str(v1["acc_trade_volume"]),
        "acc_trade_value": f"{v1['acc_trade_price']:.4f}",
        "prev_closing_price": str(v1["prev_closing_price"]),
        "units_traded_24H": str(v1["acc_trade_volume_24h"]),
        "acc_trade_value_24H": f"{v1['acc_trade_price_24h']:.4f}",
        "fluctate_24H": str(_num(fluctate)),
        "fluctate_rate_24H": f"{(fluctate / base * 100) if base else 0:.2f}",
    }
