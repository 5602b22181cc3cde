"""X API v2 requests and pure parsers (docs/providers.md §6): user lookup by username and the user
Post timeline with a ``since_id`` cursor. Classification and windows are
:mod:`marketpipe.providers.x.client`; requests carry its scopes so its per-endpoint windows hold.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marketpipe.http.errors import MalformedResponse
from marketpipe.http.types import ApiRequest
from marketpipe.providers.base import clean_text, drop, to_instant, to_int
from marketpipe.providers.x.client import NAME, TIMELINE, USER_LOOKUP

TWEET_FIELDS = "author_id,created_at,text,public_metrics,context_annotations,entities,lang,edit_history_tweet_ids,note_tweet"
USER_FIELDS = "name,username,verified,public_metrics"
#: X's maximum page; posts are billed per post read, so a bigger page wastes nothing.
MAX_RESULTS = 100


def user_lookup_request(username: str) -> ApiRequest:
    return ApiRequest(
        provider=NAME,
        path=f"/users/by/username/{username}",
        params={"user.fields": "id,name,username,verified,public_metrics"},
        scope=USER_LOOKUP,
        label=f"x users/by/username/{username}",
    )


def timeline_request(
    user_id: str,
    *,
    since_id: str | None,
    start_time: datetime | None,
    pagination_token: str | None = None,
) -> ApiRequest:
    """The newest posts of ``user_id`` after ``since_id`` (or since ``start_time`` the first time);
    with ``pagination_token`` (a previous page's ``meta.next_token``) the next, older page of the same
    query — X returns at most ``max_results`` posts per page, newest first."""
    params = {
        "max_results": str(MAX_RESULTS),
        "tweet.fields": TWEET_FIELDS,
        "expansions": "author_id",
        "user.fields": USER_FIELDS,
    }
    if since_id:
        params["since_id"] = since_id
    elif start_time is not None:
        params["start_time"] = start_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if pagination_token:
        params["pagination_token"] = pagination_token
    return ApiRequest(
        provider=NAME,
        path=f"/users/{user_id}/tweets",
        params=params,
        scope=TIMELINE,
        label=f"x users/{user_id}/tweets since {since_id or start_time}{' (next page)' if pagination_token else ''}",
    )


def next_token(body: Any) -> str | None:
    """``meta.next_token`` of a timeline page: more (older) posts match the query."""
    meta = _obj(body.get("meta")) if isinstance(body, dict) else {}
    return clean_text(meta.get("next_token"))


def parse_user(body: Any) -> dict[str, Any]:
    """``{"username", "user_id", "display_name"}`` from a lookup reply."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or not clean_text(data.get("id")) or not clean_text(data.get("username")):
        raise MalformedResponse(NAME, "user lookup reply has no data.id/username")
    return {
        "username": data["username"],
        "user_id": str(data["id"]),
        "display_name": clean_text(data.get("name")),
    }


def _obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _array(value: Any) -> list[Any]:
    """``value`` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def _non_empty(value: Any) -> Any:
    return value if value else None


def parse_timeline(body: Any, user_id: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """(``x_posts`` rows without account/collection columns, ``meta.newest_id``).

    ``user_id`` (the timeline's owner) stands in for a missing ``author_id``.
    """
    if not isinstance(body, dict):
        raise MalformedResponse(NAME, "timeline reply is not an object")
    meta = _obj(body.get("meta"))
    posts = body.get("data") or []
    if not isinstance(posts, list):
        raise MalformedResponse(NAME, "timeline 'data' is not a list")
    includes = _obj(body.get("includes"))
    users = {u.get("id"): u for u in includes.get("users", []) if isinstance(u, dict)}
    rows: list[dict[str, Any]] = []
    for post in posts:
        if not isinstance(post, dict) or not clean_text(post.get("id")):
            drop("post without id")
            continue
        created = to_instant(post.get("created_at"))
        note = _obj(post.get("note_tweet"))
        text = note.get("text") or post.get("text")
        if created is None or not text:
            drop("post without text or valid created_at")
            continue
        metrics = _obj(post.get("public_metrics"))
        entities = _obj(post.get("entities"))
        user = users.get(post.get("author_id"), {})
        user_metrics = _obj(user.get("public_metrics"))
        rows.append(
            {
                "tweet_id": str(post["id"]),
                "author_id": str(post.get("author_id") or user.get("id") or user_id or ""),
                "text": text,
                "created_at": created,
                "lang": clean_text(post.get("lang")),
                "retweet_count": to_int(metrics.get("retweet_count")) or 0,
                "reply_count": to_int(metrics.get("reply_count")) or 0,
                "like_count": to_int(metrics.get("like_count")) or 0,
                "quote_count": to_int(metrics.get("quote_count")) or 0,
                "bookmark_count": to_int(metrics.get("bookmark_count")) or 0,
                "impression_count": to_int(metrics.get("impression_count")) or 0,
                "hashtags": _non_empty(entities.get("hashtags")),
                "mentions": _non_empty(entities.get("mentions")),
                "urls": _non_empty(entities.get("urls")),
                "cashtags": _non_empty(entities.get("cashtags")),
                "annotations": _non_empty(entities.get("annotations")),
                "context_annotations": _non_empty(post.get("context_annotations")),
                "username": clean_text(user.get("username")),
                "display_name": clean_text(user.get("name")),
                "user_verified": bool(user.get("verified")),
                "user_followers_count": to_int(user_metrics.get("followers_count")) or 0,
                "user_following_count": to_int(user_metrics.get("following_count")) or 0,
                "user_tweet_count": to_int(user_metrics.get("tweet_count")) or 0,
                "edit_history_tweet_ids": _non_empty(post.get("edit_history_tweet_ids")),
            }
        )
    newest = clean_text(meta.get("newest_id"))
    return rows, newest
