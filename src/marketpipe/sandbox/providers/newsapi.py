"""NewsAPI simulator (docs/providers.md §4): ``/everything``, ``/top-headlines``, ``/top-headlines/sources``.

Key via ``apiKey`` or ``X-Api-Key`` (or ``Authorization``). Errors are
``{"status":"error","code","message"}``; the Developer plan's limits hold: 50 requests per 12 hours
per key (``rateLimited``, 429), at most 100 results per query (``maximumResultsReached``, 426) and
about one month of history (``parameterInvalid``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from marketpipe.sandbox.core import Call, ProviderSpec, gate, json_response
from marketpipe.sandbox.providers import newsapi_data
from marketpipe.sandbox.providers.newsapi_data import Article, Query, QueryError
from marketpipe.sandbox.quota import per_hours

NAME = "newsapi"
#: Where the sandbox mounts it (the real base URL's path layout below this prefix).
PREFIX = "/newsapi/v2"
MAX_RESULTS = 100
HISTORY_DAYS = 30
#: How far back /top-headlines looks (it serves the current headlines, not an archive).
HEADLINES_WINDOW = timedelta(hours=48)

MSG_KEY_MISSING = (
    "Your API key is missing. Append this to the URL with the apiKey param, or use the x-api-key HTTP header."
)
MSG_KEY_INVALID = "Your API key is invalid or incorrect. Check your key, or go to https://newsapi.org to create a free API key."
MSG_RATE = (
    "You have made too many requests recently. Developer accounts are limited to 100 requests over a 24 hour "
    "period (50 requests available every 12 hours). Please upgrade to a paid plan if you need more requests."
)
MSG_EVERYTHING_MISSING = (
    "Required parameters are missing, the scope of your search is too broad. Please set any of the following "
    "required parameters and try again: q, qInTitle, sources, domains."
)
MSG_HEADLINES_MISSING = (
    "Required parameters are missing. Please set any of the following parameters and try again: "
    "sources, q, language, country, category."
)
MSG_MIX_SOURCES = "You cannot mix the sources parameter with the country or category parameters."

router = APIRouter()


def error(status: int, code: str, message: str) -> Response:
    """NewsAPI's error envelope."""
    return json_response({"status": "error", "code": code, "message": message}, status)


def _key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    bearer = auth.removeprefix("Bearer ").strip() if auth else ""
    return request.query_params.get("apiKey") or request.headers.get("x-api-key") or bearer or None


async def _open(request: Request, endpoint: str) -> Call:
    return await gate(request, NAME, endpoint=endpoint, key=_key(request))


def _companies(call: Call) -> Callable[[date], list[Any]]:
    return call.world.constituents


def _parse_moment(text: str, *, end: bool) -> datetime:
    """``from``/``to``: a date (start or end of that day) or an ISO datetime (UTC if naive)."""
    if len(text) == 10:
        day = datetime.fromisoformat(text).date()
        return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.reply = (status, code, message)


def _paging(params: Any, default_size: int) -> tuple[int, int]:
    try:
        page_size = int(params.get("pageSize") or default_size)
        page = int(params.get("page") or 1)
    except ValueError:
        raise _Refusal(
            400, "parameterInvalid", "The pageSize and page parameters must be integers."
        ) from None
    if page < 1 or page_size < 1:
        raise _Refusal(400, "parameterInvalid", "The page and pageSize parameters must be positive.")
    page_size = min(page_size, MAX_RESULTS)
    if page * page_size > MAX_RESULTS:
        first = (page - 1) * page_size
        raise _Refusal(
            426,
            "maximumResultsReached",
            "You have requested too many results. Developer accounts are limited to a max of 100 results. "
            f"You are trying to request results {first} to {first + page_size}. Please upgrade to a paid plan "
            "if you need more results.",
        )
    return page, page_size


