"""The simulated crypto market shared by the CoinGecko and Bithumb simulators.

One deterministic universe of coins (every id of ``bithumb_coingecko_ids.csv`` plus generated
others, with ambiguous symbols), their USD prices as smooth functions of the sandbox clock, the
USD/KRW rate and a per-coin Korean premium ("kimchi premium"). Bithumb's KRW prices and CoinGecko's
``converted_last`` values are derived from the same functions, so the two simulators agree with each
other the way the real venues roughly do.

Everything here is pure: functions of (seed, coin, unix seconds); no I/O except reading the CSV once.
"""

from __future__ import annotations

import csv
import hashlib
import math
import struct
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
MAPPING_CSV = DATA_DIR / "bithumb_coingecko_ids.csv"

#: How many coins the universe holds in total (CSV coins + decoys + generated fillers).
UNIVERSE_SIZE = 3000


def unit(*parts: object) -> float:
    """A deterministic pseudo-random number in [0, 1) derived from ``parts``."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return struct.unpack(">Q", digest)[0] / 2.0**64


def pick(seq: list[str] | tuple[str, ...], *parts: object) -> str:
    """A deterministic choice from ``seq``."""
    return seq[int(unit(*parts) * len(seq))]


@dataclass(frozen=True)
class Coin:
    """One coin of the simulated universe (static facts; prices come from :func:`price_usd`)."""

    id: str
    symbol: str  # lower case, as CoinGecko serves it
    name: str
    base_price_usd: float
    circulating_supply: float
    total_supply: float | None
    max_supply: float | None
    volatility: float  # scales every price wiggle; stablecoins are ~0
    ranked: bool  # False → market_cap_rank null and market_cap 0 (CoinGecko has many of those)
    ath: float
    ath_date: str
    atl: float
    atl_date: str
    genesis_date: str | None
    categories: tuple[str, ...]
    platforms: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    number: int = 0  # CoinGecko's numeric image id
    market_cap_rank: int | None = None


# id, symbol, name, price, circulating, total, max, volatility, ath, ath_date, atl, atl_date, genesis
_MAJORS: list[
    tuple[str, str, str, float, float, float | None, float | None, float, float, str, float, str, str | None]
] = [
    (
        "bitcoin",
        "btc",
        "Bitcoin",
        95000.0,
        19.95e6,
        19.95e6,
        21e6,
        1.0,
        126080.0,
        "2025-10-06T18:57:42.558Z",
        67.81,
        "2013-07-06T00:00:00.000Z",
        "2009-01-03",
    ),
    (
        "ethereum",
        "eth",
        "Ethereum",
        3300.0,
        120.7e6,
        120.7e6,
        None,
        1.3,
        4946.05,
        "2025-08-24T19:21:03.333Z",
        0.432979,
        "2015-10-20T00:00:00.000Z",
        "2015-07-30",
    ),
    (
        "tether",
        "usdt",
        "Tether",
        1.0,
        185e9,
        185e9,
        None,
        0.0,
        1.32,
        "2018-07-24T00:00:00.000Z",
        0.572521,
        "2015-03-02T00:00:00.000Z",
        None,
    ),
    (
        "ripple",
        "xrp",
        "XRP",
        2.2,
        60.2e9,
        99.98e9,
        100e9,
        1.6,
        3.65,
        "2025-07-18T03:40:53.808Z",
        0.00268621,
        "2014-05-22T00:00:00.000Z",
        None,
    ),
    (
        "binancecoin",
        "bnb",
        "BNB",
        900.0,
        138e6,
        138e6,
        200e6,
        1.2,
        1369.99,
        "2025-10-13T08:41:24.131Z",
        0.0398177,
        "2017-10-19T00:00:00.000Z",
        None,
    ),
    (
        "solana",
        "sol",
        "Solana",
        140.0,
        560e6,
        612e6,
        None,
        1.8,
        293.31,
        "2025-01-19T11:15:27.957Z",
        0.500801,
        "2020-05-11T19:35:23.449Z",
        None,
    ),
    (
        "usd-coin",
        "usdc",
        "USDC",
        1.0,
        75e9,
        75e9,
        None,
        0.0,
        1.17,
        "2019-05-08T00:40:28.300Z",
        0.877647,
        "2023-03-11T08:02:13.981Z",
        None,
    ),
    (
        "dogecoin",
        "doge",
        "Dogecoin",
        0.16,
        151e9,
        151e9,
        None,
        2.0,
        0.731578,
        "2021-05-08T05:08:23.458Z",
        8.69e-05,
        "2015-05-06T00:00:00.000Z",
        "2013-12-08",
    ),
    (
        "tron",
        "trx",
        "TRON",
        0.28,
        94.7e9,
        94.7e9,
        None,
        1.0,
        0.431288,
        "2024-12-04T00:10:40.323Z",
        0.00180434,
        "2017-11-12T00:00:00.000Z",
        None,
    ),
    (
        "cardano",
        "ada",
        "Cardano",
        0.45,
        36.5e9,
        45e9,
        45e9,
        1.8,
        3.09,
        "2021-09-02T06:00:10.474Z",
        0.01925275,
        "2020-03-13T02:22:55.044Z",
        "2017-09-29",
    ),
    (
        "shiba-inu",
        "shib",
        "Shiba Inu",
        9.5e-06,
        589.2e12,
        589.5e12,
        None,
        2.2,
        8.616e-05,
        "2021-10-28T03:54:55.568Z",
        5.6366e-11,
        "2020-11-28T11:26:25.838Z",
        None,
    ),
    (
        "avalanche-2",
        "avax",
        "Avalanche",
        14.0,
        427e6,
        458e6,
        720e6,
        2.0,
        144.96,
        "2021-11-21T14:18:56.538Z",
        2.8,
        "2020-12-31T13:15:21.540Z",
        None,
    ),
    (
        "chainlink",
        "link",
        "Chainlink",
        13.0,
        678e6,
        1e9,
        1e9,
        1.8,
        52.7,
        "2021-05-10T00:13:57.214Z",
        0.148183,
        "2017-11-29T00:00:00.000Z",
        None,
    ),
    (
        "the-open-network",
        "ton",
        "Toncoin",
        1.6,
        2.5e9,
        5.1e9,
        None,
        1.8,
        8.25,
        "2024-06-15T00:36:51.509Z",
        0.519364,
        "2021-09-21T00:33:11.092Z",
        None,
    ),
    (
        "polygon-ecosystem-token",
        "pol",
        "POL (ex-MATIC)",
        0.15,
        10.5e9,
        10.5e9,
        None,
        2.0,
        1.29,
        "2024-03-13T19:24:28.911Z",
        0.0887,
        "2025-10-10T21:17:31.234Z",
        None,
    ),
    (
        "crypto-com-chain",
        "cro",
        "Cronos",
        0.1,
        36e9,
        100e9,
        100e9,
        1.8,
        0.965407,
        "2021-11-24T15:53:54.855Z",
        0.0121196,
        "2019-02-08T00:00:00.000Z",
        None,
    ),
    (
        "sui",
        "sui",
        "Sui",
        1.6,
        3.6e9,
        10e9,
        10e9,
        2.2,
        5.35,
        "2025-01-04T10:15:08.412Z",
        0.364846,
        "2023-10-19T10:40:30.078Z",
        None,
    ),
    (
        "pepe",
        "pepe",
        "Pepe",
        5.2e-06,
        420.69e12,
        420.69e12,
        420.69e12,
        2.5,
        2.803e-05,
        "2024-12-09T07:55:28.460Z",
        5.5142e-08,
        "2023-04-18T02:14:41.591Z",
        None,
    ),
    (
        "wrapped-bitcoin",
        "wbtc",
        "Wrapped Bitcoin",
        95000.0,
        130e3,
        130e3,
        130e3,
        1.0,
        126000.0,
        "2025-10-06T19:03:11.000Z",
        3139.17,
        "2019-04-02T00:00:00.000Z",
        None,
    ),
    (
        "staked-ether",
        "steth",
        "Lido Staked Ether",
        3300.0,
        8.6e6,
        8.6e6,
        None,
        1.3,
        4932.0,
        "2025-08-24T19:21:00.000Z",
        482.9,
        "2020-12-22T04:08:21.854Z",
        None,
    ),
]

#: Names where "title-case the id" would be wrong or unhelpful.
_NAME_OVERRIDES = {
    "vaulta": "Vaulta",
    "altlayer": "AltLayer",
    "beam-2": "Beam",
    "meta-2-2": "MetaDAO",
    "threshold-network-token": "Threshold Network",
    "sonic-3": "Sonic",
    "official-trump": "Official Trump",
    "worldcoin-wld": "Worldcoin",
    "elrond-erd-2": "MultiversX",
    "1inch": "1inch",
}

#: Extra coins that share an ambiguous symbol with a Bithumb-listed coin but are smaller (the seed
#: resolved A, ALT, BEAM, META, T, S ... "by higher market cap"). (id, symbol, name)
_DECOYS: list[tuple[str, str, str]] = [
    ("a-token", "a", "A Token"),
    ("alpha-a", "a", "Alpha A"),
    ("altcoin-2", "alt", "Altcoin"),
    ("alt-finance", "alt", "Alt Finance"),
    ("beam", "beam", "BEAM (Privacy)"),
    ("meta", "meta", "Metadium Classic"),
    ("metaverse-meta", "meta", "Metaverse Index"),
    ("t-protocol", "t", "T Protocol"),
    ("sonic", "s", "Sonic Classic"),
    ("s-finance", "s", "S Finance"),
    ("ton-crystal", "ton", "TON Crystal"),
    ("bitcoin-2", "btc", "Bitcoin 2"),
    ("eth-2x", "eth", "ETH 2x Index"),
    ("sui-inu", "sui", "Sui Inu"),
]

_CATEGORIES = (
    "Layer 1 (L1)",
    "Smart Contract Platform",
    "Decentralized Finance (DeFi)",
    "Meme",
    "Gaming (GameFi)",
    "Artificial Intelligence (AI)",
    "Layer 2 (L2)",
    "Real World Assets (RWA)",
    "Stablecoins",
    "Exchange-based Tokens",
    "Infrastructure",
    "Privacy Coins",
    "Oracle",
    "Storage",
    "Metaverse",
)
_SYLLABLES = (
    "ka",
    "lo",
    "vex",
    "zor",
    "mi",
    "ra",
    "nu",
    "tri",
    "qua",
    "by",
    "ton",
    "el",
    "ar",
    "sy",
    "dex",
    "fi",
    "no",
    "va",
    "ly",
    "pix",
    "or",
    "ion",
    "gal",
    "hex",
    "mu",
    "sol",
    "ter",
    "ze",
    "chi",
    "rex",
    "am",
    "bo",
)
_SUFFIXES = ("", "", "", " Network", " Protocol", " Finance", " Chain", " AI", " Token", " DAO", " Swap")
_PLATFORMS = ("ethereum", "binance-smart-chain", "solana", "arbitrum-one", "base", "polygon-pos")


def _title_from_id(coin_id: str) -> str:
    words = [w for w in coin_id.split("-") if not w.isdigit()] or [coin_id]
    return " ".join(w.upper() if len(w) <= 2 else w.capitalize() for w in words)


def _iso_day(days_before_2026: int) -> str:
    """An ISO timestamp ``days_before_2026`` days before 2026-01-01 (deterministic historic dates)."""
    epoch = 1767225600 - days_before_2026 * 86400  # 2026-01-01T00:00:00Z
    return _iso_ms(epoch)


def _iso_ms(epoch_s: float) -> str:
    import datetime as _dt

    moment = _dt.datetime.fromtimestamp(epoch_s, tz=_dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def generated_coin(seed: int, coin_id: str, symbol: str, name: str, *, cap_lo: float, cap_hi: float) -> Coin:
    """A coin whose figures are drawn deterministically from its id."""
    cap = math.exp(math.log(cap_lo) + unit(seed, coin_id, "cap") * (math.log(cap_hi) - math.log(cap_lo)))
    price = math.exp(math.log(1e-5) + unit(seed, coin_id, "price") * (math.log(800.0) - math.log(1e-5)))
    circulating = cap / price
    total = circulating * (1 + 2 * unit(seed, coin_id, "total"))
    max_supply = None if unit(seed, coin_id, "max") < 0.45 else total * (1 + unit(seed, coin_id, "max2"))
    ath = price * (1.5 + 30 * unit(seed, coin_id, "ath") ** 2)
    atl = price * (0.02 + 0.6 * unit(seed, coin_id, "atl"))
    ath_days = int(20 + 1500 * unit(seed, coin_id, "athd"))
    atl_days = int(20 + 1800 * unit(seed, coin_id, "atld"))
    genesis_days = int(400 + 3000 * unit(seed, coin_id, "gen"))
    n_cats = 1 + int(3 * unit(seed, coin_id, "ncat"))
    categories = tuple(sorted({pick(_CATEGORIES, seed, coin_id, "cat", i) for i in range(n_cats)}))
    platforms: dict[str, str] = {}
    if unit(seed, coin_id, "token") < 0.6:
        platform = pick(_PLATFORMS, seed, coin_id, "platform")
        address = hashlib.sha1(f"{seed}:{coin_id}".encode()).hexdigest()
        platforms[platform] = "0x" + address if platform != "solana" else address[:32]
    return Coin(
        id=coin_id,
        symbol=symbol,
        name=name,
        base_price_usd=price,
        circulating_supply=circulating,
        total_supply=total,
        max_supply=max_supply,
        volatility=1.5 + 2.0 * unit(seed, coin_id, "vol"),
        ranked=True,
        ath=ath,
        ath_date=_iso_day(ath_days),
        atl=atl,
        atl_date=_iso_day(atl_days),
        genesis_date=None if unit(seed, coin_id, "g?") < 0.5 else _iso_day(genesis_days)[:10],
        categories=categories,
        platforms=platforms,
    )


@lru_cache(maxsize=1)
def bithumb_mapping() -> tuple[tuple[str, str], ...]:
    """The (bithumb_symbol, coingecko_id) pairs of the shipped CSV, in file order."""
    with MAPPING_CSV.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return tuple((row["bithumb_symbol"].strip(), row["coingecko_id"].strip()) for row in rows)


@dataclass(frozen=True)
class Universe:
    """All coins, by rank (ranked first, then unranked), with lookups."""

    coins: tuple[Coin, ...]
    by_id: dict[str, Coin]


@lru_cache(maxsize=4)
def universe(seed: int = 0) -> Universe:
    """The deterministic coin universe for ``seed`` (cached)."""
    coins: dict[str, Coin] = {}
    for row in _MAJORS:
        cid, sym, name, price, circ, total, max_s, vol, ath, ath_d, atl, atl_d, genesis = row
        coins[cid] = Coin(
            id=cid,
            symbol=sym,
            name=name,
            base_price_usd=price,
            circulating_supply=circ,
            total_supply=total,
            max_supply=max_s,
            volatility=vol,
            ranked=True,
            ath=ath,
            ath_date=ath_d,
            atl=atl,
            atl_date=atl_d,
            genesis_date=genesis,
            categories=("Stablecoins",) if vol == 0 else ("Layer 1 (L1)", "Smart Contract Platform"),
        )
    for symbol, cid in bithumb_mapping():
        if cid not in coins:
            name = _NAME_OVERRIDES.get(cid, _title_from_id(cid))
            coins[cid] = generated_coin(seed, cid, symbol.lower(), name, cap_lo=8e6, cap_hi=5e9)
    for cid, sym, name in _DECOYS:
        if cid not in coins:
            # Decoys stay well below the listed coin of the same symbol (cap ≤ 5M vs ≥ 8M).
            coins[cid] = generated_coin(seed, cid, sym, name, cap_lo=2e4, cap_hi=5e6)
    # Older coins whose id the listed coin's "-2"/"-3" suffix implies (beam-2 → beam exists too).
    for _symbol, cid in bithumb_mapping():
        stem, _, tail = cid.rpartition("-")
        if tail.isdigit() and stem and stem not in coins:
            coins[stem] = generated_coin(
                seed, stem, coins[cid].symbol, _title_from_id(stem), cap_lo=2e4, cap_hi=5e6
            )
    listed_symbols = sorted({c.symbol for c in coins.values()})
    index = 0
    while len(coins) < UNIVERSE_SIZE:
        index += 1
        n_syl = 2 + int(2 * unit(seed, "filler", index, "n"))
        stem = "".join(pick(_SYLLABLES, seed, "filler", index, k) for k in range(n_syl))
        suffix = pick(_SUFFIXES, seed, "filler", index, "suffix")
        cid = stem + ("-" + suffix.strip().lower() if suffix else "")
        if cid in coins:
            cid = f"{cid}-{index}"
        cap_hi = 2e9
        if unit(seed, "filler", index, "clash") < 0.04:
            # Another ambiguous symbol; kept smaller than the listed coin so "higher cap wins" holds.
            symbol = pick(listed_symbols, seed, "filler", index, "clash-sym")
            cap_hi = 5e6
        else:
            symbol = stem[: 3 + int(2 * unit(seed, "filler", index, "symlen"))]
        coin = generated_coin(seed, cid, symbol, stem.capitalize() + suffix, cap_lo=1e4, cap_hi=cap_hi)
        if unit(seed, "filler", index, "unranked") < 0.06:
            coin = _replace(coin, ranked=False)
        coins[cid] = coin
    ranked = sorted(
        (c for c in coins.values() if c.ranked),
        key=lambda c: (-c.base_price_usd * c.circulating_supply, c.id),
    )
    unranked = sorted((c for c in coins.values() if not c.ranked), key=lambda c: c.id)
    ordered: list[Coin] = []
    for rank, coin in enumerate(ranked, start=1):
        ordered.append(_replace(coin, market_cap_rank=rank, number=_image_number(coin.id)))
    ordered.extend(_replace(coin, number=_image_number(coin.id)) for coin in unranked)
    return Universe(coins=tuple(ordered), by_id={c.id: c for c in ordered})


def _image_number(coin_id: str) -> int:
    fixed = {"bitcoin": 1, "ethereum": 279, "tether": 325, "ripple": 44, "binancecoin": 825, "solana": 4128}
    return fixed.get(coin_id, 1000 + int(unit("img", coin_id) * 60000))


def _replace(coin: Coin, **changes: object) -> Coin:
    import dataclasses

    return dataclasses.replace(coin, **changes)  # type: ignore[arg-type]


# -- prices as functions of time -----------------------------------------------------------------

_PERIODS_S = (3_571.0, 86_161.0, 604_783.0)  # ~1 h, ~1 day, ~1 week (prime-ish, so they never align)
_AMPLITUDES = (0.003, 0.012, 0.035)


def _noise(seed: int, key: str, t: float, step: float) -> float:
    """Linearly interpolated hash noise in [-1, 1] on a grid of ``step`` seconds."""
    k = math.floor(t / step)
    frac = t / step - k
    a = unit(seed, key, "n", k) * 2 - 1
    b = unit(seed, key, "n", k + 1) * 2 - 1
    return a + (b - a) * frac


def log_wiggle(seed: int, key: str, t: float, volatility: float) -> float:
    """A smooth, bounded, deterministic log-price deviation for ``key`` at unix time ``t``."""
    if volatility <= 0:
        return 0.0003 * _noise(seed, key, t, 600.0)  # stablecoins: tiny de-peg noise
    total = 0.0
    for i, (period, amp) in enumerate(zip(_PERIODS_S, _AMPLITUDES, strict=True)):
        phase = 2 * math.pi * unit(seed, key, "phase", i)
        total += amp * math.sin(2 * math.pi * t / period + phase)
    total += 0.0015 * _noise(seed, key, t, 60.0)
    return volatility * total


def price_usd(coin: Coin, t: float, seed: int = 0) -> float:
    """The coin's global USD price at unix time ``t``."""
    return coin.base_price_usd * math.exp(log_wiggle(seed, coin.id, t, coin.volatility))


