"""Social posts' market impact: ``post_analysis_cache`` and ``post_keywords``, from the database only.

The seed's hourly ``batch_processing_social_media_market_analysis`` DAG (docs/seed.md §2a, §3b),
rebuilt as a derived dataset — no API call, everything comes from tables marketpipe already fills:

1. **Posts**: up to :data:`PER_SOURCE` per source (``x`` = ``x_posts``, ``truth_social_posts``,
   ``truth_social_trends`` — the ``post_source`` values the seed backend filters on), oldest first,
   that have no analysis yet or whose analysis is still ``partial``.
2. **Affected assets** (the backend's ``List[dict]``), best priority first, at most
   :data:`MAX_ASSETS`: keyword and cashtag hits in the first 50 words (priority 1), the author's
   default tickers (priority 2), and — when fewer than five — the most volatile symbol around the
   post (priority 3: S&P 500 trades ±2 days or Bithumb tickers ±1 day, range above 2 %).
3. **Market data** per asset with data: a one-minute OHLCV ``price_timeline`` (S&P 500 and ETF
   candles the sink keeps in ``trade_candles``; Bithumb tickers aggregated per minute), its
   ``data_source`` and ``asset_info`` — the shape of the backend's ``MarketAssetDataSchema``.
4. **Price analysis** (% change of the close nearest +1 h, +12 h and +24 h for crypto / the next
   NYSE session's first hour for stocks, against the close nearest the post) and **volume analysis**
   (volume in the hour before vs after).
5. ``analysis_status`` is ``complete`` once every window has passed (two days after the post),
   else ``partial`` and the post is analysed again by a later run.

``post_keywords`` gets every keyword hit with its word position (the seed's writer never managed to
insert one: it expected keys its matcher never set).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from marketpipe.engine.registry import DERIVED, DatasetSpec, Row, RunContext

if TYPE_CHECKING:
    import psycopg

    from marketpipe.db import MergeResult

#: Posts analysed per source and run (the seed: 75).
PER_SOURCE = 75
MAX_ASSETS = 5
#: Words of a post searched for keywords (the seed: the first 50, 3 to 12 letters).
WORDS_SEARCHED = 50
#: After this long every window of a post has passed: its analysis is final.
FINAL_AFTER = timedelta(days=2)
#: A market price is "near" a target instant within this tolerance.
NEAR = timedelta(hours=2)
#: The statistical outlier must have moved more than this (%), high vs low, around the post.
OUTLIER_MIN_RANGE_PCT = Decimal(2)

#: post_source → (table, id column, text column, author expression, created column).
SOURCES: dict[str, tuple[str, str, str, str]] = {
    "x": ("x_posts", "tweet_id", "text", "coalesce(nullif(username, ''), source_account, '')"),
    "truth_social_posts": ("truth_social_posts", "id", "coalesce(clean_content, content)", "coalesce(username, '')"),
    "truth_social_trends": ("truth_social_trends", "id", "coalesce(clean_content, content)", "coalesce(username, '')"),
}  # fmt: skip

#: Words that name an asset (lower case → symbol). Company and product names, tickers written out,
#: a few macro words mapped to the index ETFs. One entry per word (the seed's map had duplicate keys:
#: 'gas' meant ETH and then XOM).
KEYWORDS: dict[str, str] = {
    "apple": "AAPL", "iphone": "AAPL", "ipad": "AAPL", "macbook": "AAPL", "airpods": "AAPL",
    "tesla": "TSLA", "cybertruck": "TSLA", "autopilot": "TSLA", "gigafactory": "TSLA", "powerwall": "TSLA",
    "microsoft": "MSFT", "windows": "MSFT", "azure": "MSFT", "xbox": "MSFT", "copilot": "MSFT", "linkedin": "MSFT",
    "nvidia": "NVDA", "geforce": "NVDA", "cuda": "NVDA", "gpu": "NVDA", "gpus": "NVDA",
    "meta": "META", "facebook": "META", "instagram": "META", "whatsapp": "META", "metaverse": "META",
    "google": "GOOGL", "alphabet": "GOOGL", "youtube": "GOOGL", "android": "GOOGL", "gemini": "GOOGL",
    "waymo": "GOOGL", "amazon": "AMZN", "aws": "AMZN", "alexa": "AMZN", "kindle": "AMZN",
    "netflix": "NFLX", "disney": "DIS", "paypal": "PYPL", "visa": "V", "mastercard": "MA",
    "jpmorgan": "JPM", "berkshire": "BRK.B", "boeing": "BA", "lockheed": "LMT", "raytheon": "RTX",
    "intel": "INTC", "amd": "AMD", "qualcomm": "QCOM", "broadcom": "AVGO", "oracle": "ORCL",
    "palantir": "PLTR", "salesforce": "CRM", "walmart": "WMT", "costco": "COST", "pfizer": "PFE",
    "moderna": "MRNA", "exxon": "XOM", "chevron": "CVX", "oil": "XOM", "ford": "F", "coinbase": "COIN",
    "microstrategy": "MSTR", "bitcoin": "BTC", "btc": "BTC", "satoshi": "BTC", "halving": "BTC",
    "crypto": "BTC", "ethereum": "ETH", "ether": "ETH", "eth": "ETH", "defi": "ETH", "nft": "ETH",
    "dogecoin": "DOGE", "doge": "DOGE", "solana": "SOL", "cardano": "ADA", "ripple": "XRP",
    "xrp": "XRP", "tether": "USDT", "chainlink": "LINK", "polkadot": "DOT",
    "nasdaq": "QQQ", "dow": "DIA", "stocks": "SPY", "inflation": "SPY", "tariff": "SPY",
    "tariffs": "SPY", "recession": "SPY", "economy": "SPY", "fed": "SPY", "powell": "SPY",
    "rates": "SPY", "banks": "XLF", "banking": "XLF", "healthcare": "XLV", "energy": "XLE",
}  # fmt: skip

#: Accounts whose posts move "their" assets whatever the words (lower-case username → symbols).
ACCOUNT_ASSETS: dict[str, tuple[str, ...]] = {
    "elonmusk": ("TSLA", "DOGE"), "tesla": ("TSLA",), "saylor": ("MSTR", "BTC"),
    "vitalikbuterin": ("ETH",), "tim_cook": ("AAPL",), "sundarpichai": ("GOOGL",),
    "satyanadella": ("MSFT",), "jeffbezos": ("AMZN",), "meta": ("META",), "oracle": ("ORCL",),
    "palantir": ("PLTR",), "ionq": ("IONQ",), "nvidia": ("NVDA",), "brian_armstrong": ("COIN",),
    "coinbaseassets": ("COIN",), "bitcoin": ("BTC",), "ethereum": ("ETH",), "solana": ("SOL",),
    "dogecoin": ("DOGE",), "ripple": ("XRP",), "tether": ("USDT",), "cathiedwood": ("ARKK",),
    "realdonaldtrump": ("DJT", "SPY"), "donaldjtrumpjr": ("DJT",), "whitehouse": ("SPY",),
    "raydalio": ("SPY",), "jimcramer": ("SPY",), "cnbc": ("SPY",), "wsj": ("SPY",),
}  # fmt: skip

_WORD = re.compile(r"\$?[A-Za-z][A-Za-z0-9.]*")
_CASHTAG = re.compile(r"\$([A-Za-z]{1,5}(?:\.[A-Za-z])?)$")


def keyword_hits(text: str | None) -> list[tuple[str, int, str]]:
    """(keyword as written in lower case, word position, symbol) for every hit in the first words.

    A keyword is a 3–12 letter word of :data:`KEYWORDS`, or a cashtag (``$TSLA``; the symbol itself).
    Positions count words from 0. Pure; any text (NUL, surrogates, megabytes) is fine.
    """
    if not text:
        return []
    hits: list[tuple[str, int, str]] = []
    for position, match in enumerate(_WORD.finditer(text)):
        if position >= WORDS_SEARCHED:
            break
        word = match.group(0).rstrip(".")
        cashtag = _CASHTAG.match(word)
        if cashtag:
            hits.append((word.lower(), position, cashtag.group(1).upper()))
            continue
        lower = word.lower()
        if 3 <= len(lower) <= 12 and lower in KEYWORDS:
            hits.append((lower, position, KEYWORDS[lower]))
    return hits


def affected_assets(
    author: str, text: str | None, outlier: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The backend's ``affected_assets``: one dict per symbol, best priority first, at most five."""
    chosen: dict[str, dict[str, Any]] = {}
    for keyword, position, symbol in keyword_hits(text):
        chosen.setdefault(
            symbol,
            {"symbol": symbol, "source": "keyword_mention", "priority": 1,
             "matched_keyword": keyword, "position": position},
        )  # fmt: skip
    for symbol in ACCOUNT_ASSETS.get(author.lower(), ()):
        chosen.setdefault(symbol, {"symbol": symbol, "source": "account_default", "priority": 2})
    assets = sorted(chosen.values(), key=lambda a: a["priority"])[:MAX_ASSETS]
    if len(assets) < MAX_ASSETS and outlier is not None and outlier["symbol"] not in chosen:
        assets.append(outlier)
    return assets