def _sources(params: Any) -> list[str]:
    ids = [part.strip() for part in (params.get("sources") or "").split(",") if part.strip()]
    if len(ids) > 20:
        raise _Refusal(
            400,
            "sourcesTooMany",
            "You have requested too many sources in a single request. Try splitting the request into 2 smaller requests.",
        )
    for source_id in ids:
        if source_id not in newsapi_data.SOURCES_BY_ID:
            raise _Refusal(
                400,
                "sourceDoesNotExist",
                f"You have requested a source which does not exist ({source_id}). Check the source list at https://newsapi.org/sources.",
            )
    return ids


def _query(params: Any, name: str) -> Query | None:
    text = params.get(name)
    if not text:
        return None
    try:
        return Query(text)
    except QueryError as problem:
        raise _Refusal(400, "parameterInvalid", f"The {name} parameter is invalid: {problem}.") from None


def _page_payload(articles: list[Article], page: int, page_size: int) -> dict[str, Any]:
    start = (page - 1) * page_size
    return {
        "status": "ok",
        "totalResults": len(articles),
        "articles": [article.payload for article in articles[start : start + page_size]],
    }


#: How far behind real time /everything serves articles on the Developer plan.
DEVELOPER_DELAY = timedelta(hours=24)


def everything_payload(call: Call, params: Any) -> dict[str, Any]:
    """The ``/everything`` reply (raises :class:`_Refusal` for the documented error cases)."""
    query = _query(params, "q")
    title_query = _query(params, "qInTitle")
    sources = _sources(params)
    domains = {
        d.strip().lower().removeprefix("www.") for d in (params.get("domains") or "").split(",") if d.strip()
    }
    excluded = {
        d.strip().lower().removeprefix("www.")
        for d in (params.get("excludeDomains") or "").split(",")
        if d.strip()
    }
    if query is None and title_query is None and not sources and not domains:
        raise _Refusal(400, "parametersMissing", MSG_EVERYTHING_MISSING)
    page, page_size = _paging(params, MAX_RESULTS)
    now = call.now
    earliest_day = (now - timedelta(days=HISTORY_DAYS)).date()
    try:
        first = _parse_moment(params["from"], end=False) if params.get("from") else None
        last = _parse_moment(params["to"], end=True) if params.get("to") else now
    except ValueError:
        raise _Refusal(
            400, "parameterInvalid", "The from and to parameters must be ISO 8601 dates or datetimes."
        ) from None
    if first is not None and first.date() < earliest_day:
        raise _Refusal(
            400,
            "parameterInvalid",
            "You are trying to request results too far in the past. Your plan permits you to request articles as "
            f"far back as {earliest_day.isoformat()}, but you have requested {first.date().isoformat()}. You may "
            "need to upgrade to a paid plan.",
        )
    first = first or datetime.combine(earliest_day, time.min, tzinfo=UTC)
    # The Developer (free) plan serves /everything 24 hours late (newsapi.org/pricing: "Articles
    # available with 24 hour delay"); nothing newer than now − 24 h is searchable.
    last = min(last, now - DEVELOPER_DELAY)
    language = params.get("language")
    if language and language not in newsapi_data.LANGUAGES:
        raise _Refusal(400, "parameterInvalid", f"The language parameter is invalid: {language}.")
    sort_by = params.get("sortBy") or "publishedAt"
    if sort_by not in {"relevancy", "popularity", "publishedAt"}:
        raise _Refusal(
            400, "parameterInvalid", "The sortBy parameter must be one of relevancy, popularity, publishedAt."
        )
    search_in = [f.strip() for f in (params.get("searchIn") or "").split(",") if f.strip()] or None

    pool = newsapi_data.articles_between(first, last, now, call.world.seed, _companies(call))
    matched: list[tuple[Article, int]] = []
    for article in pool:
        if sources and article.source.source_id not in sources:
            continue
        if domains and article.source.domain not in domains:
            continue
        if article.source.domain in excluded:
            continue
        if language and article.source.language != language:
            continue
        text = newsapi_data.searchable_text(article, search_in)
        if query is not None and not query.matches(text):
            continue
        if title_query is not None and not title_query.matches(article.text_title):
            continue
        matched.append((article, query.score(text) if query else 0))
    if sort_by == "relevancy":
        matched.sort(key=lambda pair: (pair[1], pair[0].published), reverse=True)
    elif sort_by == "popularity":
        matched.sort(key=lambda pair: pair[0].popularity, reverse=True)
    return _page_payload([article for article, _score in matched], page, page_size)