def usd_krw(t: float) -> float:
    """The USD/KRW exchange rate at unix time ``t`` (≈1,385 ± 10)."""
    return 1385.0 + 8.0 * math.sin(2 * math.pi * t / 259_183.0) + 2.0 * math.sin(2 * math.pi * t / 7_211.0)


def korean_premium(coin: Coin, exchange: str, t: float, seed: int = 0) -> float:
    """The kimchi premium (fraction) of ``coin`` on a Korean ``exchange`` at ``t``: mostly +0.5…3%."""
    base = 0.012 + 0.01 * unit(seed, coin.id, "prem")
    swing = 0.008 * math.sin(2 * math.pi * t / 172_817.0 + 6.28 * unit(seed, coin.id, "premph"))
    venue = 0.0015 * (unit(seed, coin.id, exchange, "venue") - 0.5)
    return base + swing + venue


def krw_price(coin: Coin, exchange: str, t: float, seed: int = 0) -> float:
    """The unrounded KRW price of ``coin`` on a Korean exchange (bithumb, upbit, ...) at ``t``."""
    return price_usd(coin, t, seed) * usd_krw(t) * (1 + korean_premium(coin, exchange, t, seed))


def krw_tick(price: float) -> float:
    """Bithumb's KRW order-book tick for a price level."""
    for floor_price, tick in (
        (1_000_000, 1000.0),
        (500_000, 500.0),
        (100_000, 100.0),
        (50_000, 50.0),
        (10_000, 10.0),
        (5_000, 5.0),
        (1_000, 1.0),
        (100, 1.0),
        (10, 0.01),
        (1, 0.001),
    ):
        if price >= floor_price:
            return tick
    return 0.0001 if price >= 0.01 else 1e-8