# -- market data ------------------------------------------------------------------------------------

_CANDLES = """
SELECT bucket_start, open, high, low, close, volume
  FROM trade_candles
 WHERE stream = %s AND symbol = %s AND interval_s = 60 AND bucket_start BETWEEN %s AND %s
 ORDER BY bucket_start
"""
_CRYPTO_MINUTES = """
SELECT to_timestamp(minute * 60), (array_agg(trade_price ORDER BY trade_timestamp, timestamp_field))[1],
       max(trade_price), min(trade_price),
       (array_agg(trade_price ORDER BY trade_timestamp DESC, timestamp_field DESC))[1], sum(trade_volume)
  FROM (SELECT trade_timestamp / 60000 AS minute, trade_timestamp, timestamp_field, trade_price, trade_volume
          FROM bithumb_ticker
         WHERE market = %s AND trade_timestamp BETWEEN %s AND %s AND trade_price IS NOT NULL) t
 GROUP BY minute
 ORDER BY minute
"""
_KIND = """
SELECT (SELECT 'stock' FROM sp500_companies WHERE symbol = %(s)s LIMIT 1),
       (SELECT 'etf' FROM etf_basic_info WHERE symbol = %(s)s LIMIT 1),
       (SELECT 'crypto' FROM market_code_bithumb WHERE market_code = 'KRW-' || %(s)s LIMIT 1)
"""
_SP500_OUTLIER = """
SELECT symbol, (max(price) - min(price)) / min(price) * 100
  FROM sp500_websocket_trades
 WHERE timestamp_ms BETWEEN %s AND %s
 GROUP BY symbol HAVING count(*) >= 5 AND min(price) > 0
 ORDER BY 2 DESC, symbol LIMIT 1
"""
_CRYPTO_OUTLIER = """
SELECT substr(market, 5), (max(trade_price) - min(trade_price)) / min(trade_price) * 100
  FROM bithumb_ticker
 WHERE trade_timestamp BETWEEN %s AND %s AND market LIKE 'KRW-%%'
 GROUP BY market HAVING count(*) >= 3 AND min(trade_price) > 0
 ORDER BY 2 DESC, market LIMIT 1
"""

