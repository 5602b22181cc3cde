"""Truth Social simulator against a real sandbox server (docs/providers.md §7)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest

TOKEN = "truth-test-token"
ACCOUNT_KEYS = [
    "id", "username", "acct", "display_name", "locked", "bot", "discoverable", "group", "created_at", "note", "url",
    "avatar", "avatar_static", "header", "header_static", "followers_count", "following_count", "statuses_count",
    "last_status_at", "verified", "location", "website", "accepting_messages", "chats_onboarded", "feeds_onboarded",
    "show_nonmember_group_statuses", "pleroma", "emojis", "fields",
]  # fmt: skip
STATUS_KEYS = [
    "id", "created_at", "in_reply_to_id", "quote_id", "in_reply_to_account_id", "sensitive", "spoiler_text",
    "visibility", "language", "uri", "url", "content", "account", "media_attachments", "mentions", "tags", "card",
    "group", "quote", "in_reply_to", "reblog", "sponsored", "replies_count", "reblogs_count", "favourites_count",
    "favourited", "reblogged", "muted", "pinned", "bookmarked", "poll", "emojis",
]  # fmt: skip
TRUMP = "107780257626128497"
NEXT = re.compile(r'<([^>]+)>; rel="next"')
PREV = re.compile(r'<([^>]+)>; rel="prev"')


@pytest.fixture
def truth(sandbox) -> Iterator[httpx.Client]:
    sandbox.admin.freeze()
    with httpx.Client(
        base_url=sandbox.base_url("truth_social"), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ) as client:
        yield client


def _statuses(client: httpx.Client, account_id: str = TRUMP, **params: object) -> httpx.Response:
    return client.get(f"/v1/accounts/{account_id}/statuses", params=params)


def _created_ms(status: dict) -> int:
    return int(datetime.fromisoformat(status["created_at"].replace("Z", "+00:00")).timestamp() * 1000)


def test_password_grant_issues_a_bearer_token_that_works(sandbox) -> None:
    base = sandbox.base_url("truth_social")
    oauth = base.removesuffix("/api")  # like truthsocial.com/oauth/v2/token, beside /api
    grant = {
        "client_id": "web-client", "client_secret": "web-secret", "grant_type": "password", "username": "analyst",
        "password": "s3cret", "redirect_uri": "urn:ietf:wg:oauth:2.0:oob", "scope": "read",
    }  # fmt: skip
    reply = httpx.post(f"{oauth}/oauth/v2/token", json=grant)
    assert reply.status_code == 200
    body = reply.json()
    assert list(body) == ["access_token", "token_type", "scope", "created_at"]
    assert body["token_type"] == "Bearer" and isinstance(body["created_at"], int)
    form = httpx.post(f"{oauth}/oauth/v2/token", data=grant)
    assert form.json()["access_token"] == body["access_token"]
    sandbox.admin.set_keys("truth_social", valid=["only-this-one"])
    looked_up = httpx.get(
        f"{base}/v1/accounts/lookup",
        params={"acct": "WhiteHouse"},
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert looked_up.status_code == 200 and looked_up.json()["username"] == "WhiteHouse"
    bad = httpx.post(f"{oauth}/oauth/v2/token", json={**grant, "password": "invalid-password"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    wrong_grant = httpx.post(f"{oauth}/oauth/v2/token", json={**grant, "grant_type": "client_credentials"})
    assert httpx.post(f"{base}/oauth/v2/token", json=grant).status_code == 404  # not below /api
    assert wrong_grant.status_code == 400 and wrong_grant.json()["error"] == "unsupported_grant_type"


def test_missing_and_invalid_tokens_get_mastodon_401s(sandbox) -> None:
    base = sandbox.base_url("truth_social")
    missing = httpx.get(f"{base}/v1/trends")
    assert missing.status_code == 401 and missing.json() == {
        "error": "This API requires an authenticated user"
    }
    invalid = httpx.get(f"{base}/v1/trends", headers={"Authorization": "Bearer invalid-token"})
    assert invalid.status_code == 401 and invalid.json() == {"error": "The access token is invalid"}
    assert sandbox.admin.counters("truth_social")["totals"]["auth_failed"] == 2


@pytest.mark.parametrize("handle", ["realDonaldTrump", "WhiteHouse", "DonaldJTrumpJr"])
def test_seed_accounts_look_up_with_every_account_key(truth: httpx.Client, handle: str) -> None:
    reply = truth.get("/v1/accounts/lookup", params={"acct": handle})
    assert reply.status_code == 200
    account = reply.json()
    assert list(account) == ACCOUNT_KEYS
    assert account["username"] == handle and account["url"] == f"https://truthsocial.com/@{handle}"
    assert account["id"].isdigit() and isinstance(account["followers_count"], int)
    assert truth.get(f"/v1/accounts/{account['id']}").json() == account


def test_unknown_account_is_404_record_not_found(truth: httpx.Client) -> None:
    reply = truth.get("/v1/accounts/lookup", params={"acct": "nobody_here"})
    assert reply.status_code == 404 and reply.json() == {"error": "Record not found"}
    assert _statuses(truth, "1").status_code == 404


def test_statuses_have_every_status_key_and_snowflake_ids(truth: httpx.Client) -> None:
    page = _statuses(truth, limit=40).json()
    assert len(page) == 40
    for status in page:
        assert list(status) == STATUS_KEYS
        assert int(status["id"]) >> 16 == _created_ms(status)  # id = (unix_ms << 16) | seq
        assert status["account"]["id"] == TRUMP and list(status["account"]) == ACCOUNT_KEYS
        if status["reblog"] is None:
            assert status["content"].startswith("<p>") and status["content"].endswith("</p>")
        else:
            assert status["content"] == "" and list(status["reblog"]) == STATUS_KEYS
        for media in status["media_attachments"]:
            assert media["type"] in ("image", "video", "gifv", "audio", "unknown")
        if status["card"] is not None:
            assert set(status["card"]) == {"url", "title", "description", "image", "type", "provider_name"}
    ids = [int(s["id"]) for s in page]
    assert ids == sorted(ids, reverse=True)
    assert sum(1 for s in page if s["media_attachments"]) < len(page) // 2
    assert _statuses(truth).json() == page[:20]  # default limit 20
    assert len(_statuses(truth, limit=200).json()) == 40  # capped at 40


def test_max_id_link_paging_walks_back_without_overlap(truth: httpx.Client) -> None:
    first = _statuses(truth, exclude_replies="true")
    link = first.headers["link"]
    next_url = NEXT.search(link).group(1)  # type: ignore[union-attr]
    assert "exclude_replies=true" in next_url and f"max_id={first.json()[-1]['id']}" in next_url
    second = truth.get(next_url)
    older = second.json()
    assert older and int(older[0]["id"]) < int(first.json()[-1]["id"])
    assert not {s["id"] for s in older} & {s["id"] for s in first.json()}
    assert all(s["in_reply_to_id"] is None for s in first.json() + older)
    prev_url = PREV.search(second.headers["link"]).group(1)  # type: ignore[union-attr]
    back = truth.get(prev_url).json()
    assert [s["id"] for s in back] == [s["id"] for s in first.json()]


def test_since_id_and_min_id_bound_from_below(sandbox, truth: httpx.Client) -> None:
    page = _statuses(truth, limit=30).json()
    pivot = page[10]["id"]
    since = _statuses(truth, since_id=pivot, limit=40).json()
    assert [s["id"] for s in since] == [s["id"] for s in page[:10]]
    adjacent = _statuses(truth, min_id=page[-1]["id"], limit=5).json()
    assert [s["id"] for s in adjacent] == [s["id"] for s in page[-6:-1]]
    assert _statuses(truth, since_id=page[0]["id"]).json() == []
    sandbox.admin.advance(hours=12)
    fresh = _statuses(truth, since_id=page[0]["id"], limit=40).json()
    assert fresh and all(int(s["id"]) > int(page[0]["id"]) for s in fresh)


def test_replies_and_retruths_exist_and_exclude_replies_drops_replies(truth: httpx.Client) -> None:
    statuses = []
    url: str | None = "/v1/accounts/107780257626128497/statuses?limit=40"
    for _ in range(5):
        assert url is not None
        reply = truth.get(url)
        statuses.extend(reply.json())
        url = NEXT.search(reply.headers["link"]).group(1)  # type: ignore[union-attr]
    assert any(s["in_reply_to_id"] for s in statuses)
    assert any(s["reblog"] for s in statuses)
    assert any(s["tags"] for s in statuses) and any(s["mentions"] for s in statuses)


def test_pinned_statuses(truth: httpx.Client) -> None:
    pinned = _statuses(truth, pinned="true", with_muted="true").json()
    assert pinned and all(s["pinned"] is True for s in pinned)


def test_trends_are_20_tags_with_string_history(sandbox, truth: httpx.Client) -> None:
    tags = truth.get("/v1/trends").json()
    assert len(tags) == 20
    today = int(sandbox.admin.now().timestamp() // 86400) * 86400
    for tag in tags:
        assert set(tag) == {"history", "name", "recent_history", "recent_statuses_count", "url"}
        assert isinstance(tag["recent_statuses_count"], int)
        assert [h["days_ago"] for h in tag["history"]] == list(range(7))
        assert tag["history"][0]["day"] == str(today)
        for entry in tag["history"] + tag["recent_history"]:
            assert (
                isinstance(entry["day"], str)
                and isinstance(entry["uses"], str)
                and isinstance(entry["accounts"], str)
            )
            assert isinstance(entry["days_ago"], int)
    counts = [t["recent_statuses_count"] for t in tags]
    assert counts == sorted(counts, reverse=True)


def test_trending_truths_are_statuses_capped_at_20(truth: httpx.Client) -> None:
    assert len(truth.get("/v1/truth/trending/truths").json()) == 10
    trending = truth.get("/v1/truth/trending/truths", params={"limit": 50}).json()
    assert len(trending) == 20
    assert all(list(s) == STATUS_KEYS for s in trending)
    favourites = [s["favourites_count"] for s in trending]
    assert favourites == sorted(favourites, reverse=True)


def test_ratelimit_headers_and_429_until_the_window_resets(sandbox, truth: httpx.Client) -> None:
    first = truth.get("/v1/trends")
    assert first.headers["x-ratelimit-limit"] == "300"
    assert first.headers["x-ratelimit-remaining"] == "299"
    reset = datetime.fromisoformat(first.headers["x-ratelimit-reset"].replace("Z", "+00:00"))
    assert 0 < (reset - sandbox.admin.now()).total_seconds() <= 300
    sandbox.admin.set_provider_quota("truth_social", windows=[{"name": "5min", "limit": 3, "seconds": 300}])
    sandbox.admin.reset(
        counters=False, quotas=True, faults=False, clock=False, world=False, keys=False, policy=False
    )
    for remaining in ("2", "1", "0"):
        assert truth.get("/v1/trends").headers["x-ratelimit-remaining"] == remaining
    refused = truth.get("/v1/trends")
    assert refused.status_code == 429 and refused.json() == {"error": "Too many requests"}
    assert refused.headers["x-ratelimit-remaining"] == "0"
    sandbox.admin.set_clock(
        datetime.fromisoformat(refused.headers["x-ratelimit-reset"].replace("Z", "+00:00"))
    )
    assert truth.get("/v1/trends").status_code == 200


def test_cloudflare_challenge_page_fault(sandbox, truth: httpx.Client) -> None:
    sandbox.admin.add_fault(
        "truth_social", "html_error", "/v1/accounts/{id}/statuses", count=1, template="cloudflare_challenge"
    )
    blocked = _statuses(truth)
    assert blocked.status_code == 403
    assert blocked.headers["content-type"].startswith("text/html")
    assert "Just a moment" in blocked.text and "cdn-cgi/challenge-platform" in blocked.text
    assert _statuses(truth).status_code == 200
