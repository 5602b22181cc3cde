"""X API v2 simulator against a real sandbox server (docs/providers.md §6)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

TOKEN = "x-bearer-primary"
OTHER_TOKEN = "x-bearer-secondary"
ELON = "44196397"
SEED_TWEET_FIELDS = "created_at,text,public_metrics,context_annotations,entities,lang,edit_history_tweet_ids"
SEED_USER_FIELDS = "name,username,verified,public_metrics"
RFC3339_MS = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$|^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
)
PUBLIC_METRICS = [
    "retweet_count",
    "reply_count",
    "like_count",
    "quote_count",
    "bookmark_count",
    "impression_count",
]
SEED_ACCOUNTS = [
    "elonmusk", "RayDalio", "jimcramer", "tim_cook", "Oracle", "sundarpichai", "BitCoin", "saylor",
    "brian_armstrong", "CoinbaseAssets", "jeffbezos", "Meta", "Palantir", "IonQ", "Ethereum", "CNBC", "Tether",
    "WSJ", "Tesla", "nvidia",
]  # fmt: skip


@pytest.fixture
def x(sandbox) -> Iterator[httpx.Client]:
    sandbox.admin.freeze()
    with httpx.Client(
        base_url=sandbox.base_url("x"), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ) as client:
        yield client


@pytest.fixture
def unmetered(sandbox, x: httpx.Client) -> httpx.Client:
    """The X client with X's quotas switched off (for paging through whole timelines)."""
    sandbox.admin.set_provider_quota("x", enabled=False)
    return x


def _timeline(client: httpx.Client, user_id: str = ELON, **params: object) -> httpx.Response:
    return client.get(f"/users/{user_id}/tweets", params=params)


def test_every_seed_account_resolves_with_the_seed_user_fields(sandbox, x: httpx.Client) -> None:
    sandbox.admin.set_provider_quota("x", enabled=False)
    ids = set()
    for username in SEED_ACCOUNTS:
        body = x.get(
            f"/users/by/username/{username}",
            params={"user.fields": "id,name,username,verified,public_metrics"},
        ).json()
        data = body["data"]
        assert data["username"] == username
        assert list(data)[:3] == ["id", "name", "username"]
        assert data["id"].isdigit() and isinstance(data["verified"], bool)
        assert set(data["public_metrics"]) == {
            "followers_count", "following_count", "tweet_count", "listed_count", "like_count", "media_count",
        }  # fmt: skip
        ids.add(data["id"])
    assert len(ids) == len(SEED_ACCOUNTS)


def test_lookup_is_case_insensitive_and_returns_only_default_fields_unless_asked(x: httpx.Client) -> None:
    reply = x.get("/users/by/username/oracle")
    assert reply.status_code == 200
    assert reply.json() == {"data": {"id": "809273", "name": "Oracle", "username": "Oracle"}}


