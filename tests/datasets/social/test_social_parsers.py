"""Pure parsers of X and Truth Social on literal replies (docs/providers.md §6–§7)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from marketpipe.providers.truth_social import posts as truth_social_posts
from marketpipe.providers.x import timeline as x_timeline


def test_timeline_without_data_is_empty_and_entities_only_when_present():
    assert x_timeline.parse_timeline({"meta": {"result_count": 0}}) == ([], None)
    body = {
        "data": [
            {
                "id": "2",
                "text": "short",
                "created_at": "2024-05-31T14:02:11.000Z",
                "author_id": "9",
                "note_tweet": {"text": "the whole long text"},
                "entities": {"cashtags": [{"start": 0, "end": 5, "tag": "TSLA"}]},
                "public_metrics": {"like_count": 3},
            }
        ],
        "includes": {
            "users": [{"id": "9", "username": "u", "name": "U", "public_metrics": {"followers_count": 7}}]
        },
        "meta": {"newest_id": "2"},
    }
    rows, newest = x_timeline.parse_timeline(body)
    assert newest == "2"
    (row,) = rows
    assert row["text"] == "the whole long text" and row["like_count"] == 3 and row["retweet_count"] == 0
    assert row["cashtags"] == [{"start": 0, "end": 5, "tag": "TSLA"}] and row["hashtags"] is None
    assert row["user_followers_count"] == 7 and row["created_at"] == datetime(
        2024, 5, 31, 14, 2, 11, tzinfo=UTC
    )


def test_timeline_request_uses_since_id_else_start_time():
    with_cursor = x_timeline.timeline_request("1", since_id="5", start_time=datetime(2026, 1, 1, tzinfo=UTC))
    assert with_cursor.params["since_id"] == "5" and "start_time" not in with_cursor.params
    first = x_timeline.timeline_request("1", since_id=None, start_time=datetime(2026, 1, 1, tzinfo=UTC))
    assert first.params["start_time"] == "2026-01-01T00:00:00Z" and first.scope == "user_tweets"


def test_tags_days_and_growth():
    body = [
        {
            "name": "Trump",
            "url": "u",
            "recent_statuses_count": 4272,
            "history": [
                {"day": "1721606400", "accounts": "1453", "days_ago": 0, "uses": "4272"},
                {"day": "1721520000", "accounts": "860", "days_ago": 1, "uses": "2136"},
            ],
        }
    ]
    (row,) = truth_social_posts.parse_tags(body, date(2024, 7, 22))
    assert row["total_uses"] == 4272 and row["day_1_uses"] == 2136 and row["day_6_uses"] == 0
    assert row["total_accounts"] == 1453 and row["growth_rate"] == Decimal("100.00")
    assert row["weekly_average"] == Decimal("915.43")


def test_reblog_has_no_clean_content_and_card_fields_are_read():
    status = {
        "id": "1",
        "created_at": "2025-06-01T14:39:30.235Z",
        "content": "",
        "account": {"id": "7", "username": "WhiteHouse", "verified": True},
        "card": {"url": "https://c", "title": "T"},
        "tags": [{"name": "MAGA"}],
        "reblog": {"id": "0"},
    }
    row = truth_social_posts.parse_post(status, "government", 9)
    assert row is not None and row["clean_content"] is None and row["card_title"] == "T"
    assert row["has_tags"] and row["verified"] and row["account_type"] == "government"
