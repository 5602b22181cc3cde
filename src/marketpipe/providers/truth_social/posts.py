"""Truth Social (Mastodon-style) requests and pure parsers (docs/providers.md §7), called directly
instead of through the truthbrush CLI. ``clean_content`` comes from a real HTML parser (the seed used
a ``<[^>]+>`` regex, which breaks on ``>`` inside attributes and leaves entities encoded).
Classification and auth are :mod:`marketpipe.providers.truth_social.client`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

from marketpipe.http.errors import MalformedResponse
from marketpipe.http.types import ApiRequest
from marketpipe.providers.base import clean_text, drop, to_instant, to_int
from marketpipe.providers.truth_social.client import NAME

#: Mastodon's maximum page size for account statuses.
STATUSES_PAGE = 40
TRENDING_LIMIT = 20


def lookup_request(username: str) -> ApiRequest:
    return ApiRequest(
        provider=NAME, path="/v1/accounts/lookup", params={"acct": username}, label=f"truth lookup {username}"
    )


def statuses_request(account_id: str, *, since_id: str | None, max_id: str | None) -> ApiRequest:
    """A page of the account's statuses (no replies), newest first, between ``since_id`` and ``max_id``."""
    params = {"exclude_replies": "true", "limit": str(STATUSES_PAGE)}
    if since_id:
        params["since_id"] = since_id
    if max_id:
        params["max_id"] = max_id
    return ApiRequest(
        provider=NAME,
        path=f"/v1/accounts/{account_id}/statuses",
        params=params,
        label=f"truth statuses {account_id} since {since_id} max {max_id}",
    )


def trends_request() -> ApiRequest:
    return ApiRequest(provider=NAME, path="/v1/trends", label="truth trending tags")


def trending_truths_request() -> ApiRequest:
    return ApiRequest(
        provider=NAME,
        path="/v1/truth/trending/truths",
        params={"limit": str(TRENDING_LIMIT)},
        label="truth trending truths",
    )


# -- HTML → text -------------------------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    _BREAKS = frozenset({"br", "p", "div", "li"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._BREAKS and tag != "br":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(html: str | None) -> str | None:
    """Visible text of a status' HTML: tags dropped, entities decoded, ``<br>``/``</p>`` as line
    breaks, whitespace within lines collapsed. None for empty content (e.g. a ReTruth)."""
    if not html:
        return None
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    text = "\n".join(line for line in lines if line)
    return text or None


# -- parsers -----------------------------------------------------------------------------------------


