"""Truth Social (Mastodon fork) simulator, as the ``truthbrush`` client sees it (docs/providers.md §7).

- ``POST /oauth/v2/token`` (password grant, JSON or form body) issues a Bearer token. As on the real site
  it sits beside ``/api`` (``https://truthsocial.com/oauth/v2/token``): the sandbox serves it at
  ``/truthsocial/oauth/v2/token`` (an extra router of this provider).
- ``GET /v1/accounts/lookup?acct=``, ``/v1/accounts/{id}``, ``/v1/accounts/{id}/statuses`` (``max_id``,
  ``since_id``, ``min_id``, ``limit`` ≤ 40, ``exclude_replies``, ``pinned``; RFC 5988 ``Link`` header),
  ``/v1/trends`` (20 tags) and ``/v1/truth/trending/truths`` (``limit`` ≤ 20).
- Every authenticated reply carries ``x-ratelimit-limit/remaining/reset`` (reset as ISO 8601);
  300 requests per 5-minute window per token → 429 ``{"error": "Too many requests"}``.
- Errors are Mastodon-style ``{"error": ...}``; the Cloudflare challenge page is the core's
  ``html_error`` fault with ``template="cloudflare_challenge"``.
Tokens are accepted when the core's key policy accepts them or this sandbox issued them.
"""

from __future__ import annotations

import hashlib
import weakref
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from marketpipe.sandbox.core import Call, ProviderSpec, Sandbox, gate, json_response
from marketpipe.sandbox.providers import truth_social_world as tw
from marketpipe.sandbox.quota import QuotaDecision, QuotaWindow

NAME = "truth_social"
#: Where the sandbox mounts it (the real base URL's path layout below this prefix).
PREFIX = "/truthsocial/api"
WINDOW_S = 300
WINDOW_LIMIT = 300
DEFAULT_LIMIT = 20
MAX_LIMIT = 40
MAX_TRENDING = 20

NOT_FOUND = {"error": "Record not found"}
BAD_TOKEN = {"error": "The access token is invalid"}
NO_TOKEN = {"error": "This API requires an authenticated user"}
TOO_MANY = {"error": "Too many requests"}
UNSUPPORTED_GRANT = {
    "error": "unsupported_grant_type",
    "error_description": "The authorization grant type is not supported by the authorization server.",
}
INVALID_GRANT = {
    "error": "invalid_grant",
    "error_description": (
        "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI "
        "used in the authorization request, or was issued to another client."
    ),
}

router = APIRouter()

#: Real paths beside ``/api`` (the provider's prefix without its ``/api`` tail).
oauth_router = APIRouter()
OAUTH_MOUNT = PREFIX.removesuffix("/api")

#: Tokens issued by ``/oauth/v2/token``, per sandbox instance (forgotten with the instance).
_ISSUED: weakref.WeakKeyDictionary[Sandbox, set[str]] = weakref.WeakKeyDictionary()


def _iso_reset(ts: float) -> str:
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _rate_headers(decision: QuotaDecision) -> dict[str, str]:
    return {
        "x-ratelimit-limit": str(decision.limit),
        "x-ratelimit-remaining": str(max(0, decision.remaining)),
        "x-ratelimit-reset": _iso_reset(decision.reset_ts),
    }


def _quota_reply(call: Call, decision: QuotaDecision) -> Response:
    return json_response(TOO_MANY, 429, _rate_headers(decision))


def _bad_token(call: Call) -> Response:
    return json_response(BAD_TOKEN, 401)


PROVIDER = ProviderSpec(
    name=NAME,
    prefix=PREFIX,
    router=router,
    quota=(QuotaWindow(name="5min", limit=WINDOW_LIMIT, seconds=WINDOW_S),),
    requires_key=False,  # token validity is checked in _open (issued tokens are valid too)
    invalid_key_reply=_bad_token,
    quota_reply=_quota_reply,
    quota_headers=lambda call, decision: _rate_headers(decision),
    extra_routers=[(OAUTH_MOUNT, oauth_router)],
    description="Truth Social (Mastodon API as used by truthbrush): accounts, statuses, trends",
)


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def _open(request: Request, endpoint: str) -> tuple[Call, Response | None]:
    token = _bearer(request)
    call = await gate(request, NAME, endpoint=endpoint, key=token, count_quota=False)
    if call.reply is not None:
        return call, call.reply
    if token is None:
        return call, call.refuse_auth(json_response(NO_TOKEN, 401))
    issued = _ISSUED.get(call.sandbox, set())
    if token not in issued and not call.sandbox.key_valid(call.spec, token):
        return call, call.refuse_auth(_bad_token(call))
    return call, call.meter(call.sandbox.windows(NAME))


# -- OAuth ------------------------------------------------------------------------------------------


@oauth_router.post("/oauth/v2/token")
async def oauth_token(request: Request) -> Response:
    """Password grant → ``{"access_token", "token_type": "Bearer", "scope", "created_at"}``."""
    call = await gate(request, NAME, endpoint="/oauth/v2/token", key=None, count_quota=False)
    if call.reply is not None:
        return call.reply
    raw = await request.body()
    form: dict[str, Any] = {}
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            parsed = orjson.loads(raw or b"{}")
        except orjson.JSONDecodeError:
            return call.json({"error": "invalid_request"}, 400)
        form = parsed if isinstance(parsed, dict) else {}
    else:
        form = {k: v[0] for k, v in parse_qs(raw.decode(errors="replace")).items()}
    if form.get("grant_type") != "password":
        return call.refuse_auth(json_response(UNSUPPORTED_GRANT, 400))
    username = str(form.get("username") or "")
    password = str(form.get("password") or "")
    if not username or not password or password.lower().startswith("invalid") or not form.get("client_id"):
        return call.refuse_auth(json_response(INVALID_GRANT, 400))
    sandbox = call.sandbox
    token = hashlib.sha256(f"truth:{username}:{password}:{sandbox.config.seed}".encode()).hexdigest()[:43]
    _ISSUED.setdefault(sandbox, set()).add(token)
    scope = str(form.get("scope") or "read")
    return call.json(
        {"access_token": token, "token_type": "Bearer", "scope": scope, "created_at": int(call.ts)}
    )