#: asset kind → (window either side of the post, data_source, trade_candles stream).
WINDOWS = {
    "stock": (timedelta(days=2), "sp500_websocket_trades", "trades"),
    "etf": (timedelta(days=2), "etf_realtime_prices", "etf"),
    "crypto": (timedelta(days=1), "bithumb_ticker", None),
}


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _float(value: Any) -> float | None:
    return float(value) if value is not None else None


def _outlier(ctx: RunContext, at: datetime) -> dict[str, Any] | None:
    """The most volatile symbol around ``at`` (S&P 500 ±2 days, Bithumb ±1 day), if it moved > 2 %."""
    candidates = []
    for sql, window in ((_SP500_OUTLIER, timedelta(days=2)), (_CRYPTO_OUTLIER, timedelta(days=1))):
        for symbol, pct in ctx.query(sql, (_ms(at - window), _ms(at + window))):
            if pct is not None and pct > OUTLIER_MIN_RANGE_PCT:
                candidates.append((pct, symbol))
    if not candidates:
        return None
    pct, symbol = max(candidates)
    return {"symbol": symbol, "source": "statistical_correlation", "priority": 3,
            "volatility_score": round(float(pct), 2)}  # fmt: skip


def _timeline(ctx: RunContext, symbol: str, kind: str, at: datetime) -> list[dict[str, Any]]:
    window, _, stream = WINDOWS[kind]
    if stream is not None:
        rows = ctx.query(_CANDLES, (stream, symbol, at - window, at + window))
    else:
        rows = ctx.query(_CRYPTO_MINUTES, (f"KRW-{symbol}", _ms(at - window), _ms(at + window)))
    return [
        {"timestamp": minute.astimezone(UTC).isoformat(), "open": _float(o), "high": _float(h),
         "low": _float(lo), "close": _float(c), "volume": _float(v) or 0.0}
        for minute, o, h, lo, c, v in rows
    ]  # fmt: skip


