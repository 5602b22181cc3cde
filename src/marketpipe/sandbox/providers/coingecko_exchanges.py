"""Which exchanges list which coin, and the ``/coins/{id}/tickers`` objects they produce.

Korean venues (upbit, bithumb, korbit, coinone) quote in KRW with the kimchi premium of
:func:`coingecko_universe.korean_premium`; Bithumb's KRW ``last`` is exactly the Bithumb simulator's
trade price at that instant. Global venues quote near the global USD price. Identifiers are
CoinGecko's real ones (``bybit_spot``, ``okex``, ``huobi``, ``gate``, ``coinbase-exchange``), so a
client that filters on ``bybit``/``okx`` gets nothing from those venues, as on the real API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from marketpipe.sandbox.providers import bithumb_world as bw
from marketpipe.sandbox.providers.coingecko_universe import (
    Coin,
    krw_price,
    market_stats,
    price_usd,
    round_krw,
    unit,
    universe,
    usd_krw,
)


@dataclass(frozen=True)
class Exchange:
    identifier: str
    name: str
    trust: str | None  # typical trust score of its tickers
    targets: tuple[str, ...]  # quote currencies, most important first
    korean: bool
    reach: float  # probability that a mid-cap coin is listed here
    share: float  # relative share of a coin's global volume
    trade_url: str  # format with {base} {target}
    dex: bool = False


EXCHANGES: tuple[Exchange, ...] = (
    Exchange(
        "binance",
        "Binance",
        "green",
        ("USDT", "USDC", "FDUSD", "BTC", "ETH", "TRY", "EUR"),
        False,
        0.55,
        30,
        "https://www.binance.com/en/trade/{base}_{target}?ref=37754157",
    ),
    Exchange(
        "coinbase-exchange",
        "Coinbase Exchange",
        "green",
        ("USD", "USDT", "EUR", "GBP"),
        False,
        0.35,
        8,
        "https://www.coinbase.com/advanced-trade/spot/{base}-{target}",
    ),
    Exchange(
        "kraken",
        "Kraken",
        "green",
        ("USD", "EUR", "USDT"),
        False,
        0.3,
        4,
        "https://pro.kraken.com/app/trade/{base}-{target}",
    ),
    Exchange(
        "bybit_spot",
        "Bybit",
        "green",
        ("USDT", "USDC"),
        False,
        0.45,
        10,
        "https://www.bybit.com/en-US/trade/spot/{base}/{target}",
    ),
    Exchange(
        "okex",
        "OKX",
        "green",
        ("USDT", "USDC", "EUR"),
        False,
        0.45,
        9,
        "https://www.okx.com/trade-spot/{base}-{target}",
    ),
    Exchange(
        "huobi",
        "HTX",
        "yellow",
        ("USDT", "BTC"),
        False,
        0.35,
        3,
        "https://www.htx.com/en-us/exchange/{base}_{target}",
    ),
    Exchange(
        "gate",
        "Gate",
        "green",
        ("USDT", "BTC", "ETH"),
        False,
        0.7,
        3,
        "https://www.gate.io/trade/{base}_{target}",
    ),
    Exchange(
        "kucoin",
        "KuCoin",
        "green",
        ("USDT", "BTC", "USDC"),
        False,
        0.5,
        3,
        "https://www.kucoin.com/trade/{base}-{target}",
    ),
    Exchange(
        "bitget",
        "Bitget",
        "green",
        ("USDT", "USDC"),
        False,
        0.5,
        4,
        "https://www.bitget.com/spot/{base}{target}",
    ),
    Exchange(
        "mxc",
        "MEXC",
        "green",
        ("USDT", "USDC"),
        False,
        0.75,
        3,
        "https://www.mexc.com/exchange/{base}_{target}",
    ),
    Exchange(
        "bitfinex",
        "Bitfinex",
        "green",
        ("USD", "USDT", "EUR"),
        False,
        0.15,
        1,
        "https://trading.bitfinex.com/t/{base}:{target}",
    ),
    Exchange(
        "bitstamp",
        "Bitstamp",
        "green",
        ("USD", "EUR", "USDT"),
        False,
        0.12,
        1,
        "https://www.bitstamp.net/markets/{base}/{target}/",
    ),
    Exchange(
        "gemini",
        "Gemini",
        "green",
        ("USD",),
        False,
        0.1,
        0.6,
        "https://exchange.gemini.com/trade/{base}{target}",
    ),
    Exchange(
        "crypto_com",
        "Crypto.com Exchange",
        "green",
        ("USD", "USDT", "BTC"),
        False,
        0.3,
        3,
        "https://crypto.com/exchange/trade/{base}_{target}",
    ),
    Exchange(
        "binance_us",
        "Binance US",
        "yellow",
        ("USDT", "USD"),
        False,
        0.1,
        0.3,
        "https://www.binance.us/spot-trade/{base}_{target}",
    ),
    Exchange(
        "bitmart",
        "BitMart",
        "yellow",
        ("USDT",),
        False,
        0.4,
        0.8,
        "https://www.bitmart.com/trade/en?symbol={base}_{target}",
    ),
    Exchange(
        "lbank", "LBank", "yellow", ("USDT",), False, 0.4, 0.8, "https://www.lbank.com/trade/{base}_{target}"
    ),
    Exchange(
        "whitebit",
        "WhiteBIT",
        "green",
        ("USDT", "EUR"),
        False,
        0.2,
        1,
        "https://whitebit.com/trade/{base}-{target}",
    ),
    Exchange(
        "bingx", "BingX", "green", ("USDT",), False, 0.35, 1.5, "https://bingx.com/en/spot/{base}{target}"
    ),
    Exchange(
        "bitvavo",
        "Bitvavo",
        "green",
        ("EUR",),
        False,
        0.2,
        0.8,
        "https://account.bitvavo.com/markets/{base}-{target}",
    ),
    Exchange(
        "btcturk",
        "BtcTurk | Kripto",
        "green",
        ("TRY", "USDT"),
        False,
        0.15,
        0.6,
        "https://kripto.btcturk.com/pro/al-sat/{base}_{target}",
    ),
    Exchange(
        "bitflyer",
        "bitFlyer",
        "green",
        ("JPY",),
        False,
        0.03,
        0.5,
        "https://bitflyer.com/en-jp/ex/simple/{base}_{target}",
    ),
    Exchange(
        "poloniex",
        "Poloniex",
        "red",
        ("USDT",),
        False,
        0.2,
        0.3,
        "https://poloniex.com/trade/{base}_{target}",
    ),
    Exchange("xt", "XT.COM", None, ("USDT",), False, 0.3, 0.5, "https://www.xt.com/en/trade/{base}_{target}"),
    Exchange(
        "upbit",
        "Upbit",
        "green",
        ("KRW", "BTC", "USDT"),
        True,
        0.0,
        6,
        "https://upbit.com/exchange?code=CRIX.UPBIT.{target}-{base}",
    ),
    Exchange(
        "bithumb",
        "Bithumb",
        "green",
        ("KRW",),
        True,
        0.0,
        3,
        "https://www.bithumb.com/react/trade/order/{base}-{target}",
    ),
    Exchange(
        "korbit",
        "Korbit",
        "yellow",
        ("KRW",),
        True,
        0.0,
        0.3,
        "https://exchange.korbit.co.kr/trade/?market={base_l}-{target_l}",
    ),
    Exchange(
        "coinone",
        "Coinone",
        "yellow",
        ("KRW",),
        True,
        0.0,
        0.4,
        "https://coinone.co.kr/exchange/trade/{base_l}/{target_l}",
    ),
    Exchange(
        "uniswap_v3",
        "Uniswap V3 (Ethereum)",
        "green",
        ("WETH", "USDC"),
        False,
        0.0,
        1,
        "https://app.uniswap.org/#/swap?inputCurrency={target_addr}&outputCurrency={base_addr}",
        dex=True,
    ),
    Exchange(
        "pancakeswap_new",
        "PancakeSwap (v2)",
        "yellow",
        ("WBNB", "USDT"),
        False,
        0.0,
        0.5,
        "https://pancakeswap.finance/swap?inputCurrency={target_addr}&outputCurrency={base_addr}",
        dex=True,
    ),
)
_MINOR_SYLLABLES = (
    "bit",
    "coin",
    "ex",
    "tra",
    "zon",
    "pro",
    "hub",
    "max",
    "nova",
    "fin",
    "dex",
    "ko",
    "lat",
    "ri",
)


def _minor_exchanges() -> tuple[Exchange, ...]:
    """The long tail: small venues that list the big coins against USDT (so majors page past 100)."""
    venues = []
    for n in range(90):
        first = _MINOR_SYLLABLES[n % len(_MINOR_SYLLABLES)]
        second = _MINOR_SYLLABLES[(n * 7 + 3) % len(_MINOR_SYLLABLES)]
        ident = f"{first}{second}{n}"
        trust = ("yellow", "red", None, "green")[n % 4]
        venues.append(
            Exchange(ident, f"{first.capitalize()}{second.capitalize()} {n}", trust, ("USDT", "USD"), False, 0.04, 0.1,
                     f"https://{ident}.example/trade/{{base}}_{{target}}")
        )  # fmt: skip
    return tuple(venues)


EXCHANGES = EXCHANGES + _minor_exchanges()
BY_ID = {e.identifier: e for e in EXCHANGES}

#: Quote currencies that are coins themselves (their ticker carries ``target_coin_id``).
TARGET_COINS = {
    "USDT": "tether",
    "USDC": "usd-coin",
    "FDUSD": "first-digital-usd",
    "BTC": "bitcoin",
    "ETH": "ethereum",
    "WETH": "weth",
    "WBNB": "wbnb",
}
_TARGET_USD_PRICE_ID = {
    "USDT": "tether",
    "USDC": "usd-coin",
    "FDUSD": "usd-coin",
    "BTC": "bitcoin",
    "ETH": "ethereum",
    "WETH": "ethereum",
    "WBNB": "binancecoin",
}
_FIAT = {"USD", "EUR", "KRW", "TRY", "JPY", "GBP"}


def listings(seed: int, coin: Coin) -> list[tuple[Exchange, str]]:
    """The (exchange, target) pairs that trade ``coin``; stable for a seed."""
    on_bithumb = coin.id in _bithumb_symbols(seed)
    rank = coin.market_cap_rank or 5000
    pairs: list[tuple[Exchange, str]] = []
    symbol = coin.symbol.upper()
    for exchange in EXCHANGES:
        if exchange.identifier == "bithumb":
            listed = on_bithumb
        elif exchange.korean:
            # Korean venues list what Bithumb lists: every major, most of the rest.
            odds = 1.0 if rank <= 25 else 0.9 if rank <= 50 else 0.55
            listed = on_bithumb and unit(seed, coin.id, exchange.identifier, "kr") < odds
        elif exchange.dex:
            listed = bool(coin.platforms) and unit(seed, coin.id, exchange.identifier) < 0.7
        elif rank <= 25:
            listed = True
        else:
            reach = exchange.reach * (1.0 if rank <= 300 else 0.45 if rank <= 1500 else 0.15)
            listed = unit(seed, coin.id, exchange.identifier, "listed") < reach
        if not listed:
            continue
        n_targets = (
            len(exchange.targets)
            if rank <= 25
            else 1 + int(unit(seed, coin.id, exchange.identifier, "nt") * 2)
        )
        for target in exchange.targets[:n_targets]:
            if target.lower() == coin.symbol or (
                target in ("WETH", "WBNB") and coin.symbol in ("eth", "bnb")
            ):
                continue
            pairs.append((exchange, target))
    if symbol in ("USDT", "USDC") and not pairs:
        pairs.append((BY_ID["binance"], "TRY"))
    return pairs


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), UTC).isoformat()


def _target_price_usd(seed: int, target: str, t: float) -> float:
    coin_id = _TARGET_USD_PRICE_ID.get(target)
    if coin_id is not None:
        return price_usd(universe(seed).by_id[coin_id], t, seed)
    if target == "KRW":
        return 1 / usd_krw(t)
    per_usd = {"USD": 1.0, "EUR": 0.92, "TRY": 34.2, "JPY": 151.0, "GBP": 0.79}[target]
    return 1 / per_usd


def ticker_object(
    seed: int, coin: Coin, exchange: Exchange, target: str, t: float, *, depth: bool, logo: bool
) -> dict[str, Any]:
    """One ``/coins/{id}/tickers`` entry, priced consistently with the rest of the simulated market."""
    key = (seed, coin.id, exchange.identifier, target)
    stale = unit(*key, "stale") < 0.03
    traded_at = t - (
        3 * 86400 * (0.2 + unit(*key, "stale-age")) if stale else 5 + 170 * unit(*key, "age", int(t // 120))
    )
    stats = market_stats(coin, traded_at, seed)
    if exchange.identifier == "bithumb":
        bithumb_market = bw.markets(seed).by_code.get(f"KRW-{_bithumb_symbol(seed, coin)}")
        last_value = (
            float(bw.quote_price(seed, bithumb_market, traded_at))
            if bithumb_market
            else krw_price(coin, "bithumb", traded_at, seed)
        )
        usd_price = last_value / usd_krw(traded_at)
    elif exchange.korean:
        usd_price = krw_price(coin, exchange.identifier, traded_at, seed) / usd_krw(traded_at)
    else:
        usd_price = stats.price * (1 + 0.004 * (unit(*key, "venue") - 0.5))
    anomaly = unit(*key, "anomaly") < 0.01
    if anomaly:
        usd_price *= 1.35
    target_usd = _target_price_usd(seed, target, traded_at)
    last: float = usd_price / target_usd
    if target == "KRW":
        last = float(round_krw(last))
    exchange_volume_usd = stats.total_volume * exchange.share / 90 * (0.4 + 1.2 * unit(*key, "volume"))
    if target != exchange.targets[0]:
        exchange_volume_usd *= 0.2
    volume = exchange_volume_usd / usd_price if usd_price else 0.0
    btc_usd = price_usd(universe(seed).by_id["bitcoin"], traded_at, seed)
    eth_usd = price_usd(universe(seed).by_id["ethereum"], traded_at, seed)
    base_symbol = coin.symbol.upper()
    trade_base, trade_target = base_symbol, target
    if exchange.dex and coin.platforms:
        base_symbol = next(iter(coin.platforms.values())).upper()  # DEX tickers often carry the contract
    market: dict[str, Any] = {
        "name": exchange.name,
        "identifier": exchange.identifier,
        "has_trading_incentive": False,
    }
    if logo:
        market["logo"] = (
            f"https://coin-images.coingecko.com/markets/images/{1 + int(unit('logo', exchange.identifier) * 1500)}/small/{exchange.identifier}.png"
        )
    obj: dict[str, Any] = {
        "base": base_symbol,
        "target": target,
        "market": market,
        "last": _sig(last),
        "volume": _sig(volume),
    }
    if depth:
        obj["cost_to_move_up_usd"] = round(exchange_volume_usd * 0.004 * (0.5 + unit(*key, "up")), 6)
        obj["cost_to_move_down_usd"] = round(exchange_volume_usd * 0.004 * (0.5 + unit(*key, "down")), 6)
    trust = exchange.trust
    if stale or anomaly:
        trust = None if unit(*key, "trust") < 0.5 else "red"
    elif exchange_volume_usd < 20_000 and trust == "green":
        trust = "yellow"
    fetched = t - 20 * unit(*key, "fetch", int(t // 60))
    obj.update(
        {
            "converted_last": {
                "btc": _sig(usd_price / btc_usd),
                "eth": _sig(usd_price / eth_usd),
                "usd": _sig(usd_price),
            },
            "converted_volume": {
                "btc": _sig(exchange_volume_usd / btc_usd),
                "eth": _sig(exchange_volume_usd / eth_usd),
                "usd": _sig(exchange_volume_usd),
            },
            "trust_score": trust,
            "bid_ask_spread_percentage": round(
                0.01 + (0.6 if trust != "green" else 0.1) * unit(*key, "spread"), 6
            ),
            "timestamp": _iso(traded_at),
            "last_traded_at": _iso(traded_at),
            "last_fetch_at": _iso(max(traded_at, fetched)),
            "is_anomaly": anomaly,
            "is_stale": stale,
            "trade_url": exchange.trade_url.format(
                base=trade_base,
                target=trade_target,
                base_l=trade_base.lower(),
                target_l=trade_target.lower(),
                base_addr=next(iter(coin.platforms.values()), ""),
                target_addr="0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2",
            ),
            "token_info_url": None,
            "coin_id": coin.id,
        }
    )
    target_coin = TARGET_COINS.get(target)
    if target_coin is not None and target not in _FIAT:
        obj["target_coin_id"] = target_coin
    return obj


@lru_cache(maxsize=4)
def _bithumb_symbols(seed: int) -> dict[str, str]:
    """coin id → Bithumb KRW market symbol."""
    return {m.coin.id: m.base for m in bw.markets(seed).items if m.quote == "KRW" and m.coin is not None}


def _bithumb_symbol(seed: int, coin: Coin) -> str:
    return _bithumb_symbols(seed).get(coin.id, coin.symbol.upper())


def _sig(value: float) -> float | int:
    """Round to ~10 significant digits (CoinGecko's floats), integers stay ints when whole and large."""
    if value == 0 or float(value).is_integer():
        return int(value)
    if abs(value) >= 1e6:
        return round(value, 2)
    return float(f"{value:.10g}")


_TRUST_ORDER = {"green": 0, "yellow": 1, "red": 2, None: 3}


def order_tickers(tickers: list[dict[str, Any]], order: str) -> list[dict[str, Any]]:
    """Sort as ``order`` asks: ``trust_score_desc`` (default), ``trust_score_asc``, ``volume_desc``/``_asc``."""
    if order == "volume_desc":
        return sorted(tickers, key=lambda x: -x["converted_volume"]["usd"])
    if order == "volume_asc":
        return sorted(tickers, key=lambda x: x["converted_volume"]["usd"])
    ranked = sorted(tickers, key=lambda x: (_TRUST_ORDER[x["trust_score"]], -x["converted_volume"]["usd"]))
    return list(reversed(ranked)) if order == "trust_score_asc" else ranked
