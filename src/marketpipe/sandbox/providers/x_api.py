"""X API v2 simulator (docs/providers.md §6): user lookup by username and the user Post timeline.

Auth is ``Authorization: Bearer <app token>``; a missing or bad token gets the 401 problem JSON. Every
metered reply carries ``x-rate-limit-limit/remaining/reset`` for its endpoint's 15-minute window (no
``Retry-After``, as on X). Windows are per token and per endpoint, and a monthly post cap counts the
posts a token has read; both come from ``PROVIDER.quota`` (window names ``<endpoint>:<label>`` and
``posts:month``) so the admin API can switch tiers. Defaults are the Free tier the seed ran on:
1 timeline request and 3 lookups per 15 minutes, 1,500 post reads per month.

Tokens starting with ``unenrolled`` answer 403 ``client-not-enrolled`` (an app outside a Project).
A ``rate_limit`` fault with ``window="posts:month"`` gives the UsageCapExceeded 429, ``window="v1"`` the
legacy ``{"errors":[{"code":88,...}]}`` body.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from marketpipe.sandbox.core import Call, ProviderSpec, gate, json_response
from marketpipe.sandbox.providers import x_api_world as xw
from marketpipe.sandbox.quota import QuotaDecision, QuotaWindow, per_month

NAME = "x"
#: Where the sandbox mounts it (the real base URL's path layout below this prefix).
PREFIX = "/x/2"
TIMELINE = "users_tweets"
LOOKUP = "users_by_username"
POST_CAP = "posts:month"
FIFTEEN_MIN = 900

PROBLEM = "https://api.twitter.com/2/problems/"
UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
TOO_MANY = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
USAGE_CAPPED = {
    "title": "UsageCapExceeded",
    "detail": "Usage cap exceeded: Monthly product cap",
    "type": PROBLEM + "usage-capped",
    "period": "Monthly",
    "scope": "Product",
}
LEGACY_RATE_LIMIT = {"errors": [{"code": 88, "message": "Rate limit exceeded"}]}
CLIENT_FORBIDDEN = {
    "client_id": "12262375",
    "detail": (
        "When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a "
        "Twitter developer App that is attached to a Project. You can create a project via the developer portal."
    ),
    "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
    "title": "Client Forbidden",
    "required_enrollment": "Appropriate Level of API Access",
    "reason": "client-not-enrolled",
    "type": PROBLEM + "client-forbidden",
}

TWEET_FIELDS = (
    "article",
    "attachments",
    "author_id",
    "card_uri",
    "context_annotations",
    "conversation_id",
    "created_at",
    "edit_controls",
    "edit_history_tweet_ids",
    "entities",
    "geo",
    "id",
    "in_reply_to_user_id",
    "lang",
    "non_public_metrics",
    "note_tweet",
    "organic_metrics",
    "possibly_sensitive",
    "promoted_metrics",
    "public_metrics",
    "referenced_tweets",
    "reply_settings",
    "scopes",
    "source",
    "text",
    "withheld",
)
USER_FIELDS = (
    "affiliation",
    "connection_status",
    "created_at",
    "description",
    "entities",
    "id",
    "location",
    "most_recent_tweet_id",
    "name",
    "pinned_tweet_id",
    "profile_banner_url",
    "profile_image_url",
    "protected",
    "public_metrics",
    "receives_your_dm",
    "subscription_type",
    "url",
    "username",
    "verified",
    "verified_type",
    "withheld",
)
TIMELINE_EXPANSIONS = (
    "article.cover_media",
    "article.media_entities",
    "attachments.media_keys",
    "attachments.media_source_tweet",
    "attachments.poll_ids",
    "author_id",
    "edit_history_tweet_ids",
    "entities.mentions.username",
    "geo.place_id",
    "in_reply_to_user_id",
    "entities.note.mentions.username",
    "referenced_tweets.id",
    "referenced_tweets.id.attachments.media_keys",
    "referenced_tweets.id.author_id",
)
USER_EXPANSIONS = ("affiliation.user_id", "most_recent_tweet_id", "pinned_tweet_id")
#: Fields only the account owner (user context) may read; app-only auth gets a 403 for them.
PRIVATE_METRICS = {"non_public_metrics", "organic_metrics", "promoted_metrics"}

router = APIRouter()


# -- provider hooks --------------------------------------------------------------------------------


def _unauthorized(call: Call) -> Response:
    return json_response(UNAUTHORIZED, 401)


def _quota_reply(call: Call, decision: QuotaDecision) -> Response:
    if decision.window == POST_CAP or decision.window.endswith("month"):
        return json_response(USAGE_CAPPED, 429)
    if decision.window == "v1":
        return json_response(LEGACY_RATE_LIMIT, 429)
    return json_response(TOO_MANY, 429, _rate_headers(decision))


def _rate_headers(decision: QuotaDecision) -> dict[str, str]:
    return {
        "x-rate-limit-limit": str(decision.limit),
        "x-rate-limit-remaining": str(max(0, decision.remaining)),
        "x-rate-limit-reset": str(int(decision.reset_ts)),
    }


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


PROVIDER = ProviderSpec(
    name=NAME,
    prefix=PREFIX,
    router=router,
    quota=(
        QuotaWindow(name=f"{TIMELINE}:15min", limit=1, seconds=FIFTEEN_MIN),
        QuotaWindow(name=f"{LOOKUP}:15min", limit=3, seconds=FIFTEEN_MIN),
        per_month(1500, name=POST_CAP),
    ),
    missing_key_reply=_unauthorized,
    invalid_key_reply=_unauthorized,
    quota_reply=_quota_reply,
    quota_headers=lambda call, decision: _rate_headers(decision),
    description="X API v2: user lookup and user Post timeline (Free tier windows by default)",
)


# -- request plumbing ------------------------------------------------------------------------------


class _BadRequest(Exception):
    """A parameter X would reject with 400 ``invalid-request``."""

    def __init__(self, parameter: str, value: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.value = value
        self.message = message

    def body(self) -> dict[str, Any]:
        return {
            "errors": [{"parameters": {self.parameter: [self.value]}, "message": self.message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": PROBLEM + "invalid-request",
        }


async def _open(request: Request, endpoint: str) -> tuple[Call, Response | None]:
    """Gate the call, then meter it against the endpoint's own windows (not the whole provider's)."""
    call = await gate(request, NAME, endpoint=endpoint, key=_bearer(request), count_quota=False)
    if call.reply is not None:
        return call, call.reply
    if call.key and call.key.lower().startswith("unenrolled"):
        return call, call.refuse_auth(json_response(CLIENT_FORBIDDEN, 403))
    windows = tuple(w for w in call.sandbox.windows(NAME) if w.name.startswith(endpoint + ":"))
    return call, call.meter(windows, scope=endpoint)


def _post_cap(call: Call) -> QuotaWindow | None:
    return next((w for w in call.sandbox.windows(NAME) if w.name == POST_CAP), None)


def _charge_posts(call: Call, posts: int) -> Response | None:
    """Count ``posts`` read against the monthly cap; refuse the call if the cap was already used up."""
    cap = _post_cap(call)
    if cap is None:
        return None
    first = call.sandbox.quota.hit(NAME, call.key_id, (cap,), call.ts, scope=POST_CAP)
    if not first.allowed:
        return call.refuse_quota(json_response(USAGE_CAPPED, 429, call.headers))
    for _ in range(posts - 1):  # the call that crosses the cap still gets its page
        if not call.sandbox.quota.hit(NAME, call.key_id, (cap,), call.ts, scope=POST_CAP).allowed:
            break
    return None


def _fields(request: Request, param: str, allowed: tuple[str, ...]) -> set[str]:
    raw = request.query_params.get(param)
    if raw is None:
        return set()
    values = [v.strip() for v in raw.split(",")]
    for value in values:
        if value not in allowed:
            raise _BadRequest(
                param,
                value,
                f"The `{param}` query parameter value [{value}] is not one of [{','.join(allowed)}]",
            )
    return set(values)


def _id_param(request: Request, param: str) -> int | None:
    raw = request.query_params.get(param)
    if raw is None:
        return None
    if not re.fullmatch(r"[0-9]{1,19}", raw):
        raise _BadRequest(
            param, raw, f"The `{param}` query parameter value [{raw}] does not match ^[0-9]{{1,19}}$"
        )
    return int(raw)


def _time_param(request: Request, param: str) -> float | None:
    raw = request.query_params.get(param)
    if raw is None:
        return None
    try:
        return xw.parse_rfc3339(raw)
    except ValueError:
        raise _BadRequest(
            param,
            raw,
            f"Invalid '{param}':'{raw}'. '{param}' must be a valid RFC 3339 timestamp (YYYY-MM-DDTHH:mm:ssZ).",
        ) from None


def _not_found(value: str, parameter: str, what: str) -> dict[str, Any]:
    return {
        "value": value,
        "detail": f"Could not find user with {what}: [{value}].",
        "title": "Not Found Error",
        "resource_type": "user",
        "parameter": parameter,
        "resource_id": value,
        "type": PROBLEM + "resource-not-found",
    }


def _suspended(value: str, parameter: str) -> dict[str, Any]:
    return {
        "value": value,
        "detail": f"User has been suspended: [{value}].",
        "title": "Forbidden",
        "resource_type": "user",
        "parameter": parameter,
        "resource_id": value,
        "type": PROBLEM + "resource-not-found",
    }


# -- pagination tokens -----------------------------------------------------------------------------

_TOKEN_MASK = 0x5DEECE66D2B7A3F1
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _b36(number: int) -> str:
    out = ""
    while number:
        number, digit = divmod(number, 36)
        out = _ALPHABET[digit] + out
    return out or "0"


def encode_token(direction: str, post_id: int) -> str:
    """An opaque page token: direction (``n`` older / ``p`` newer), the boundary id, a checksum."""
    body = _b36(post_id ^ _TOKEN_MASK)
    check = _b36(sum(ord(c) * (i + 7) for i, c in enumerate(direction + body)) % 46656).rjust(3, "0")
    return f"7{direction}{body}{check}"


def decode_token(token: str) -> tuple[str, int] | None:
    """(direction, boundary id) of a token made by :func:`encode_token`; None if it is not one."""
    if len(token) < 6 or token[0] != "7" or token[1] not in "np":
        return None
    direction, body, check = token[1], token[2:-3], token[-3:]
    if any(c not in _ALPHABET for c in body):
        return None
    expected = _b36(sum(ord(c) * (i + 7) for i, c in enumerate(direction + body)) % 46656).rjust(3, "0")
    if check != expected:
        return None
    return direction, int(body, 36) ^ _TOKEN_MASK


# -- routes ----------------------------------------------------------------------------------------


@router.get("/users/by/username/{username}")
async def user_by_username(request: Request, username: str) -> Response:
    """``GET /2/users/by/username/:username`` — 200 with ``data``, or 200 with only ``errors``."""
    call, refusal = await _open(request, LOOKUP)
    if refusal is not None:
        return refusal
    try:
        if not re.fullmatch(r"[A-Za-z0-9_]{1,15}", username):
            raise _BadRequest(
                "username",
                username,
                f"The `username` query parameter value [{username}] does not match ^[A-Za-z0-9_]{{1,15}}$",
            )
        user_fields = _fields(request, "user.fields", USER_FIELDS)
        _fields(request, "tweet.fields", TWEET_FIELDS)
        expansions = _fields(request, "expansions", USER_EXPANSIONS)
    except _BadRequest as bad:
        return call.json(bad.body(), 400)
    account = xw.account_by_username(username)
    if account is None:
        return call.json({"errors": [_not_found(username, "username", "username")]})
    if account.suspended:
        return call.json({"errors": [_suspended(username, "username")]})
    now_ms = int(call.ts * 1000)
    payload: dict[str, Any] = {"data": xw.user_object(call.world.seed, account, user_fields, now_ms)}
    if "most_recent_tweet_id" in expansions:
        newest = xw.newest_post(call.world.seed, account, now_ms)
        if newest is not None:
            payload["includes"] = {"tweets": [xw.tweet_object(call.world.seed, newest, set(), now_ms)]}
    return call.json(payload)


@router.get("/users/{user_id}/tweets")
async def user_tweets(request: Request, user_id: str) -> Response:
    """``GET /2/users/:id/tweets`` — newest first, ``meta.next_token`` paging, optional includes."""
    call, refusal = await _open(request, TIMELINE)
    if refusal is not None:
        return refusal
    try:
        params = _timeline_params(request, user_id)
    except _BadRequest as bad:
        return call.json(bad.body(), 400)
    if params["tweet_fields"] & PRIVATE_METRICS:
        return call.json(
            {
                "title": "Unsupported Authentication",
                "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
                "type": PROBLEM + "unsupported-authentication",
                "status": 403,
            },
            403,
        )
    account = xw.account_by_id(user_id)
    if account is None:
        return call.json({"errors": [_not_found(user_id, "id", "id")]})
    if account.suspended:
        return call.json({"errors": [_suspended(user_id, "id")]})
    seed = call.world.seed
    now_ms = int(call.ts * 1000)
    newest_ms, oldest_ms, min_id, max_id = _bounds(params, account, now_ms)
    limit: int = params["max_results"]
    token = params["token"]
    exclude: frozenset[str] = params["exclude"]
    if token is not None and token[0] == "p":
        # A previous page: the ``limit`` posts just newer than the boundary, still newest first.
        newer = _collect(seed, account, newest_ms, max(oldest_ms, xw.snowflake_ms(token[1])), exclude, 10_000)
        newer = [p for p in newer if p.id > token[1] and (min_id is None or p.id > min_id)]
        page = newer[-limit:]
        has_more = False
    else:
        if token is not None:
            newest_ms = min(newest_ms, xw.snowflake_ms(token[1]))
            max_id = token[1] if max_id is None else min(max_id, token[1])
        found = _collect(
            seed, account, newest_ms, oldest_ms, exclude, limit + 1, min_id=min_id, max_id=max_id
        )
        page, has_more = found[:limit], len(found) > limit
    charged = _charge_posts(call, len(page))
    if charged is not None:
        return charged
    if not page:
        return call.json({"meta": {"result_count": 0}})
    tweet_fields: set[str] = params["tweet_fields"]
    payload: dict[str, Any] = {"data": [xw.tweet_object(seed, post, tweet_fields, now_ms) for post in page]}
    includes = _includes(seed, page, params["expansions"], params["user_fields"], now_ms)
    if includes:
        payload["includes"] = includes
    meta: dict[str, Any] = {
        "result_count": len(page),
        "newest_id": str(page[0].id),
        "oldest_id": str(page[-1].id),
    }
    if has_more:
        meta["next_token"] = encode_token("n", page[-1].id)
    if token is not None:
        meta["previous_token"] = encode_token("p", page[0].id)
    payload["meta"] = meta
    return call.json(payload)


def _timeline_params(request: Request, user_id: str) -> dict[str, Any]:
    if not re.fullmatch(r"[0-9]{1,19}", user_id):
        raise _BadRequest(
            "id", user_id, f"The `id` query parameter value [{user_id}] does not match ^[0-9]{{1,19}}$"
        )
    raw_max = request.query_params.get("max_results", "10")
    if not raw_max.isdigit() or not 5 <= int(raw_max) <= 100:
        raise _BadRequest(
            "max_results",
            raw_max,
            f"The `max_results` query parameter value [{raw_max}] is not between 5 and 100",
        )
    raw_token = request.query_params.get("pagination_token")
    token = None
    if raw_token is not None:
        token = decode_token(raw_token)
        if token is None:
            raise _BadRequest(
                "pagination_token",
                raw_token,
                f"The `pagination_token` query parameter value [{raw_token}] is not valid",
            )
    exclude = _fields(request, "exclude", ("retweets", "replies"))
    start = _time_param(request, "start_time")
    end = _time_param(request, "end_time")
    if start is not None and end is not None and end <= start:
        raise _BadRequest(
            "end_time",
            request.query_params["end_time"],
            "Invalid 'end_time'. 'end_time' must be after 'start_time'.",
        )
    return {
        "max_results": int(raw_max),
        "token": token,
        "since_id": _id_param(request, "since_id"),
        "until_id": _id_param(request, "until_id"),
        "start": start,
        "end": end,
        "exclude": frozenset(exclude),
        "tweet_fields": _fields(request, "tweet.fields", TWEET_FIELDS),
        "user_fields": _fields(request, "user.fields", USER_FIELDS),
        "expansions": _fields(request, "expansions", TIMELINE_EXPANSIONS),
    }


def _bounds(
    params: dict[str, Any], account: xw.Account, now_ms: int
) -> tuple[int, int, int | None, int | None]:
    """(newest ms, oldest ms, exclusive lower id, exclusive upper id) for a timeline request."""
    newest_ms = now_ms
    oldest_ms = xw.timeline_floor_ms(account, now_ms)
    if params["end"] is not None:
        newest_ms = min(newest_ms, int(params["end"]) * 1000 - 1)  # second granularity, exclusive
    if params["start"] is not None:
        oldest_ms = max(oldest_ms, int(params["start"]) * 1000)  # inclusive
    min_id: int | None = params["since_id"]
    max_id: int | None = params["until_id"]
    if min_id is not None:
        oldest_ms = max(oldest_ms, xw.snowflake_ms(min_id))
    if max_id is not None:
        newest_ms = min(newest_ms, xw.snowflake_ms(max_id))
    return newest_ms, oldest_ms, min_id, max_id


def _collect(
    seed: int,
    account: xw.Account,
    newest_ms: int,
    oldest_ms: int,
    exclude: frozenset[str],
    limit: int,
    *,
    min_id: int | None = None,
    max_id: int | None = None,
) -> list[xw.Post]:
    if newest_ms < oldest_ms:
        return []
    posts = xw.posts_between(
        seed, account, newest_ms=newest_ms, oldest_ms=oldest_ms, limit=limit + 2, exclude=exclude
    )
    kept = [p for p in posts if (min_id is None or p.id > min_id) and (max_id is None or p.id < max_id)]
    return kept[:limit]


def _includes(
    seed: int, page: list[xw.Post], expansions: set[str], user_fields: set[str], now_ms: int
) -> dict[str, Any]:
    users: dict[str, xw.Account] = {}
    if "author_id" in expansions:
        users[page[0].account.id] = page[0].account
    if "entities.mentions.username" in expansions or "in_reply_to_user_id" in expansions:
        for post in page:
            for uid in post.mention_ids.values():
                mentioned = xw.account_by_id(uid)
                if mentioned is not None:
                    users.setdefault(uid, mentioned)
    if not users:
        return {}
    return {"users": [xw.user_object(seed, a, user_fields, now_ms) for a in users.values()]}