def _near(timeline: Sequence[dict[str, Any]], target: datetime) -> float | None:
    """Close of the minute nearest ``target`` within :data:`NEAR`."""
    best: tuple[float, float] | None = None
    for point in timeline:
        gap = abs((datetime.fromisoformat(point["timestamp"]) - target).total_seconds())
        if gap <= NEAR.total_seconds() and point["close"] is not None and (best is None or gap < best[0]):
            best = (gap, point["close"])
    return best[1] if best else None


def _mean_close(timeline: Sequence[dict[str, Any]], start: datetime, end: datetime) -> float | None:
    closes = [
        p["close"] for p in timeline
        if p["close"] is not None and start <= datetime.fromisoformat(p["timestamp"]) < end
    ]  # fmt: skip
    return sum(closes) / len(closes) if closes else None


def _pct(new: float | None, base: float) -> float | None:
    return round((new - base) / base * 100, 2) if new is not None and base else None


def _next_session_open(at: datetime) -> datetime:
    import pandas as pd

    from marketpipe.datasets.derived._market_cache import _xnys

    minute = pd.Timestamp(at.astimezone(UTC)).floor("min")
    opened: datetime = _xnys(minute.year).next_open(minute).to_pydatetime()
    return opened


def price_analysis(timeline: Sequence[dict[str, Any]], kind: str, at: datetime) -> dict[str, Any]:
    """% changes after the post against the close nearest it (empty without a base price)."""
    base = _near(timeline, at)
    if not base:
        return {}
    out: dict[str, Any] = {"base_price": base}
    for label, delta in (("1h_change", timedelta(hours=1)), ("12h_change", timedelta(hours=12))):
        if (change := _pct(_near(timeline, at + delta), base)) is not None:
            out[label] = change
    if kind == "crypto":
        if (change := _pct(_near(timeline, at + timedelta(hours=24)), base)) is not None:
            out["24h_change"] = change
    else:
        opened = _next_session_open(at)
        if (change := _pct(_mean_close(timeline, opened, opened + timedelta(hours=1)), base)) is not None:
            out["next_day_change"] = change
    return out


def volume_analysis(timeline: Sequence[dict[str, Any]], at: datetime) -> dict[str, Any]:
    """Volume in the hour before vs the hour after the post."""
    before = after = 0.0
    for point in timeline:
        moment = datetime.fromisoformat(point["timestamp"])
        if at - timedelta(hours=1) <= moment < at:
            before += point["volume"]
        elif at <= moment < at + timedelta(hours=1):
            after += point["volume"]
    out: dict[str, Any] = {
        "total_volume_before_1h": round(before, 2),
        "total_volume_after_1h": round(after, 2),
    }
    if before > 0:
        out["volume_change_pct_1h"] = round((after - before) / before * 100, 2)
    return out


# -- the dataset ------------------------------------------------------------------------------------