def parse_account(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not clean_text(body.get("id")):
        raise MalformedResponse(NAME, "account lookup reply has no id")
    return {"id": str(body["id"]), "username": body.get("username"), "display_name": body.get("display_name")}


def _list(body: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(body, list):
        raise MalformedResponse(NAME, f"{what} reply is not a list")
    return [item for item in body if isinstance(item, dict)]


def _obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _array(value: Any) -> list[Any]:
    """``value`` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def parse_status(status: dict[str, Any]) -> dict[str, Any] | None:
    """Columns shared by ``truth_social_posts`` and ``truth_social_trends`` (None without id/time/account)."""
    account = _obj(status.get("account"))
    created = to_instant(status.get("created_at"))
    if not clean_text(status.get("id")) or created is None or not clean_text(account.get("id")):
        drop("status without id, account id or valid created_at")
        return None
    media = _array(status.get("media_attachments"))
    tags = _array(status.get("tags"))
    mentions = _array(status.get("mentions"))
    content = status.get("content") or ""
    return {
        "id": str(status["id"]),
        "created_at": created,
        "username": account.get("username") or account.get("acct") or "",
        "account_id": str(account["id"]),
        "display_name": clean_text(account.get("display_name")),
        "content": content,
        "clean_content": html_to_text(content),
        "language": clean_text(status.get("language")),
        "replies_count": to_int(status.get("replies_count")) or 0,
        "reblogs_count": to_int(status.get("reblogs_count")) or 0,
        "favourites_count": to_int(status.get("favourites_count")) or 0,
        "upvotes_count": to_int(status.get("upvotes_count")) or 0,
        "downvotes_count": to_int(status.get("downvotes_count")) or 0,
        "url": clean_text(status.get("url")),
        "uri": clean_text(status.get("uri")),
        "has_media": bool(media),
        "media_count": len(media),
        "media_attachments": media,
        "tags": tags,
        "mentions": mentions,
        "visibility": clean_text(status.get("visibility")) or "public",
        "sensitive": bool(status.get("sensitive")),
        "in_reply_to_id": clean_text(status.get("in_reply_to_id")),
        # private
        "_account": account,
        "_status": status,
    }


#: What a ReTruth row takes from the re-posted status (the wrapper's own are empty).
_REBLOG_CONTENT = (
    "content", "clean_content", "language", "has_media", "media_count", "media_attachments", "tags",
    "mentions", "sensitive",
)  # fmt: skip


def parse_post(status: dict[str, Any], account_type: str, market_influence: int) -> dict[str, Any] | None:
    """A ``truth_social_posts`` row. A ReTruth (``reblog`` set) carries the re-posted status's text,
    media, tags, mentions and card, and names the original in ``reblog_of_*`` (id, url, author); its
    own id, time and account stay the wrapper's (who re-posted it, when)."""
    row = parse_status(status)
    if row is None:
        return None
    account, raw = row.pop("_account"), row.pop("_status")
    original = _obj(raw.get("reblog"))
    reblog = parse_status(original) if original else None
    if reblog is not None:
        # A ReTruth: the wrapper has no text, media, tags or card; the re-posted status has them.
        reblog.pop("_account")
        raw_original = reblog.pop("_status")
        for column in _REBLOG_CONTENT:
            row[column] = reblog[column]
        row.update(
            {
                "reblog_of_id": reblog["id"],
                "reblog_of_url": reblog["url"],
                "reblog_of_username": reblog["username"],
                "reblog_of_account_id": reblog["account_id"],
            }
        )
        card_source = raw_original
    else:
        row.update(
            {
                "reblog_of_id": None,
                "reblog_of_url": None,
                "reblog_of_username": None,
                "reblog_of_account_id": None,
            }
        )
        card_source = raw
    card = _obj(card_source.get("card"))
    row.update(
        {
            "verified": bool(account.get("verified")),
            "has_tags": bool(row["tags"]),
            "has_mentions": bool(row["mentions"]),
            "card_url": clean_text(card.get("url")),
            "card_title": clean_text(card.get("title")),
            "card_description": clean_text(card.get("description")),
            "card_image": clean_text(card.get("image")),
            "spoiler_text": card_source.get("spoiler_text") or None,
            "quote_id": clean_text(raw.get("quote_id")),
            "account_type": account_type,
            "market_influence": market_influence,
        }
    )
    return row


def parse_statuses(body: Any) -> list[dict[str, Any]]:
    return _list(body, "statuses")


def parse_trending_truths(body: Any) -> list[dict[str, Any]]:
    """``truth_social_trends`` rows: rank = position (1-based), score = favourites."""
    rows: list[dict[str, Any]] = []
    for rank, status in enumerate(_list(body, "trending truths"), start=1):
        row = parse_status(status)
        if row is None:
            continue
        row.pop("_account")
        row.pop("_status")
        row["trend_rank"] = rank
        row["trend_score"] = Decimal(row["favourites_count"])
        rows.append(row)
    return rows


def parse_tags(body: Any, collected: date) -> list[dict[str, Any]]:
    """``truth_social_tags`` rows: day_0..day_6 from ``history`` (newest first, numbers as strings)."""
    rows: list[dict[str, Any]] = []
    for tag in _list(body, "trends"):
        name = clean_text(tag.get("name"))
        history = _array(tag.get("history"))
        if not name:
            continue
        by_age: dict[int, dict[str, Any]] = {}
        for position, day in enumerate(h for h in history if isinstance(h, dict)):
            age = to_int(day.get("days_ago"))
            by_age[age if age is not None else position] = day
        uses = [to_int(by_age.get(i, {}).get("uses")) or 0 for i in range(7)]
        today_accounts = to_int(by_age.get(0, {}).get("accounts")) or 0
        yesterday = uses[1]
        rows.append(
            {
                "name": name,
                "collected_date": collected,
                "url": clean_text(tag.get("url")),
                "total_uses": uses[0],
                "total_accounts": today_accounts,
                "recent_statuses_count": to_int(tag.get("recent_statuses_count")) or 0,
                "history_data": history,
                **{f"day_{i}_uses": uses[i] for i in range(7)},
                "trend_score": Decimal(uses[0]),
                # Day-over-day change in % (the seed stored 0); None when yesterday had no uses.
                "growth_rate": round(Decimal(uses[0] - yesterday) * 100 / yesterday, 2)
                if yesterday
                else None,
                "weekly_average": round(Decimal(sum(uses)) / 7, 2),
                "tag_category": "general",
            }
        )
    return rows