def test_unknown_and_suspended_users_are_200_with_errors_only(x: httpx.Client) -> None:
    missing = x.get("/users/by/username/nosuchuser123")
    assert missing.status_code == 200
    assert missing.json() == {
        "errors": [
            {
                "value": "nosuchuser123",
                "detail": "Could not find user with username: [nosuchuser123].",
                "title": "Not Found Error",
                "resource_type": "user",
                "parameter": "username",
                "resource_id": "nosuchuser123",
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
        ]
    }
    suspended = x.get("/users/by/username/cryptopumpdump").json()
    assert "data" not in suspended
    assert suspended["errors"][0]["detail"] == "User has been suspended: [cryptopumpdump]."
    timeline = _timeline(x, "999999999")
    assert timeline.status_code == 200 and set(timeline.json()) == {"errors"}


def test_missing_or_bad_bearer_gets_401_problem_json(sandbox) -> None:
    base = sandbox.base_url("x")
    expected = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
    no_token = httpx.get(f"{base}/users/{ELON}/tweets")
    bad = httpx.get(f"{base}/users/{ELON}/tweets", headers={"Authorization": "Bearer invalid-token"})
    basic = httpx.get(f"{base}/users/{ELON}/tweets", headers={"Authorization": "Basic abc"})
    for reply in (no_token, bad, basic):
        assert reply.status_code == 401
        assert reply.json() == expected
        assert "retry-after" not in reply.headers
    counters = sandbox.admin.counters("x")["totals"]
    assert counters["auth_failed"] == 3 and counters["served"] == 0


def test_app_outside_a_project_gets_403_client_not_enrolled(sandbox) -> None:
    reply = httpx.get(
        f"{sandbox.base_url('x')}/users/by/username/elonmusk",
        headers={"Authorization": "Bearer unenrolled-app"},
    )
    assert reply.status_code == 403
    body = reply.json()
    assert body["reason"] == "client-not-enrolled"
    assert body["type"] == "https://api.twitter.com/2/problems/client-forbidden"


def test_timeline_has_the_seed_request_shape(x: httpx.Client) -> None:
    reply = _timeline(
        x,
        max_results=50,
        **{"tweet.fields": SEED_TWEET_FIELDS, "expansions": "author_id", "user.fields": SEED_USER_FIELDS},
    )
    assert reply.status_code == 200
    body = reply.json()
    assert list(body) == ["data", "includes", "meta"]
    posts = body["data"]
    assert len(posts) == 50
    for post in posts:
        assert isinstance(post["id"], str) and post["id"].isdigit()
        assert RFC3339_MS.match(post["created_at"])
        assert post["edit_history_tweet_ids"] == [post["id"]]
        assert list(post["public_metrics"]) == PUBLIC_METRICS
        assert all(isinstance(v, int) for v in post["public_metrics"].values())
        if "entities" in post:
            # entities appear only when non-empty, and so does each sub-array
            assert post["entities"] and all(post["entities"].values())
            for cashtag in post["entities"].get("cashtags", []):
                assert post["text"][cashtag["start"] : cashtag["end"]] == "$" + cashtag["tag"]
            for url in post["entities"].get("urls", []):
                assert post["text"][url["start"] : url["end"]] == url["url"]
        if "context_annotations" in post:
            assert post["context_annotations"]
    assert any("entities" not in p for p in posts) and any("entities" in p for p in posts)
    assert any("$" in p["text"] for p in posts)
    ids = [int(p["id"]) for p in posts]
    assert ids == sorted(ids, reverse=True)
    assert body["includes"]["users"][0]["username"] == "elonmusk"
    assert set(body["includes"]["users"][0]) == {"id", "name", "username", "verified", "public_metrics"}
    assert body["meta"]["result_count"] == 50
    assert body["meta"]["newest_id"] == posts[0]["id"] and body["meta"]["oldest_id"] == posts[-1]["id"]
    assert "next_token" in body["meta"]


def test_default_fields_are_id_text_and_edit_history(x: httpx.Client) -> None:
    posts = _timeline(x, max_results=5).json()["data"]
    assert all(list(p) == ["id", "text", "edit_history_tweet_ids"] for p in posts)


def test_next_token_pages_through_the_timeline_without_gaps_or_overlap(unmetered: httpx.Client) -> None:
    start = (datetime(2026, 11, 16, 15, tzinfo=UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    single = _timeline(unmetered, max_results=100, start_time=start).json()
    assert "next_token" in single["meta"]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params: dict[str, object] = {"max_results": 37, "start_time": start}
        if token:
            params["pagination_token"] = token
        body = _timeline(unmetered, **params).json()
        pages += 1
        if pages > 1:
            assert "previous_token" in body["meta"]
        if body["meta"]["result_count"] == 0:
            break
        seen.extend(p["id"] for p in body["data"])
        token = body["meta"].get("next_token")
        if token is None:
            break
    assert pages >= 4
    assert len(seen) == len(set(seen))
    assert [int(i) for i in seen] == sorted((int(i) for i in seen), reverse=True)
    assert seen[:100] == [p["id"] for p in single["data"]]


def test_previous_token_returns_the_newer_page(unmetered: httpx.Client) -> None:
    first = _timeline(unmetered, max_results=10).json()
    second = _timeline(unmetered, max_results=10, pagination_token=first["meta"]["next_token"]).json()
    back = _timeline(unmetered, max_results=10, pagination_token=second["meta"]["previous_token"]).json()
    assert [p["id"] for p in back["data"]] == [p["id"] for p in first["data"]]


def test_since_until_and_time_bounds(unmetered: httpx.Client) -> None:
    page = _timeline(unmetered, max_results=20, **{"tweet.fields": "created_at"}).json()["data"]
    newest, middle, oldest = page[0]["id"], page[10]["id"], page[-1]["id"]
    since = _timeline(unmetered, max_results=100, since_id=middle).json()["data"]
    assert [p["id"] for p in since] == [p["id"] for p in page[:10]]
    until = _timeline(unmetered, max_results=5, until_id=middle).json()["data"]
    assert [p["id"] for p in until] == [p["id"] for p in page[11:16]]
    window = _timeline(
        unmetered,
        max_results=100,
        start_time=page[-1]["created_at"][:19] + "Z",
        end_time=page[0]["created_at"][:19] + "Z",
        **{"tweet.fields": "created_at"},
    ).json()["data"]
    ids = [p["id"] for p in window]
    assert newest not in ids and oldest in ids and middle in ids
    empty = _timeline(unmetered, since_id=newest)
    assert empty.status_code == 200 and empty.json() == {"meta": {"result_count": 0}}


def test_exclude_replies_and_retweets(unmetered: httpx.Client) -> None:
    everything = _timeline(unmetered, max_results=100, **{"tweet.fields": "referenced_tweets"}).json()["data"]
    kinds = {ref["type"] for p in everything for ref in p.get("referenced_tweets", [])}
    assert {"replied_to", "retweeted"} <= kinds
    filtered = _timeline(
        unmetered, max_results=100, exclude="replies,retweets", **{"tweet.fields": "referenced_tweets"}
    ).json()["data"]
    assert filtered
    assert not any(
        ref["type"] in ("replied_to", "retweeted") for p in filtered for ref in p.get("referenced_tweets", [])
    )
    assert not any(p["text"].startswith("RT @") for p in filtered)


def test_new_posts_appear_as_the_clock_advances(sandbox, unmetered: httpx.Client) -> None:
    newest = _timeline(unmetered, max_results=5).json()["meta"]["newest_id"]
    assert _timeline(unmetered, since_id=newest).json()["meta"]["result_count"] == 0
    sandbox.admin.advance(hours=6)
    fresh = _timeline(unmetered, max_results=100, since_id=newest, **{"tweet.fields": "created_at"}).json()
    assert fresh["meta"]["result_count"] > 0
    assert all(int(p["id"]) > int(newest) for p in fresh["data"])


def test_invalid_parameters_get_400_invalid_request(unmetered: httpx.Client) -> None:
    x = unmetered
    reply = _timeline(x, max_results=1)
    assert reply.status_code == 400
    assert reply.json() == {
        "errors": [
            {
                "parameters": {"max_results": ["1"]},
                "message": "The `max_results` query parameter value [1] is not between 5 and 100",
            }
        ],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }
    for params in ({"pagination_token": "not-a-token"}, {"tweet.fields": "bogus"}, {"since_id": "abc"}):
        bad = _timeline(x, **params)
        assert bad.status_code == 400
        assert bad.json()["title"] == "Invalid Request"


def test_rate_limit_headers_on_every_reply_and_429_until_the_window_resets(sandbox, x: httpx.Client) -> None:
    first = _timeline(x)
    assert first.status_code == 200
    assert first.headers["x-rate-limit-limit"] == "1"
    assert first.headers["x-rate-limit-remaining"] == "0"
    reset = int(first.headers["x-rate-limit-reset"])
    now = sandbox.admin.now().timestamp()
    assert now < reset <= now + 900
    refused = _timeline(x)
    assert refused.status_code == 429
    assert refused.json() == {
        "title": "Too Many Requests",
        "detail": "Too Many Requests",
        "type": "about:blank",
        "status": 429,
    }
    assert refused.headers["x-rate-limit-remaining"] == "0"
    assert int(refused.headers["x-rate-limit-reset"]) == reset
    assert "retry-after" not in refused.headers
    # The lookup endpoint has its own window, and another token its own budget.
    lookup = x.get("/users/by/username/elonmusk")
    assert lookup.status_code == 200 and lookup.headers["x-rate-limit-limit"] == "3"
    other = x.get(f"/users/{ELON}/tweets", headers={"Authorization": f"Bearer {OTHER_TOKEN}"})
    assert other.status_code == 200
    sandbox.admin.set_clock(datetime.fromtimestamp(reset, UTC))
    again = _timeline(x)
    assert again.status_code == 200
    assert int(again.headers["x-rate-limit-reset"]) == reset + 900
    assert sandbox.admin.refused("x", key=TOKEN) == 1


def test_monthly_post_cap_counts_posts_and_resets_next_month(sandbox, x: httpx.Client) -> None:
    sandbox.admin.set_provider_quota(
        "x",
        windows=[
            {"name": "users_tweets:15min", "limit": 100, "seconds": 900},
            {"name": "posts:month", "limit": 15, "calendar": "month"},
        ],
    )
    assert len(_timeline(x, max_results=10).json()["data"]) == 10
    assert len(_timeline(x, max_results=10).json()["data"]) == 10  # crosses the cap, still served
    capped = _timeline(x, max_results=10)
    assert capped.status_code == 429
    assert capped.json() == {
        "title": "UsageCapExceeded",
        "detail": "Usage cap exceeded: Monthly product cap",
        "type": "https://api.twitter.com/2/problems/usage-capped",
        "period": "Monthly",
        "scope": "Product",
    }
    sandbox.admin.set_clock(datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC))
    assert _timeline(x, max_results=10).status_code == 200


def test_faults_give_usage_cap_and_200_with_errors(sandbox, x: httpx.Client) -> None:
    sandbox.admin.add_fault("x", "rate_limit", "users_tweets", count=1, window="posts:month")
    assert _timeline(x).json()["title"] == "UsageCapExceeded"
    errors = {"errors": [{"detail": "User has been suspended: [elonmusk].", "title": "Forbidden"}]}
    sandbox.admin.add_fault("x", "reply", "users_by_username", count=1, status=200, body=errors)
    reply = x.get("/users/by/username/elonmusk")
    assert reply.status_code == 200 and reply.json() == errors
    assert x.get("/users/by/username/elonmusk").json()["data"]["username"] == "elonmusk"