def _posts(ctx: RunContext, source: str) -> list[tuple[Any, ...]]:
    table, id_column, text_sql, author_sql = SOURCES[source]
    # Table and column names are ours (SOURCES), never input.
    return ctx.query(
        f"""SELECT p.{id_column}, p.created_at, {author_sql}, {text_sql}
              FROM {table} p
              LEFT JOIN post_analysis_cache c ON c.post_id = p.{id_column} AND c.post_source = %(source)s
             WHERE p.created_at IS NOT NULL AND p.created_at <= %(now)s
               AND (c.post_id IS NULL OR c.analysis_status = 'partial')
             ORDER BY p.created_at, p.{id_column}
             LIMIT %(limit)s""",
        {"source": source, "now": ctx.now(), "limit": PER_SOURCE},
    )


def _kind(ctx: RunContext, symbol: str) -> str | None:
    found = ctx.query(_KIND, {"s": symbol})
    return next((k for k in found[0] if k), None) if found else None


def analyse(ctx: RunContext, item: str) -> list[Row]:
    """One ``post_analysis_cache`` row per post due (see the module docstring)."""
    now = ctx.now()
    rows: list[Row] = []
    for source in SOURCES:
        for post_id, created, author, text in _posts(ctx, source):
            at = created.astimezone(UTC)
            assets = affected_assets(author, text)
            if len(assets) < MAX_ASSETS:
                assets = affected_assets(author, text, _outlier(ctx, at))
            market: dict[str, Any] = {}
            prices: dict[str, Any] = {}
            volumes: dict[str, Any] = {}
            for asset in assets:
                kind = _kind(ctx, asset["symbol"])
                if kind is None:
                    continue
                timeline = _timeline(ctx, asset["symbol"], kind, at)
                if not timeline:
                    continue
                market[asset["symbol"]] = {
                    "price_timeline": timeline,
                    "data_source": WINDOWS[kind][1],
                    "asset_info": asset,
                }
                if changes := price_analysis(timeline, kind, at):
                    prices[asset["symbol"]] = changes
                volumes[asset["symbol"]] = volume_analysis(timeline, at)
            rows.append(
                {
                    "post_id": str(post_id),
                    "post_source": source,
                    "post_timestamp": at,
                    "author_username": author,
                    "affected_assets": assets,
                    "market_data": market,
                    "price_analysis": prices,
                    "volume_analysis": volumes,
                    "analysis_status": "complete" if now - at >= FINAL_AFTER else "partial",
                    "error_message": None,
                }
            )
    return rows


def store_keywords(
    conn: psycopg.Connection, ctx: RunContext, item: str, rows: list[Row], merged: MergeResult
) -> MergeResult | None:
    """``post_keywords``: every keyword hit of the analysed posts, in the item's transaction."""
    from marketpipe.db import merge_rows

    keywords: list[Row] = []
    for source, (table, id_column, text_sql, _) in SOURCES.items():
        ids = [r["post_id"] for r in rows if r["post_source"] == source]
        if not ids:
            continue
        found = conn.execute(
            f"SELECT {id_column}::text, {text_sql} FROM {table} WHERE {id_column}::text = ANY(%s)", (ids,)
        ).fetchall()
        for post_id, text in found:
            keywords.extend(
                {"post_id": post_id, "post_source": source, "keyword": keyword, "keyword_position": position}
                for keyword, position, _ in keyword_hits(text)
            )
    if not keywords:
        return None
    return merge_rows(
        conn, "post_keywords", keywords, ("post_id", "post_source", "keyword", "keyword_position"),
        on_conflict="nothing",
    )  # fmt: skip


DATASET = DatasetSpec(
    name="post_analysis_cache",
    table="post_analysis_cache",
    group="derived",
    schedule="0 * * * *",  # hourly, as the seed's analysis DAG
    providers=(),
    description="Market impact of stored social posts (assets, price/volume around the post) + keywords",
    key=("post_id", "post_source"),
    fetch={DERIVED: analyse},
    merge="update",
    touch="updated_at",
    after_merge=store_keywords,
    depends_on=("x_posts", "truth_social_posts", "truth_social_trends"),
)
