"""CoinGecko v3 (Demo plan) simulator (docs/providers.md §9): ping, coins list/markets/details/tickers, derivatives, global.

Auth: ``x-cg-demo-api-key`` header or ``x_cg_demo_api_key`` query parameter (keyless calls work with a
much lower shared limit, as on the public root). A Pro key sent to this (demo) root gets the 400
``10010`` reply. Limits per key: 30 calls/minute and 10,000 calls/month → 429 with the documented
``{"status": {"error_code": 429, ...}}`` body and a ``retry-after`` header. A ``rate_limit`` fault with
``window="200"`` answers that same body with HTTP 200 (seen on some endpoints). Unknown coins → 404
``{"error": "coin not found"}``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from marketpipe.sandbox.core import Call, ProviderSpec, gate, json_response
from marketpipe.sandbox.providers import coingecko_exchanges as cx
from marketpipe.sandbox.providers import coingecko_universe as cu
from marketpipe.sandbox.quota import QuotaDecision, QuotaWindow, per_minute, per_month

NAME = "coingecko"
#: Where the sandbox mounts it (the real base URL's path layout below this prefix).
PREFIX = "/coingecko/api/v3"
KEYLESS = "keyless:"
RATE_LIMIT_BODY = {
    "status": {
        "error_code": 429,
        "error_message": (
            "You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/pricing to "
            "subscribe to our API plans for higher rate limits."
        ),
    }
}
INVALID_KEY_BODY = {"status": {"error_code": 10002, "error_message": "API Key Missing or Invalid"}}
PRO_KEY_ON_DEMO_BODY = {
    "status": {
        "error_code": 10010,
        "error_message": (
            "If you are using Pro API key, please change your root URL from api.coingecko.com to "
            "pro-api.coingecko.com Please refer here for more details: "
            "https://docs.coingecko.com/v3.0.1/reference/introduction"
        ),
    }
}
TICKERS_PER_PAGE = 100
MARKETS_CACHE_S = 45  # /coins/markets refreshes about every 45 s (docs)

router = APIRouter()


def _quota_reply(call: Call, decision: QuotaDecision) -> Response:
    retry = max(1, math.ceil(decision.reset_ts - call.ts))
    status = 200 if decision.window == "200" else 429
    return json_response(RATE_LIMIT_BODY, status, {"retry-after": str(retry)})


def _invalid_key(call: Call) -> Response:
    return json_response(INVALID_KEY_BODY, 401)


PROVIDER = ProviderSpec(
    name=NAME,
    prefix=PREFIX,
    router=router,
    quota=(per_minute(30), per_month(10_000), QuotaWindow(name=KEYLESS + "minute", limit=10, seconds=60)),
    requires_key=False,  # the public root answers keyless callers too; keys are checked in _open
    invalid_key_reply=_invalid_key,
    quota_reply=_quota_reply,
    description="CoinGecko v3 Demo: coins list/markets/details/tickers, derivatives, global",
)


def _key(request: Request) -> str | None:
    return request.headers.get("x-cg-demo-api-key") or request.query_params.get("x_cg_demo_api_key") or None


async def _open(request: Request, endpoint: str) -> tuple[Call, Response | None]:
    """Gate the call; check a given key; meter keyed calls per key and keyless calls together."""
    key = _key(request)
    call = await gate(request, NAME, endpoint=endpoint, key=key, count_quota=False)
    if call.reply is not None:
        return call, call.reply
    if key is None and request.headers.get("x-cg-pro-api-key"):
        return call, call.refuse_auth(json_response(PRO_KEY_ON_DEMO_BODY, 400))
    if key is not None and not call.sandbox.key_valid(call.spec, key):
        return call, call.refuse_auth(_invalid_key(call))
    keyless = key is None
    windows = tuple(w for w in call.sandbox.windows(NAME) if w.name.startswith(KEYLESS) == keyless)
    return call, call.meter(windows)


async def _open_coin(request: Request, endpoint: str, coin_id: str) -> tuple[Call, cu.Coin] | Response:
    """Gate a per-coin call: the refusal, 404 ``coin not found``, or the call and its coin."""
    call, refusal = await _open(request, endpoint)
    if refusal is not None:
        return refusal
    coin = cu.universe(call.world.seed).by_id.get(coin_id.lower())
    if coin is None:
        return call.json({"error": "coin not found"}, 404)
    return call, coin


def _flag(request: Request, name: str, default: bool) -> bool:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    return raw.strip().lower() == "true"


def _int_param(request: Request, name: str, default: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        return None


def _iso(ts: float) -> str:
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _num(value: float | None, precision: int | None = None) -> float | int | None:
    if value is None:
        return None
    if precision is not None:
        return round(value, precision)
    if value == 0:
        return 0
    if abs(value) >= 1e9 and float(value).is_integer():
        return int(value)
    if abs(value) >= 1e6:
        return round(value)
    return float(f"{value:.10g}")


def _image(coin: cu.Coin, size: str) -> str:
    return f"https://coin-images.coingecko.com/coins/images/{coin.number}/{size}/{coin.id}.png?1696{coin.number % 1000000:06d}"


def _last_updated(seed: int, coin: cu.Coin, t: float) -> float:
    return t - 60 * cu.unit(seed, coin.id, "updated", int(t // 60))


# -- routes ----------------------------------------------------------------------------------------


@router.get("/ping")
async def ping(request: Request) -> Response:
    call, refusal = await _open(request, "/ping")
    if refusal is not None:
        return refusal
    return call.json({"gecko_says": "(V3) To the Moon!"})


@router.get("/coins/list")
async def coins_list(request: Request) -> Response:
    """``GET /coins/list`` — every coin (id order); ``include_platform=true`` adds ``platforms``."""
    call, refusal = await _open(request, "/coins/list")
    if refusal is not None:
        return refusal
    with_platforms = _flag(request, "include_platform", False)
    rows = []
    for coin in sorted(cu.universe(call.world.seed).coins, key=lambda c: c.id):
        row: dict[str, Any] = {"id": coin.id, "symbol": coin.symbol, "name": coin.name}
        if with_platforms:
            row["platforms"] = dict(coin.platforms)
        rows.append(row)
    return call.json(rows)


_MARKET_ORDERS = ("market_cap_desc", "market_cap_asc", "volume_desc", "volume_asc", "id_asc", "id_desc")
_CHANGE_WINDOWS = {
    "1h": 3600,
    "24h": 86400,
    "7d": 7 * 86400,
    "14d": 14 * 86400,
    "30d": 30 * 86400,
    "200d": 200 * 86400,
    "1y": 365 * 86400,
}


@router.get("/coins/markets")
async def coins_markets(request: Request) -> Response:
    """``GET /coins/markets?vs_currency=usd&order=market_cap_desc&per_page=250&page=N`` (empty past the end)."""
    call, refusal = await _open(request, "/coins/markets")
    if refusal is not None:
        return refusal
    seed = call.world.seed
    query = request.query_params
    vs = (query.get("vs_currency") or "").lower()
    if not vs:
        return call.json({"error": "Missing parameter vs_currency"}, 400)
    t = math.floor(call.ts / MARKETS_CACHE_S) * MARKETS_CACHE_S
    factor = cu.usd_to(vs, t, seed)
    if factor is None:
        return call.json({"error": "invalid vs_currency"}, 400)
    order = query.get("order") or "market_cap_desc"
    if order not in _MARKET_ORDERS:
        return call.json({"error": "invalid order"}, 400)
    per_page = _int_param(request, "per_page", 100)
    page = _int_param(request, "page", 1)
    if per_page is None or page is None:
        return call.json({"error": "invalid per_page or page"}, 400)
    per_page = min(max(per_page, 1), 250)
    page = max(page, 1)
    windows = [w.strip() for w in (query.get("price_change_percentage") or "").split(",") if w.strip()]
    windows = [w for w in windows if w in _CHANGE_WINDOWS]
    precision = _int_param(request, "precision", -1)
    digits = precision if precision is not None and 0 <= precision <= 18 else None
    coins = _select_coins(seed, request, t)
    coins = _order_coins(seed, coins, order, t)
    chosen = coins[(page - 1) * per_page : page * per_page]
    sparkline = _flag(request, "sparkline", False)
    rows = [_market_row(seed, coin, t, vs, factor, windows, sparkline, digits) for coin in chosen]
    return call.json(rows)


def _select_coins(seed: int, request: Request, t: float) -> list[cu.Coin]:
    universe = cu.universe(seed)
    query = request.query_params
    coins = list(universe.coins)
    if query.get("ids"):
        wanted = {i.strip().lower() for i in query["ids"].split(",")}
        coins = [c for c in coins if c.id in wanted]
    elif query.get("names"):
        wanted = {n.strip().lower() for n in query["names"].split(",")}
        coins = [c for c in coins if c.name.lower() in wanted]
    elif query.get("symbols"):
        wanted = {s.strip().lower() for s in query["symbols"].split(",")}
        matched = [c for c in coins if c.symbol in wanted]
        # Like the real API: for an ambiguous symbol only the top coin unless include_tokens=all.
        if (query.get("include_tokens") or "top") != "all":
            best: dict[str, cu.Coin] = {}
            for coin in matched:
                best.setdefault(coin.symbol, coin)
            matched = list(best.values())
        coins = matched
    if query.get("category"):
        slug = query["category"].strip().lower()
        coins = [c for c in coins if any(_slug(cat) == slug for cat in c.categories)]
    return coins


def _slug(text: str) -> str:
    keep = "".join(ch.lower() if ch.isalnum() else "-" for ch in text)
    return "-".join(part for part in keep.split("-") if part)


def _order_coins(seed: int, coins: list[cu.Coin], order: str, t: float) -> list[cu.Coin]:
    # ``universe.coins`` is already market_cap_desc (ranked by cap, then the unranked ones).
    if order == "market_cap_asc":
        return list(reversed(coins))
    if order.startswith("volume"):
        keyed = sorted(coins, key=lambda c: cu.market_stats(c, t, seed).total_volume)
        return keyed if order == "volume_asc" else list(reversed(keyed))
    if order.startswith("id"):
        by_id = sorted(coins, key=lambda c: c.id)
        return by_id if order == "id_asc" else list(reversed(by_id))
    return coins


def _market_row(
    seed: int,
    coin: cu.Coin,
    t: float,
    vs: str,
    factor: float,
    windows: list[str],
    sparkline: bool,
    digits: int | None,
) -> dict[str, Any]:
    stats = cu.market_stats(coin, t, seed)

    def money(value: float | None) -> float | int | None:
        return None if value is None else _num(value * factor, digits)

    price = stats.price
    change_24h = price - stats.price_24h_ago
    cap_change = stats.market_cap - stats.market_cap_24h_ago
    row: dict[str, Any] = {
        "id": coin.id,
        "symbol": coin.symbol,
        "name": coin.name,
        "image": _image(coin, "large"),
        "current_price": money(price),
        "market_cap": money(stats.market_cap) if coin.ranked else 0,
        "market_cap_rank": coin.market_cap_rank,
        "fully_diluted_valuation": money(stats.fully_diluted_valuation),
        "total_volume": money(stats.total_volume),
        "high_24h": money(stats.high_24h),
        "low_24h": money(stats.low_24h),
        "price_change_24h": money(change_24h),
        "price_change_percentage_24h": round(change_24h / stats.price_24h_ago * 100, 5),
        "market_cap_change_24h": money(cap_change) if coin.ranked else 0,
        "market_cap_change_percentage_24h": round(cap_change / stats.market_cap_24h_ago * 100, 5)
        if coin.ranked
        else 0,
        "circulating_supply": _num(coin.circulating_supply),
        "total_supply": _num(coin.total_supply),
        "max_supply": _num(coin.max_supply),
        "ath": money(stats.ath),
        "ath_change_percentage": round((price - stats.ath) / stats.ath * 100, 5),
        "ath_date": coin.ath_date,
        "atl": money(stats.atl),
        "atl_change_percentage": round((price - stats.atl) / stats.atl * 100, 5),
        "atl_date": coin.atl_date,
        "roi": _roi(seed, coin, price),
        "last_updated": _iso(_last_updated(seed, coin, t)),
    }
    if sparkline:
        row["sparkline_in_7d"] = {
            "price": [cu.price_usd(coin, t - h * 3600, seed) * factor for h in range(167, -1, -1)]
        }
    for window in windows:
        row[f"price_change_percentage_{window}_in_currency"] = round(
            cu.change_percentage(coin, t, _CHANGE_WINDOWS[window], seed), 5
        )
    return row


def _roi(seed: int, coin: cu.Coin, price: float) -> dict[str, Any] | None:
    """ICO coins carry a return-on-investment object; most coins have ``null``."""
    if cu.unit(seed, coin.id, "ico") >= 0.08 or coin.volatility == 0:
        return None
    ico_price = coin.base_price_usd * (0.01 + 0.5 * cu.unit(seed, coin.id, "ico-price"))
    times = price / ico_price - 1
    return {"times": times, "currency": "usd", "percentage": times * 100}


@router.get("/coins/{coin_id}")
async def coin_detail(request: Request, coin_id: str) -> Response:
    """``GET /coins/{id}`` with the ``localization/tickers/market_data/community_data/developer_data/sparkline`` flags."""
    opened = await _open_coin(request, "/coins/{id}", coin_id)
    if isinstance(opened, Response):
        return opened
    call, coin = opened
    seed = call.world.seed
    t = call.ts
    localization = _flag(request, "localization", True)
    detail: dict[str, Any] = {
        "id": coin.id,
        "symbol": coin.symbol,
        "name": coin.name,
        "web_slug": coin.id,
        "asset_platform_id": next(iter(coin.platforms), None),
        "platforms": dict(coin.platforms) or {"": ""},
        "detail_platforms": {
            platform: {"decimal_place": 18, "contract_address": address}
            for platform, address in coin.platforms.items()
        }
        or {"": {"decimal_place": None, "contract_address": ""}},
        "block_time_in_minutes": 0 if coin.platforms else int(1 + 10 * cu.unit(seed, coin.id, "block")),
        "hashing_algorithm": None if coin.platforms else ("SHA-256" if coin.id == "bitcoin" else None),
        "categories": list(coin.categories),
        "preview_listing": False,
        "public_notice": None,
        "additional_notices": [],
    }
    description = _description(coin)
    if localization:
        detail["localization"] = {
            lang: coin.name for lang in ("en", "de", "es", "fr", "it", "ja", "ko", "zh")
        }
        detail["description"] = {
            lang: description for lang in ("en", "de", "es", "fr", "it", "ja", "ko", "zh")
        }
    else:
        detail["description"] = {"en": description}
    detail["links"] = _links(seed, coin)
    detail["image"] = {
        "thumb": _image(coin, "thumb"),
        "small": _image(coin, "small"),
        "large": _image(coin, "large"),
    }
    detail["country_origin"] = "" if cu.unit(seed, coin.id, "country") < 0.7 else "US"
    detail["genesis_date"] = coin.genesis_date
    up = round(50 + 45 * cu.unit(seed, coin.id, "votes", int(t // 86400)), 2)
    detail["sentiment_votes_up_percentage"] = up
    detail["sentiment_votes_down_percentage"] = round(100 - up, 2)
    detail["watchlist_portfolio_users"] = int(1_000_000 / math.sqrt(coin.market_cap_rank or 4000))
    detail["market_cap_rank"] = coin.market_cap_rank
    if _flag(request, "market_data", True):
        detail["market_data"] = _market_data(seed, coin, t, _flag(request, "sparkline", False))
    if _flag(request, "community_data", True):
        detail["community_data"] = _community(seed, coin)
    if _flag(request, "developer_data", True):
        detail["developer_data"] = _developer(seed, coin, t)
    detail["status_updates"] = []
    detail["last_updated"] = _iso(_last_updated(seed, coin, t))
    if _flag(request, "tickers", True):
        tickers = [
            cx.ticker_object(seed, coin, ex, target, t, depth=False, logo=False)
            for ex, target in cx.listings(seed, coin)
        ]
        detail["tickers"] = cx.order_tickers(tickers, "trust_score_desc")[:TICKERS_PER_PAGE]
    return call.json(detail)


def _description(coin: cu.Coin) -> str:
    categories = ", ".join(coin.categories) or "crypto"
    return (
        f"{coin.name} ({coin.symbol.upper()}) is a digital asset in the {categories} space. "
        f"It is traded on centralized and decentralized exchanges. "
        f'Learn more on <a href="https://www.coingecko.com/en/coins/{coin.id}">its CoinGecko page</a>.'
    )


def _links(seed: int, coin: cu.Coin) -> dict[str, Any]:
    handle = "".join(ch for ch in coin.name if ch.isalnum())[:15]
    has_repo = _has_repo(seed, coin)
    return {
        "homepage": [f"https://{coin.id}.org"],
        "whitepaper": f"https://{coin.id}.org/whitepaper.pdf" if cu.unit(seed, coin.id, "wp") < 0.6 else "",
        "blockchain_site": [f"https://explorer.{coin.id}.org", "", ""],
        "official_forum_url": [""],
        "chat_url": [""],
        "announcement_url": [""],
        "snapshot_url": None,
        "twitter_screen_name": handle,
        "facebook_username": "",
        "bitcointalk_thread_identifier": None,
        "telegram_channel_identifier": handle.lower() if cu.unit(seed, coin.id, "tg") < 0.5 else "",
        "subreddit_url": f"https://www.reddit.com/r/{handle}/"
        if cu.unit(seed, coin.id, "reddit") < 0.5
        else None,
        "repos_url": {
            "github": [f"https://github.com/{coin.id}/{coin.id}"] if has_repo else [],
            "bitbucket": [],
        },
    }


def _has_repo(seed: int, coin: cu.Coin) -> bool:
    return (coin.market_cap_rank or 9999) <= 50 or cu.unit(seed, coin.id, "repo") < 0.7


def _currency_map(seed: int, usd_value: float | None, t: float) -> dict[str, float | int | None]:
    out: dict[str, float | int | None] = {}
    for vs in cu.VS_CURRENCIES:
        factor = cu.usd_to(vs, t, seed)
        out[vs] = None if usd_value is None or factor is None else _num(usd_value * factor)
    return out


def _market_data(seed: int, coin: cu.Coin, t: float, sparkline: bool) -> dict[str, Any]:
    stats = cu.market_stats(coin, t, seed)
    change_24h = stats.price - stats.price_24h_ago
    pct = {w: round(cu.change_percentage(coin, t, s, seed), 5) for w, s in _CHANGE_WINDOWS.items()}
    ath_date = {vs: coin.ath_date for vs in cu.VS_CURRENCIES}
    atl_date = {vs: coin.atl_date for vs in cu.VS_CURRENCIES}
    data: dict[str, Any] = {
        "current_price": _currency_map(seed, stats.price, t),
        "total_value_locked": None,
        "mcap_to_tvl_ratio": None,
        "fdv_to_tvl_ratio": None,
        "roi": _roi(seed, coin, stats.price),
        "ath": _currency_map(seed, stats.ath, t),
        "ath_change_percentage": {
            vs: round((stats.price - stats.ath) / stats.ath * 100, 5) for vs in cu.VS_CURRENCIES
        },
        "ath_date": ath_date,
        "atl": _currency_map(seed, stats.atl, t),
        "atl_change_percentage": {
            vs: round((stats.price - stats.atl) / stats.atl * 100, 5) for vs in cu.VS_CURRENCIES
        },
        "atl_date": atl_date,
        "market_cap": _currency_map(seed, stats.market_cap, t),
        "market_cap_rank": coin.market_cap_rank,
        "fully_diluted_valuation": _currency_map(seed, stats.fully_diluted_valuation, t)
        if stats.fully_diluted_valuation
        else {},
        "market_cap_fdv_ratio": round(stats.market_cap / stats.fully_diluted_valuation, 2)
        if stats.fully_diluted_valuation
        else None,
        "total_volume": _currency_map(seed, stats.total_volume, t),
        "high_24h": _currency_map(seed, stats.high_24h, t),
        "low_24h": _currency_map(seed, stats.low_24h, t),
        "price_change_24h": _num(change_24h),
        "price_change_percentage_24h": pct["24h"],
        "price_change_percentage_7d": pct["7d"],
        "price_change_percentage_14d": pct["14d"],
        "price_change_percentage_30d": pct["30d"],
        "price_change_percentage_60d": round(cu.change_percentage(coin, t, 60 * 86400, seed), 5),
        "price_change_percentage_200d": pct["200d"],
        "price_change_percentage_1y": pct["1y"],
        "market_cap_change_24h": _num(stats.market_cap - stats.market_cap_24h_ago),
        "market_cap_change_percentage_24h": round(
            (stats.market_cap - stats.market_cap_24h_ago) / stats.market_cap_24h_ago * 100, 5
        )
        if stats.market_cap_24h_ago
        else 0,
        "price_change_24h_in_currency": _currency_map(seed, change_24h, t),
        "price_change_percentage_1h_in_currency": {vs: pct["1h"] for vs in cu.VS_CURRENCIES},
        "price_change_percentage_24h_in_currency": {vs: pct["24h"] for vs in cu.VS_CURRENCIES},
        "price_change_percentage_7d_in_currency": {vs: pct["7d"] for vs in cu.VS_CURRENCIES},
        "total_supply": _num(coin.total_supply),
        "max_supply": _num(coin.max_supply),
        "max_supply_infinite": coin.max_supply is None,
        "circulating_supply": _num(coin.circulating_supply),
        "last_updated": _iso(_last_updated(seed, coin, t)),
    }
    if sparkline:
        data["sparkline_7d"] = {"price": [cu.price_usd(coin, t - h * 3600, seed) for h in range(167, -1, -1)]}
    return data


def _community(seed: int, coin: cu.Coin) -> dict[str, Any]:
    scale = 3_000_000 / math.sqrt(coin.market_cap_rank or 4000)
    has_reddit = cu.unit(seed, coin.id, "reddit") < 0.5
    has_tg = cu.unit(seed, coin.id, "tg") < 0.5
    return {
        "facebook_likes": None,
        "twitter_followers": int(scale * (0.3 + cu.unit(seed, coin.id, "tw"))),
        "reddit_average_posts_48h": 0.0,
        "reddit_average_comments_48h": 0.0,
        "reddit_subscribers": int(scale * 0.4 * cu.unit(seed, coin.id, "rd")) if has_reddit else 0,
        "reddit_accounts_active_48h": 0,
        "telegram_channel_user_count": int(scale * 0.1 * cu.unit(seed, coin.id, "tgc")) if has_tg else None,
    }


def _developer(seed: int, coin: cu.Coin, t: float) -> dict[str, Any]:
    if not _has_repo(seed, coin):
        zero = 0
        return {
            "forks": zero, "stars": zero, "subscribers": zero, "total_issues": zero, "closed_issues": zero,
            "pull_requests_merged": zero, "pull_request_contributors": zero,
            "code_additions_deletions_4_weeks": {"additions": None, "deletions": None},
            "commit_count_4_weeks": zero, "last_4_weeks_commit_activity_series": [],
        }  # fmt: skip
    size = 40_000 / math.sqrt(coin.market_cap_rank or 4000)
    issues = int(size * (0.2 + cu.unit(seed, coin.id, "issues")))
    week = int(t // (7 * 86400))
    return {
        "forks": int(size * 0.3),
        "stars": int(size),
        "subscribers": int(size * 0.05),
        "total_issues": issues,
        "closed_issues": int(issues * 0.9),
        "pull_requests_merged": int(size * 0.4),
        "pull_request_contributors": int(10 + size * 0.01),
        "code_additions_deletions_4_weeks": {
            "additions": int(size * cu.unit(seed, coin.id, "add", week)),
            "deletions": -int(size * 0.6 * cu.unit(seed, coin.id, "del", week)),
        },
        "commit_count_4_weeks": int(5 + size * 0.01 * cu.unit(seed, coin.id, "commits", week)),
        "last_4_weeks_commit_activity_series": [],
    }


@router.get("/coins/{coin_id}/market_chart")
async def coin_market_chart(request: Request, coin_id: str) -> Response:
    """``GET /coins/{id}/market_chart?vs_currency=usd&days=N[&interval=daily]`` — Demo: ≤ 365 days."""
    from marketpipe.sandbox.providers import daily_history

    opened = await _open_coin(request, "/coins/{id}/market_chart", coin_id)
    if isinstance(opened, Response):
        return opened
    call, coin = opened
    if (request.query_params.get("vs_currency") or "").lower() != "usd":
        return call.json({"error": "invalid vs_currency"}, 400)
    raw_days = (request.query_params.get("days") or "").strip().lower()
    if raw_days == "max" or (raw_days.isdigit() and int(raw_days) > daily_history.COINGECKO_DEMO_DAYS):
        return call.json(daily_history.COINGECKO_RANGE_BODY, 401)
    if not raw_days.isdigit() or int(raw_days) < 1:
        return call.json({"error": "invalid days"}, 400)
    return call.json(daily_history.coingecko_chart(call.world.seed, coin, int(raw_days), call.ts))


@router.get("/coins/{coin_id}/tickers")
async def coin_tickers(request: Request, coin_id: str) -> Response:
    """``GET /coins/{id}/tickers`` — 100 per page (empty past the end), ``exchange_ids``/``order``/``depth``."""
    opened = await _open_coin(request, "/coins/{id}/tickers", coin_id)
    if isinstance(opened, Response):
        return opened
    call, coin = opened
    seed = call.world.seed
    query = request.query_params
    page = _int_param(request, "page", 1) or 1
    order = query.get("order") or "trust_score_desc"
    if order not in ("trust_score_desc", "trust_score_asc", "volume_desc", "volume_asc"):
        order = "trust_score_desc"
    pairs = cx.listings(seed, coin)
    if query.get("exchange_ids"):
        wanted = {e.strip() for e in query["exchange_ids"].split(",") if e.strip()}
        pairs = [(ex, target) for ex, target in pairs if ex.identifier in wanted]
    depth = _flag(request, "depth", False)
    logo = _flag(request, "include_exchange_logo", False)
    tickers = [
        cx.ticker_object(seed, coin, ex, target, call.ts, depth=depth, logo=logo) for ex, target in pairs
    ]
    ordered = cx.order_tickers(tickers, order)
    start = (max(page, 1) - 1) * TICKERS_PER_PAGE
    return call.json({"name": coin.name, "tickers": ordered[start : start + TICKERS_PER_PAGE]})


_DERIVATIVE_MARKETS = (
    ("Binance (Futures)", "binance_futures", 1.0, "{s}USDT"),
    ("Bybit (Futures)", "bybit", 0.8, "{s}USDT"),
    ("OKX (Futures)", "okex_swap", 0.7, "{s}-USDT-SWAP"),
    ("Gate.io (Futures)", "gate_futures", 0.8, "{s}_USDT"),
    ("Bitget Futures", "bitget_futures", 0.7, "{s}USDT_UMCBL"),
    ("MEXC (Futures)", "mxc_futures", 0.8, "{s}_USDT"),
    ("Hyperliquid (Futures)", "hyperliquid", 0.5, "{s}-USD"),
    ("Deribit", "deribit", 0.05, "{s}-PERPETUAL"),
    ("BitMEX (Derivative)", "bitmex", 0.1, "{s}USDT"),
    ("Kraken (Futures)", "kraken_futures", 0.2, "PF_{s}USD"),
)


@router.get("/derivatives")
async def derivatives(request: Request) -> Response:
    """``GET /derivatives`` — perpetuals and dated futures; ``price`` is a string (docs/providers.md §9.3)."""
    call, refusal = await _open(request, "/derivatives")
    if refusal is not None:
        return refusal
    seed = call.world.seed
    t = call.ts
    include_all = (request.query_params.get("include_tickers") or "unexpired") == "all"
    rows: list[dict[str, Any]] = []
    for coin in cu.universe(seed).coins[:300]:
        if coin.volatility == 0:
            continue  # no perpetuals on stablecoins
        rank = coin.market_cap_rank or 300
        for market, ident, reach, pattern in _DERIVATIVE_MARKETS:
            if rank > 10 and cu.unit(seed, coin.id, ident, "perp") >= reach * (1.0 if rank <= 100 else 0.5):
                continue
            rows.append(
                _derivative_row(seed, coin, market, ident, pattern.format(s=coin.symbol.upper()), t, None)
            )
            if rank <= 5 and ident in ("binance_futures", "okex_swap", "deribit"):
                for months_ahead in (-1, 1, 3) if include_all else (1, 3):
                    expiry = _quarter_expiry(t, months_ahead)
                    symbol = f"{coin.symbol.upper()}-{datetime.fromtimestamp(expiry, UTC).strftime('%d%b%y').upper()}"
                    rows.append(_derivative_row(seed, coin, market, ident, symbol, t, expiry))
    return call.json(rows)


def _quarter_expiry(t: float, months_ahead: int) -> float:
    moment = datetime.fromtimestamp(t, UTC)
    month_index = moment.year * 12 + moment.month - 1 + months_ahead
    year, month = divmod(month_index, 12)
    return datetime(year, month + 1, 25, 8, tzinfo=UTC).timestamp()


def _derivative_row(
    seed: int, coin: cu.Coin, market: str, ident: str, symbol: str, t: float, expiry: float | None
) -> dict[str, Any]:
    key = (seed, coin.id, ident, symbol)
    index = cu.price_usd(coin, t, seed)
    basis_pct = (
        (0.002 * (cu.unit(*key, "basis", int(t // 300)) - 0.5))
        if expiry is None
        else 0.01 * (expiry - t) / (90 * 86400)
    )
    price = index * (1 + basis_pct)
    volume = cu.market_stats(coin, t, seed).total_volume * (0.3 + 1.5 * cu.unit(*key, "vol"))
    funding = (
        None if expiry is not None else round(0.01 * (cu.unit(*key, "funding", int(t // 28800)) - 0.3), 6)
    )
    open_interest = (
        None if cu.unit(*key, "oi-null") < 0.03 else round(volume * (0.2 + 0.6 * cu.unit(*key, "oi")), 2)
    )
    return {
        "market": market,
        "symbol": symbol,
        "index_id": coin.symbol.upper(),
        "price": f"{price:.8g}",
        "price_percentage_change_24h": cu.change_percentage(coin, t, 86400, seed),
        "contract_type": "perpetual" if expiry is None else "futures",
        "index": index,
        "basis": basis_pct * 100,
        "spread": None
        if cu.unit(*key, "spread-null") < 0.05
        else round(0.01 + 0.2 * cu.unit(*key, "spread"), 3),
        "funding_rate": funding,
        "open_interest": open_interest,
        "volume_24h": round(volume, 4),
        "last_traded_at": int(t - 30 * cu.unit(*key, "traded", int(t // 30))),
        "expired_at": None if expiry is None or expiry > t else int(expiry),
    }


@router.get("/global")
async def global_data(request: Request) -> Response:
    """``GET /global`` — market totals derived from the simulated universe."""
    call, refusal = await _open(request, "/global")
    if refusal is not None:
        return refusal
    seed = call.world.seed
    t = call.ts
    coins = cu.universe(seed).coins
    caps: dict[str, float] = {}
    total_cap = total_volume = cap_24h_ago = 0.0
    for coin in coins:
        price = cu.price_usd(coin, t, seed)
        cap = price * coin.circulating_supply if coin.ranked else 0.0
        if coin.market_cap_rank is not None and coin.market_cap_rank <= 10:
            caps[coin.symbol] = caps.get(coin.symbol, 0.0) + cap
        total_cap += cap
        total_volume += cap * cu.turnover(coin, t, seed)
        cap_24h_ago += cu.price_usd(coin, t - 86400, seed) * coin.circulating_supply if coin.ranked else 0.0
    share = {sym: round(cap / total_cap * 100, 4) for sym, cap in caps.items() if cap > 0}
    data = {
        "active_cryptocurrencies": len(coins),
        "upcoming_icos": 0,
        "ongoing_icos": 49,
        "ended_icos": 3376,
        "markets": len(cx.EXCHANGES) * 35,
        "total_market_cap": {vs: total_cap * (cu.usd_to(vs, t, seed) or 0) for vs in cu.VS_CURRENCIES},
        "total_volume": {vs: total_volume * (cu.usd_to(vs, t, seed) or 0) for vs in cu.VS_CURRENCIES},
        "market_cap_percentage": dict(sorted(share.items(), key=lambda kv: -kv[1])),
        "market_cap_change_percentage_24h_usd": (total_cap - cap_24h_ago) / cap_24h_ago * 100,
        "updated_at": int(t),
    }
    return call.json({"data": data})
