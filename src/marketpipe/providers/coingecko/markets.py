"""CoinGecko requests and pure parsers (docs/providers.md §9): coins/markets, coins/{id},
coins/{id}/tickers, derivatives and global. Classification and auth are
:mod:`marketpipe.providers.coingecko.client`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from marketpipe.http.errors import MalformedResponse
from marketpipe.http.types import ApiRequest
from marketpipe.providers.base import clean_text, drop, to_decimal, to_instant, to_int
from marketpipe.providers.coingecko.client import NAME

MARKETS_PER_PAGE = 250
#: The seed's tickers dataset stored one row per ticker; CoinGecko pages tickers by 100.
TICKERS_PER_PAGE = 100


def markets_request(page: int) -> ApiRequest:
    return ApiRequest(
        provider=NAME,
        path="/coins/markets",
        params={
            "vs_currency": "usd",
            "order": "market_cap_desc",
            "per_page": str(MARKETS_PER_PAGE),
            "page": str(page),
            "sparkline": "false",
            "price_change_percentage": "24h",
        },
        label=f"coingecko coins/markets page {page}",
    )


def coin_request(coin_id: str) -> ApiRequest:
    return ApiRequest(
        provider=NAME,
        path=f"/coins/{coin_id}",
        params={
            "localization": "false",
            "tickers": "false",
            "market_data": "true",
            "community_data": "true",
            "developer_data": "true",
            "sparkline": "false",
        },
        label=f"coingecko coins/{coin_id}",
    )


def tickers_request(coin_id: str, exchange_ids: str | None = None, page: int = 1) -> ApiRequest:
    params = {
        "include_exchange_logo": "false",
        "page": str(page),
        "order": "trust_score_desc",
        "depth": "false",
    }
    if exchange_ids:
        params["exchange_ids"] = exchange_ids
    return ApiRequest(
        provider=NAME,
        path=f"/coins/{coin_id}/tickers",
        params=params,
        label=f"coingecko coins/{coin_id}/tickers {exchange_ids or 'all'} p{page}",
    )


def derivatives_request() -> ApiRequest:
    return ApiRequest(provider=NAME, path="/derivatives", label="coingecko derivatives")


def global_request() -> ApiRequest:
    return ApiRequest(provider=NAME, path="/global", label="coingecko global")


# -- value helpers ---------------------------------------------------------------------------------------


def _date(value: Any) -> date | None:
    moment = to_instant(value)
    return moment.date() if moment else None


def _obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (absent or null sections)."""
    return value if isinstance(value, dict) else {}


def _usd(mapping: Any, currency: str = "usd") -> Any:
    return mapping.get(currency) if isinstance(mapping, dict) else None


def _first(values: Any) -> str | None:
    if isinstance(values, list):
        for value in values:
            text = clean_text(value)
            if text:
                return text
    return None