def round_krw(price: float) -> int | float:
    """Round a KRW price to its tick; whole-won prices come back as ``int`` (as Bithumb sends them)."""
    tick = krw_tick(price)
    rounded = round(price / tick) * tick
    if tick >= 1:
        return int(rounded)
    digits = max(0, -math.floor(math.log10(tick)))
    return round(rounded, digits)


# -- market statistics --------------------------------------------------------------------------------


def fiat_rate(currency: str, t: float) -> float | None:
    """Units of ``currency`` per USD at ``t`` for the fiat currencies the simulator quotes."""
    rates = {
        "usd": 1.0,
        "krw": usd_krw(t),
        "eur": 0.92 + 0.01 * math.sin(2 * math.pi * t / 431_969.0),
        "jpy": 151.0 + 2.0 * math.sin(2 * math.pi * t / 345_601.0),
        "gbp": 0.79 + 0.008 * math.sin(2 * math.pi * t / 388_807.0),
    }
    return rates.get(currency)


#: vs-currencies the simulator serves (CoinGecko serves ~60; these cover the pipeline and a bit more).
VS_CURRENCIES = ("usd", "krw", "eur", "jpy", "gbp", "btc", "eth")


def usd_to(currency: str, t: float, seed: int = 0) -> float | None:
    """Multiplier that converts a USD amount into ``currency`` at ``t`` (None: not supported)."""
    rate = fiat_rate(currency, t)
    if rate is not None:
        return rate
    crypto = {"btc": "bitcoin", "eth": "ethereum"}.get(currency)
    if crypto is None:
        return None
    return 1.0 / price_usd(universe(seed).by_id[crypto], t, seed)


