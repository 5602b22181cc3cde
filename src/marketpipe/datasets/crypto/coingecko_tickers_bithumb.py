"""CoinGecko exchange tickers of every Bithumb-mapped coin (kimchi-premium inputs), every 12 hours.

One item per mapped CoinGecko id, best rank first. Every coin — the majors included — gets its global
ticker page (all exchanges, best trust first); the seed skipped the 8 majors there and served them
only Korean tickers, so their global prices went stale. The majors also get one extra call filtered
to Bithumb and Upbit, whose pairs can fall off a 100-ticker page for coins listed everywhere.

Keys: calls rotate over the CoinGecko key pool (each coin prefers the key picked by a stable hash of its
id, a major's second call the next key), spreading the monthly allowance evenly; when the preferred
key is spent or refused the session takes any usable key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from marketpipe.engine.registry import DatasetSpec, Row, RunContext
from marketpipe.http.errors import InvalidKeyError, QuotaExhausted
from marketpipe.http.types import ApiRequest, Reply
from marketpipe.providers.coingecko import markets as coingecko_markets

#: The coins the seed collected only on Korean exchanges (docs/seed.md §4).
MAJORS = frozenset(
    {"bitcoin", "ethereum", "ripple", "tether", "shiba-inu", "binancecoin", "solana", "dogecoin"}
)
KOREAN_EXCHANGES = "bithumb,upbit"


def mapped_coins(ctx: RunContext) -> Sequence[str]:
    """Mapped CoinGecko ids of active KRW markets, by rank (NULL last), score, symbol."""
    rows = ctx.query(
        """SELECT coingecko_id FROM bithumb_coingecko_mapping
            WHERE is_active AND coingecko_id IS NOT NULL AND coingecko_id <> ''
            GROUP BY coingecko_id
            ORDER BY min(COALESCE(market_cap_rank, 999999)), max(match_score) DESC NULLS LAST, min(symbol)"""
    )
    coins = [row[0] for row in rows]
    limit = ctx.universe_limit
    return coins[:limit] if limit else coins


def _call_rotating(ctx: RunContext, request: ApiRequest, slot: int) -> Reply:
    keys = len(ctx.settings.keys("coingecko"))
    if keys <= 1:
        return ctx.call(request)
    try:
        return ctx.call(request, key_index=slot % keys + 1)
    except (QuotaExhausted, InvalidKeyError):
        return ctx.call(request)  # the preferred key is spent or refused: any usable key of the pool


def fetch(ctx: RunContext, coin_id: str) -> list[Row]:
    mapping = ctx.query(
        """SELECT market_code, symbol, coingecko_name, match_method, market_cap_rank
             FROM bithumb_coingecko_mapping WHERE coingecko_id = %s AND is_active
            ORDER BY market_code LIMIT 1""",
        (coin_id,),
    )
    if not mapping:
        return []
    market_code, symbol, coin_name, method, rank = mapping[0]
    slot = sum(coin_id.encode())  # stable per coin, spreads coins over the pool
    requests = [coingecko_markets.tickers_request(coin_id)]
    if coin_id in MAJORS:
        requests.append(coingecko_markets.tickers_request(coin_id, KOREAN_EXCHANGES))
    tickers: list[dict[str, object]] = []
    for offset, request in enumerate(requests):
        tickers.extend(
            coingecko_markets.parse_tickers(_call_rotating(ctx, request, slot + offset).json(), ctx.now())
        )
    return [
        {
            **ticker,
            "market_code": market_code,
            "coingecko_id": coin_id,
            "symbol": symbol,
            "coin_name": coin_name,
            "match_method": method,
            "market_cap_rank": rank,
        }
        for ticker in tickers
    ]


DATASET = DatasetSpec(
    name="coingecko_tickers_bithumb",
    table="coingecko_tickers_bithumb",
    group="crypto",
    schedule="0 */12 * * *",
    providers=("coingecko",),
    description="Exchange tickers (global and Korean) of every Bithumb-listed coin, history by ticker time",
    key=("coingecko_id", "exchange_id", "base", "target", "timestamp"),
    fetch={"coingecko": fetch},
    items=mapped_coins,
    touch="updated_at",
    refresh_after=timedelta(hours=11),
    depends_on=("bithumb_coingecko_mapping",),
    progressive=True,
)