def _list(body: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(body, list):
        raise MalformedResponse(NAME, f"{what} reply is not a list")
    return [item for item in body if isinstance(item, dict)]


# -- parsers ---------------------------------------------------------------------------------------------


def parse_markets(body: Any) -> list[dict[str, Any]]:
    """``coingecko_id_mapping`` rows (symbols upper-cased); entries need id, symbol and name."""
    rows: list[dict[str, Any]] = []
    for coin in _list(body, "coins/markets"):
        coin_id, symbol, name = (
            clean_text(coin.get("id")),
            clean_text(coin.get("symbol")),
            clean_text(coin.get("name")),
        )
        if not coin_id or not symbol or not name:
            drop("coin without id, symbol or name")
            continue
        rows.append(
            {
                "coingecko_id": coin_id,
                "symbol": symbol.upper(),
                "name": name,
                "image_url": clean_text(coin.get("image")),
                "current_price_usd": to_decimal(coin.get("current_price")),
                "market_cap_usd": to_decimal(coin.get("market_cap")),
                "market_cap_rank": to_int(coin.get("market_cap_rank")),
                "total_volume_usd": to_decimal(coin.get("total_volume")),
                "ath_usd": to_decimal(coin.get("ath")),
                "ath_date": to_instant(coin.get("ath_date")),
                "atl_usd": to_decimal(coin.get("atl")),
                "atl_date": to_instant(coin.get("atl_date")),
                "circulating_supply": to_decimal(coin.get("circulating_supply")),
                "total_supply": to_decimal(coin.get("total_supply")),
                "max_supply": to_decimal(coin.get("max_supply")),
                "last_updated": to_instant(coin.get("last_updated")),
            }
        )
    return rows


def parse_coin(body: Any) -> dict[str, Any]:
    """One ``coingecko_coin_details`` row from ``/coins/{id}``."""
    if not isinstance(body, dict) or not clean_text(body.get("id")):
        raise MalformedResponse(NAME, "coins/{id} reply has no id")
    links = _obj(body.get("links"))
    image = _obj(body.get("image"))
    market = _obj(body.get("market_data"))
    community = _obj(body.get("community_data"))
    developer = _obj(body.get("developer_data"))
    description = _obj(body.get("description"))
    repos = _obj(links.get("repos_url"))
    github = [r for r in (repos.get("github") or []) if clean_text(r)]
    categories = [c for c in (body.get("categories") or []) if clean_text(c)]
    return {
        "coingecko_id": body["id"],
        "symbol": (clean_text(body.get("symbol")) or "").upper(),
        "name": clean_text(body.get("name")) or body["id"],
        "web_slug": clean_text(body.get("web_slug")),
        "description_en": clean_text(description.get("en")),
        "genesis_date": _date(body.get("genesis_date")),
        "country_origin": clean_text(body.get("country_origin")),
        "homepage_url": _first(links.get("homepage")),
        "blockchain_site": _first(links.get("blockchain_site")),
        "twitter_screen_name": clean_text(links.get("twitter_screen_name")),
        "facebook_username": clean_text(links.get("facebook_username")),
        "telegram_channel_identifier": clean_text(links.get("telegram_channel_identifier")),
        "subreddit_url": clean_text(links.get("subreddit_url")),
        "github_repos": github,
        "image_thumb": clean_text(image.get("thumb")),
        "image_small": clean_text(image.get("small")),
        "image_large": clean_text(image.get("large")),
        "categories": categories,
        "current_price_usd": to_decimal(_usd(market.get("current_price"))),
        "current_price_krw": to_decimal(_usd(market.get("current_price"), "krw")),
        "market_cap_usd_exact": to_decimal(_usd(market.get("market_cap"))),
        "market_cap_rank": to_int(body.get("market_cap_rank") or market.get("market_cap_rank")),
        "total_volume_usd_exact": to_decimal(_usd(market.get("total_volume"))),
        "ath_usd": to_decimal(_usd(market.get("ath"))),
        "ath_change_percentage": to_decimal(_usd(market.get("ath_change_percentage"))),
        "ath_date": to_instant(_usd(market.get("ath_date"))),
        "atl_usd": to_decimal(_usd(market.get("atl"))),
        "atl_change_percentage": to_decimal(_usd(market.get("atl_change_percentage"))),
        "atl_date": to_instant(_usd(market.get("atl_date"))),
        "total_supply": to_decimal(market.get("total_supply")),
        "circulating_supply": to_decimal(market.get("circulating_supply")),
        "max_supply": to_decimal(market.get("max_supply")),
        "price_change_24h_usd": to_decimal(market.get("price_change_24h")),
        "price_change_percentage_24h": to_decimal(market.get("price_change_percentage_24h")),
        "price_change_percentage_7d": to_decimal(market.get("price_change_percentage_7d")),
        "price_change_percentage_30d": to_decimal(market.get("price_change_percentage_30d")),
        "community_score": to_decimal(body.get("community_score")),
        "twitter_followers": to_int(community.get("twitter_followers")),
        "reddit_subscribers": to_int(community.get("reddit_subscribers")),
        "telegram_channel_user_count": to_int(community.get("telegram_channel_user_count")),
        "developer_score": to_decimal(body.get("developer_score")),
        "forks": to_int(developer.get("forks")),
        "stars": to_int(developer.get("stars")),
        "total_issues": to_int(developer.get("total_issues")),
        "closed_issues": to_int(developer.get("closed_issues")),
        "commit_count_4_weeks": to_int(developer.get("commit_count_4_weeks")),
        "public_interest_score": to_decimal(body.get("public_interest_score")),
        "liquidity_score": to_decimal(body.get("liquidity_score")),
        "coingecko_last_updated": to_instant(body.get("last_updated") or market.get("last_updated")),
    }


def parse_tickers(body: Any, fetched_at: datetime) -> list[dict[str, Any]]:
    """Ticker dicts (exchange, pair, prices) from ``/coins/{id}/tickers``.

    ``timestamp`` falls back to ``last_fetch_at``, then to ``fetched_at`` (it is part of the key).
    """
    if not isinstance(body, dict) or not isinstance(body.get("tickers"), list):
        raise MalformedResponse(NAME, "tickers reply has no 'tickers' list")
    found: list[dict[str, Any]] = []
    for ticker in body["tickers"]:
        if not isinstance(ticker, dict):
            drop("ticker is not an object")
            continue
        market = _obj(ticker.get("market"))
        exchange_id, base, target = (
            clean_text(market.get("identifier")),
            clean_text(ticker.get("base")),
            clean_text(ticker.get("target")),
        )
        if not exchange_id or not base or not target:
            drop("ticker without exchange, base or target")
            continue
        last_fetch = to_instant(ticker.get("last_fetch_at"))
        found.append(
            {
                "base": base,
                "target": target,
                "exchange_name": clean_text(market.get("name")) or exchange_id,
                "exchange_id": exchange_id,
                "last_price": to_decimal(ticker.get("last")),
                "volume_24h": to_decimal(ticker.get("volume")),
                "converted_last_usd": to_decimal(_usd(ticker.get("converted_last"))),
                "converted_volume_usd_exact": to_decimal(_usd(ticker.get("converted_volume"))),
                "trust_score": clean_text(ticker.get("trust_score")),
                "bid_ask_spread_percentage": to_decimal(ticker.get("bid_ask_spread_percentage")),
                "timestamp": to_instant(ticker.get("timestamp")) or last_fetch or fetched_at,
                "last_traded_at": to_instant(ticker.get("last_traded_at")),
                "last_fetch_at": last_fetch,
                "is_anomaly": bool(ticker.get("is_anomaly")),
                "is_stale": bool(ticker.get("is_stale")),
                "trade_url": clean_text(ticker.get("trade_url")),
                "coin_mcap_usd_exact": to_decimal(ticker.get("coin_mcap_usd")),
            }
        )
    return found


def parse_derivatives(body: Any) -> list[dict[str, Any]]:
    """``coingecko_derivatives`` rows (without batch columns); ``price`` arrives as a string."""
    rows: list[dict[str, Any]] = []
    for item in _list(body, "derivatives"):
        market, symbol = clean_text(item.get("market")), clean_text(item.get("symbol"))
        index_id = clean_text(item.get("index_id"))
        if not market or not symbol or not index_id:
            drop("derivative without market, symbol or index_id")
            continue
        rows.append(
            {
                "market": market,
                "symbol": symbol,
                "index_id": index_id.upper(),
                "price": to_decimal(item.get("price")),
                "price_percentage_change_24h": to_decimal(item.get("price_percentage_change_24h")),
                "index_price": to_decimal(item.get("index")),
                "contract_type": clean_text(item.get("contract_type")),
                "basis": to_decimal(item.get("basis")),
                "spread": to_decimal(item.get("spread")),
                "funding_rate": to_decimal(item.get("funding_rate")),
                "open_interest_usd": to_decimal(item.get("open_interest")),
                "volume_24h_usd": to_decimal(item.get("volume_24h")),
                "last_traded_at": to_instant(item.get("last_traded_at")),
                "expired_at": to_instant(item.get("expired_at")),
            }
        )
    return rows


DOMINANCE = ("btc", "eth", "bnb", "xrp", "ada", "sol", "doge")


def parse_global(body: Any) -> dict[str, Any]:
    """One ``coingecko_global`` row (without ``collected_at``) from ``/global``."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise MalformedResponse(NAME, "global reply has no 'data'")
    cap = _obj(data.get("total_market_cap"))
    volume = _obj(data.get("total_volume"))
    share = _obj(data.get("market_cap_percentage"))
    row: dict[str, Any] = {
        "active_cryptocurrencies": to_int(data.get("active_cryptocurrencies")),
        "upcoming_icos": to_int(data.get("upcoming_icos")),
        "ongoing_icos": to_int(data.get("ongoing_icos")),
        "ended_icos": to_int(data.get("ended_icos")),
        "markets": to_int(data.get("markets")),
        "market_cap_change_percentage_24h_usd": to_decimal(data.get("market_cap_change_percentage_24h_usd")),
        "market_cap_percentage_json": share,
        "total_market_cap_json": cap,
        "total_volume_json": volume,
        "coingecko_updated_at": to_instant(data.get("updated_at")),
    }
    for currency in ("usd", "krw", "btc", "eth"):
        row[f"total_market_cap_{currency}"] = to_decimal(cap.get(currency))
        row[f"total_volume_{currency}"] = to_decimal(volume.get(currency))
    for coin in DOMINANCE:
        # A coin outside CoinGecko's top list has no share: 0, as the seed stored.
        row[f"{coin}_dominance"] = to_decimal(share.get(coin)) or 0
    return row