def turnover(coin: Coin, t: float, seed: int = 0) -> float:
    """Daily traded value as a fraction of market cap (varies per coin and day)."""
    day = int(t // 86400)
    base = 0.01 + 0.25 * unit(seed, coin.id, "turnover") ** 2
    return base * (0.7 + 0.6 * unit(seed, coin.id, "turnover-day", day))


@dataclass(frozen=True)
class MarketStats:
    """What ``/coins/markets`` and ``/coins/{id}`` report about a coin at one instant (USD)."""

    price: float
    market_cap: float
    fully_diluted_valuation: float | None
    total_volume: float
    high_24h: float
    low_24h: float
    price_24h_ago: float
    market_cap_24h_ago: float
    ath: float
    atl: float


def market_stats(coin: Coin, t: float, seed: int = 0) -> MarketStats:
    """Current price, cap, volume and 24 h range of ``coin`` at ``t`` in USD."""
    price = price_usd(coin, t, seed)
    hourly = [price_usd(coin, t - h * 3600, seed) for h in range(1, 25)]
    before = hourly[-1]
    cap = price * coin.circulating_supply if coin.ranked else 0.0
    fdv_supply = coin.max_supply or coin.total_supply
    fdv = price * fdv_supply if fdv_supply and coin.ranked else None
    volume = price * coin.circulating_supply * turnover(coin, t, seed)
    return MarketStats(
        price=price,
        market_cap=cap,
        fully_diluted_valuation=fdv,
        total_volume=volume,
        high_24h=max([price, *hourly]),
        low_24h=min([price, *hourly]),
        price_24h_ago=before,
        market_cap_24h_ago=before * coin.circulating_supply if coin.ranked else 0.0,
        ath=max(coin.ath, price),
        atl=min(coin.atl, price),
    )


def change_percentage(coin: Coin, t: float, seconds: float, seed: int = 0) -> float:
    """Price change in percent over the last ``seconds``."""
    before = price_usd(coin, t - seconds, seed)
    return (price_usd(coin, t, seed) - before) / before * 100