def headlines_payload(call: Call, params: Any) -> dict[str, Any]:
    """The ``/top-headlines`` reply (current headlines of the last two days)."""
    sources = _sources(params)
    country = (params.get("country") or "").lower()
    category = (params.get("category") or "").lower()
    language = params.get("language")
    query = _query(params, "q")
    if sources and (country or category):
        # Code confirmed by client-library issue threads (bzarras/newsapi #13, #17) (docs/providers.md §4.3).
        raise _Refusal(400, "parametersIncompatible", MSG_MIX_SOURCES)
    if not (sources or country or category or query or language):
        raise _Refusal(400, "parametersMissing", MSG_HEADLINES_MISSING)
    if category and category not in newsapi_data.CATEGORIES:
        # [U] 'politics' (used by the seed) is not a NewsAPI category; the real reply is not documented.
        raise _Refusal(
            400,
            "parameterInvalid",
            f"The category param is invalid. Valid values: {', '.join(newsapi_data.CATEGORIES)}.",
        )
    page, page_size = _paging(params, 20)
    now = call.now
    pool = newsapi_data.articles_between(now - HEADLINES_WINDOW, now, now, call.world.seed, _companies(call))
    matched = []
    for article in pool:
        source = article.source
        if source.source_id is None and sources:
            continue
        if sources and source.source_id not in sources:
            continue
        if country and source.country != country:
            continue
        if category and source.category != category:
            continue
        if language and source.language != language:
            continue
        if query is not None and not query.matches(f"{article.text_title}\n{article.text_description}"):
            continue
        matched.append(article)
    return _page_payload(matched, page, page_size)


@router.get("/everything")
async def everything(request: Request) -> Response:
    """Search all articles of the last month (≤100 results reachable on the Developer plan)."""
    call = await _open(request, "everything")
    if call.reply is not None:
        return call.reply
    try:
        return call.json(everything_payload(call, request.query_params))
    except _Refusal as refusal:
        return error(*refusal.reply)


@router.get("/top-headlines")
async def top_headlines(request: Request) -> Response:
    """Current headlines by country/category/sources/q."""
    call = await _open(request, "top-headlines")
    if call.reply is not None:
        return call.reply
    try:
        return call.json(headlines_payload(call, request.query_params))
    except _Refusal as refusal:
        return error(*refusal.reply)


@router.get("/top-headlines/sources")
async def sources(request: Request) -> Response:
    """The curated sources (filter by category, language, country)."""
    call = await _open(request, "top-headlines/sources")
    if call.reply is not None:
        return call.reply
    params = request.query_params
    rows = [
        {
            "id": source.source_id,
            "name": source.name,
            "description": source.description,
            "url": f"https://www.{source.domain}",
            "category": source.category,
            "language": source.language,
            "country": source.country,
        }
        for source in newsapi_data.SOURCES
        if source.source_id
        and (not params.get("category") or source.category == params["category"])
        and (not params.get("language") or source.language == params["language"])
        and (not params.get("country") or source.country == params["country"])
    ]
    return call.json({"status": "ok", "sources": rows})


PROVIDER = ProviderSpec(
    name=NAME,
    prefix=PREFIX,
    router=router,
    quota=(per_hours(12, 50),),
    missing_key_reply=lambda call: error(401, "apiKeyMissing", MSG_KEY_MISSING),
    invalid_key_reply=lambda call: error(401, "apiKeyInvalid", MSG_KEY_INVALID),
    quota_reply=lambda call, decision: error(429, "rateLimited", MSG_RATE),
    server_error_reply=lambda call, status: error(status, "unexpectedError", "An unexpected error occurred."),
    description="NewsAPI /v2 (docs/providers.md §4): everything, top-headlines, sources; Developer plan 50 per 12 h per key.",
)
