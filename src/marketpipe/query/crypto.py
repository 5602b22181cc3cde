"""Crypto reference data: Bithumb KRW markets with their CoinGecko mapping, coin details, and the
kimchi premium with its freshness."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

from marketpipe.query import core
from marketpipe.query.core import NotFound, Source, num
from marketpipe.query.models import CoinDetails, CryptoMarket, CryptoMarkets, KimchiPremium, VenuePrice

#: CoinGecko's identifiers of the Korean venues (KRW books); every other venue is "global".
KOREAN_EXCHANGES = ("upbit", "bithumb", "korbit", "coinone", "gopax")
#: coingecko_tickers_bithumb is collected every 12 hours: older than two intervals is stale.
PREMIUM_STALE_AFTER = timedelta(hours=24)
#: Tickers within this much of the newest one make up one observation.
PREMIUM_WINDOW = timedelta(hours=6)
MAX_DESCRIPTION = 2000


async def markets(src: Source, limit: int = 100, cursor: str | None = None) -> CryptoMarkets:
    limit = core.limit(limit)
    after = core.decode_cursor(cursor)
    rows = await src.rows(
        """SELECT mb.market_code, replace(mb.market_code, 'KRW-', '') AS symbol, mb.korean_name,
                  mb.english_name, mb.market_warning, m.coingecko_id, m.coingecko_name, m.market_cap_rank,
                  m.match_method, m.is_verified
             FROM market_code_bithumb mb LEFT JOIN bithumb_coingecko_mapping m USING (market_code)
            WHERE mb.market_code > %(key)s ORDER BY mb.market_code LIMIT %(n)s""",
        {"key": after[1] if after else "", "n": limit + 1},
    )
    page = rows[:limit]
    return CryptoMarkets(
        items=[CryptoMarket(**r) for r in page],
        next_cursor=core.encode_cursor(None, page[-1]["market_code"]) if len(rows) > limit else None,
    )


async def _coingecko_id(src: Source, sym: str) -> str:
    rows = await src.rows(
        """SELECT coingecko_id FROM bithumb_coingecko_mapping
            WHERE market_code = 'KRW-' || %(s)s AND coingecko_id IS NOT NULL
           UNION ALL
           (SELECT coingecko_id FROM coingecko_coin_details WHERE upper(symbol) = %(s)s
             ORDER BY market_cap_rank NULLS LAST LIMIT 1)
           LIMIT 1""",
        {"s": sym},
    )
    if not rows:
        raise NotFound(f"no CoinGecko coin for {sym}")
    return str(rows[0]["coingecko_id"])


async def details(src: Source, symbol: str) -> CoinDetails:
    sym = core.symbol(symbol)
    coin = await _coingecko_id(src, sym)
    rows = await src.rows("SELECT * FROM coingecko_coin_details WHERE coingecko_id = %s", (coin,))
    if not rows:
        raise NotFound(f"no coin details for {sym}")
    r = rows[0]
    categories = r["categories"] if isinstance(r["categories"], list) else []
    return CoinDetails(
        coingecko_id=r["coingecko_id"],
        symbol=r["symbol"],
        name=r["name"],
        description=(r["description_en"] or None) and r["description_en"][:MAX_DESCRIPTION],
        homepage_url=r["homepage_url"],
        genesis_date=r["genesis_date"],
        categories=[str(c)[:100] for c in categories if c][:50],
        market_cap_rank=r["market_cap_rank"],
        current_price_usd=num(r["current_price_usd"]),
        current_price_krw=num(r["current_price_krw"]),
        market_cap_usd=num(r["market_cap_usd"]),
        total_volume_usd=num(r["total_volume_usd"]),
        price_change_percentage_24h=num(r["price_change_percentage_24h"]),
        circulating_supply=num(r["circulating_supply"]),
        max_supply=num(r["max_supply"]),
        updated_at=r["updated_at"],
    )


async def premium(src: Source, symbol: str, now: datetime | None = None) -> KimchiPremium:
    """Korean venues' mean USD price against the median of the global venues, from the newest
    CoinGecko tickers of the coin (each venue's latest within ``PREMIUM_WINDOW`` of the newest)."""
    sym = core.symbol(symbol)
    rows = await src.rows(
        """WITH latest AS (
               SELECT DISTINCT ON (exchange_id) exchange_id, exchange_name, target, converted_last_usd,
                      converted_volume_usd, timestamp
                 FROM coingecko_tickers_bithumb
                WHERE symbol = %(s)s AND converted_last_usd > 0 AND NOT coalesce(is_anomaly, false)
                  AND NOT coalesce(is_stale, false)
                ORDER BY exchange_id, timestamp DESC)
           SELECT * FROM latest
            WHERE timestamp >= (SELECT max(timestamp) FROM latest) - %(w)s::interval
            ORDER BY exchange_id""",
        {"s": sym, "w": PREMIUM_WINDOW},
    )
    if not rows:
        raise NotFound(f"no exchange tickers for {sym}")
    venues = [
        VenuePrice(
            exchange_id=r["exchange_id"],
            exchange_name=r["exchange_name"],
            target=r["target"],
            price_usd=float(r["converted_last_usd"]),
            volume_usd=num(r["converted_volume_usd"]),
            timestamp=r["timestamp"],
        )
        for r in rows
    ]
    korean = [v for v in venues if v.exchange_id in KOREAN_EXCHANGES]
    overseas = [v for v in venues if v.exchange_id not in KOREAN_EXCHANGES]
    korean_usd = statistics.fmean(v.price_usd for v in korean) if korean else None
    global_usd = statistics.median(v.price_usd for v in overseas) if overseas else None
    pct = (korean_usd - global_usd) / global_usd * 100 if korean_usd and global_usd else None
    as_of = max(v.timestamp for v in venues)
    age = ((now or datetime.now(UTC)) - as_of).total_seconds()
    return KimchiPremium(
        symbol=sym,
        premium_pct=round(pct, 4) if pct is not None else None,
        korean_usd=korean_usd,
        global_usd=global_usd,
        korean=korean,
        global_=overseas,
        as_of=as_of,
        age_seconds=max(0.0, age),
        stale=age > PREMIUM_STALE_AFTER.total_seconds(),
    )