# -- accounts and statuses ----------------------------------------------------------------------------


@router.get("/v1/accounts/lookup")
async def lookup(request: Request) -> Response:
    call, refusal = await _open(request, "/v1/accounts/lookup")
    if refusal is not None:
        return refusal
    account = tw.account_by_acct(request.query_params.get("acct", ""))
    if account is None:
        return call.json(NOT_FOUND, 404)
    return call.json(tw.account_object(account, int(call.ts * 1000), call.world.seed))


@router.get("/v1/accounts/{account_id}")
async def account(request: Request, account_id: str) -> Response:
    call, refusal = await _open(request, "/v1/accounts/{id}")
    if refusal is not None:
        return refusal
    found = tw.account_by_id(account_id)
    if found is None:
        return call.json(NOT_FOUND, 404)
    return call.json(tw.account_object(found, int(call.ts * 1000), call.world.seed))


def _id_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    return int(raw) if raw.isdigit() else None


def _flag(request: Request, name: str) -> bool:
    return (request.query_params.get(name) or "").lower() in ("true", "1")


@router.get("/v1/accounts/{account_id}/statuses")
async def account_statuses(request: Request, account_id: str) -> Response:
    """Newest first; ``max_id`` pages back, ``since_id``/``min_id`` bound from below; ``Link`` header."""
    call, refusal = await _open(request, "/v1/accounts/{id}/statuses")
    if refusal is not None:
        return refusal
    found = tw.account_by_id(account_id)
    if found is None:
        return call.json(NOT_FOUND, 404)
    seed = call.world.seed
    now_ms = int(call.ts * 1000)
    raw_limit = request.query_params.get("limit", "")
    limit = int(raw_limit) if raw_limit.isdigit() and int(raw_limit) > 0 else DEFAULT_LIMIT
    limit = min(limit, MAX_LIMIT)
    if _flag(request, "pinned"):
        pinned = tw.pinned_statuses(seed, found, now_ms)
        return call.json([tw.status_object(seed, s, now_ms, pinned=True) for s in pinned])
    max_id = _id_param(request, "max_id")
    since_id = _id_param(request, "since_id")
    min_id = _id_param(request, "min_id")
    newest_ms = now_ms if max_id is None else min(now_ms, tw.snowflake_ms(max_id))
    lower_id = min_id if min_id is not None else since_id
    oldest_ms = 0 if lower_id is None else tw.snowflake_ms(lower_id)
    exclude_replies = _flag(request, "exclude_replies")

    def keep(status: tw.Status) -> bool:
        return (max_id is None or status.id < max_id) and (lower_id is None or status.id > lower_id)

    if min_id is not None:
        # Mastodon: the page right after min_id (oldest-adjacent), still returned newest first.
        batch = tw.statuses_between(seed, found, newest_ms=newest_ms, oldest_ms=oldest_ms, limit=limit + 2, exclude_replies=exclude_replies, ascending=True)  # fmt: skip
        page = list(reversed([s for s in batch if keep(s)][:limit]))
    else:
        batch = tw.statuses_between(seed, found, newest_ms=newest_ms, oldest_ms=oldest_ms, limit=limit + 2, exclude_replies=exclude_replies)  # fmt: skip
        page = [s for s in batch if keep(s)][:limit]
    headers = {}
    if page:
        headers["Link"] = _link_header(request, page[-1].id, page[0].id)
    return call.json([tw.status_object(seed, s, now_ms) for s in page], headers=headers)


def _link_header(request: Request, oldest_id: int, newest_id: int) -> str:
    """``<…?max_id=oldest>; rel="next", <…?min_id=newest>; rel="prev"``, keeping the other parameters."""
    kept = [
        (k, v) for k, v in request.query_params.multi_items() if k not in ("max_id", "min_id", "since_id")
    ]
    base = str(request.url).split("?", 1)[0]

    def with_param(name: str, value: int) -> str:
        query = "&".join(f"{k}={v}" for k, v in [*kept, (name, str(value))])
        return f"{base}?{query}"

    return f'<{with_param("max_id", oldest_id)}>; rel="next", <{with_param("min_id", newest_id)}>; rel="prev"'


@router.get("/v1/trends")
async def trends(request: Request) -> Response:
    """20 trending tags; history numbers are strings, ``days_ago`` an integer (docs/providers.md §7.4)."""
    call, refusal = await _open(request, "/v1/trends")
    if refusal is not None:
        return refusal
    return call.json(tw.trending_tags(call.world.seed, call.ts))


@router.get("/v1/truth/trending/truths")
async def trending_truths(request: Request) -> Response:
    """The day's most-favourited statuses; ``limit`` defaults to 10, at most 20."""
    call, refusal = await _open(request, "/v1/truth/trending/truths")
    if refusal is not None:
        return refusal
    raw_limit = request.query_params.get("limit", "")
    limit = min(int(raw_limit) if raw_limit.isdigit() and int(raw_limit) > 0 else 10, MAX_TRENDING)
    now_ms = int(call.ts * 1000)
    seed = call.world.seed
    return call.json([tw.status_object(seed, s, now_ms) for s in tw.trending_statuses(seed, now_ms, limit)])
