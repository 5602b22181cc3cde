"""Social datasets against the sandbox and real PostgreSQL: X profiles and posts (schedules on the
logical date, token per account, since_id, 15-minute windows), Truth Social posts, trends and tags."""

from __future__ import annotations

from datetime import timedelta

import httpx

from marketpipe.datasets.social._x_plan import planned_usernames
from marketpipe.providers.truth_social.posts import html_to_text
from plugins.engine import count, engine_settings

X_TOKENS = [f"sandbox-x-token-{i}" for i in range(1, 5)]
LOOKUP_TOKENS = [f"sandbox-x-lookup-{i}" for i in range(1, 9)]
TRUTH_TOKEN = "sandbox-truth-token"


def _x(settings, sandbox, tokens):
    return engine_settings(settings, sandbox.port, x_keys=tokens, truth_social_keys=[TRUTH_TOKEN])


def _rows(db, sql, *params):
    rows = db.execute(sql, params).fetchall()
    db.commit()
    return rows


def _lookup_all(collect, settings, sandbox):
    """Every planned account's id (8 tokens × 3 lookups per 15 minutes cover the 20 accounts)."""
    result = collect("x_user_profiles", settings=_x(settings, sandbox, LOOKUP_TOKENS))
    assert result.status == "ok", result.message
    return result


def test_profiles_look_up_each_missing_account_once(settings, collect, db, sandbox):
    usernames = planned_usernames()
    first = _lookup_all(collect, settings, sandbox)
    assert first.calls == len(usernames) == 20
    stored = dict(_rows(db, "SELECT lower(username), user_id FROM x_user_profiles"))
    assert stored["elonmusk"] == "44196397" and "oracle" in stored
    category = _rows(db, "SELECT category FROM x_user_profiles WHERE username='saylor'")[0][0]
    assert category == "crypto"
    again = collect("x_user_profiles", settings=_x(settings, sandbox, LOOKUP_TOKENS))
    assert again.calls == 0 and again.items_done == 0


def test_profile_lookups_stop_at_the_window_and_resume(settings, collect, db, sandbox, engine_clock):
    one_token = _x(settings, sandbox, LOOKUP_TOKENS[:1])
    stopped = collect("x_user_profiles", settings=one_token, max_wait_s=0.0)
    assert stopped.status == "partial" and stopped.error_class == "QuotaExhausted"
    assert stopped.items_done == 3 and stopped.resume_at is not None
    engine_clock.advance(timedelta(minutes=15))
    sandbox.admin.advance(minutes=15)
    resumed = collect("x_user_profiles", settings=one_token, max_wait_s=0.0)
    assert resumed.items_done == 3
    assert count(db, "SELECT count(*) FROM x_user_profiles") == 6


def test_posts_follow_the_logical_day_plan_tokens_and_since_id(settings, collect, db, sandbox, engine_clock):
    _lookup_all(collect, settings, sandbox)
    cfg = _x(settings, sandbox, X_TOKENS)
    # Monday 2026-11-16 (day 320): elonmusk/t2, tim_cook/t4, sundarpichai/t4, saylor/t1, jeffbezos/t3,
    # Meta/t1, CNBC/t3 are due. One timeline call per token per 15 minutes → the 4 best-priority ones now.
    first = collect("x_posts", settings=cfg, max_wait_s=0.0)
    assert first.status == "ok" and first.items_done == 4 and first.calls == 4, first.message
    done = {
        r[0]
        for r in _rows(
            db, "SELECT item FROM collect_cursors WHERE dataset='x_posts' AND last_done_at IS NOT NULL"
        )
    }
    assert done == {"primary:elonmusk", "primary:tim_cook", "secondary:saylor", "secondary:jeffbezos"}
    for i, token in enumerate(X_TOKENS, start=1):
        assert sandbox.admin.calls("x", key=token, endpoint="users_tweets") == 1, i
    elon = _rows(
        db,
        "SELECT count(*), min(created_at), max(account_category), max(collection_source) FROM x_posts WHERE source_account='elonmusk'",
    )[0]
    assert elon[0] > 0 and elon[2] == "core_investors" and elon[3] == "primary_token_improved"
    # Only posts since the day before the logical date were read the first time.
    assert elon[1].date() >= engine_clock.now().date() - timedelta(days=1)
    tweet = _rows(
        db,
        "SELECT tweet_id, author_id, username, like_count FROM x_posts WHERE source_account='elonmusk' ORDER BY created_at DESC LIMIT 1",
    )[0]
    assert tweet[1] == "44196397" and tweet[2] == "elonmusk"

    # Within the same 15-minute window a run asks no token again and is not a failure.
    idle = collect("x_posts", settings=cfg, max_wait_s=0.0)
    assert idle.status == "ok" and idle.calls == 0 and idle.items_failed == 0

    # 15 minutes later the other three go; the four done ones are not asked again today.
    engine_clock.advance(timedelta(minutes=15))
    sandbox.admin.advance(minutes=15)
    second = collect("x_posts", settings=cfg, max_wait_s=0.0)
    assert second.status == "ok", second.message
    assert second.items_done == 3 and second.calls == 3

    # Next day: elonmusk again, asking only for posts after the newest stored one.
    newest = _rows(db, "SELECT max(tweet_id::numeric)::text FROM x_posts WHERE source_account='elonmusk'")[0][
        0
    ]
    before = count(db, "SELECT count(*) FROM x_posts WHERE source_account='elonmusk'")
    engine_clock.advance(timedelta(days=1))
    sandbox.admin.advance(days=1)
    # Tuesday: token 2 has elonmusk (priority 1), jimcramer and Oracle due; elonmusk goes first.
    for _ in range(1):
        collect("x_posts", settings=cfg, max_wait_s=0.0)
        engine_clock.advance(timedelta(minutes=15))
        sandbox.admin.advance(minutes=15)
    assert _rows(
        db, "SELECT state->>'day' FROM collect_cursors WHERE dataset='x_posts' AND item='primary:elonmusk'"
    )[0][0] == (engine_clock.now().date().isoformat())
    added = count(db, "SELECT count(*) FROM x_posts WHERE source_account='elonmusk'") - before
    newer = count(
        db,
        "SELECT count(*) FROM x_posts WHERE source_account='elonmusk' AND tweet_id::numeric > %s::numeric",
        newest,
    )
    assert added == newer > 0
    state = _rows(
        db, "SELECT state FROM collect_cursors WHERE dataset='x_posts' AND item='primary:elonmusk'"
    )[0][0]
    assert (
        state["since_id"]
        == _rows(db, "SELECT max(tweet_id::numeric)::text FROM x_posts WHERE source_account='elonmusk'")[0][0]
    )


def test_rate_limit_reply_marks_the_token_spent_until_its_reset(settings, collect, db, sandbox, engine_clock):
    _lookup_all(collect, settings, sandbox)
    cfg = _x(settings, sandbox, X_TOKENS)
    # X answers 429 for token 2 with x-rate-limit-reset 120 s ahead (no Retry-After, as on X). Our
    # ledger's own 15-minute window is switched off: only X's reset may hold the token back.
    sandbox.admin.add_fault("x", "rate_limit", route="*tweets*", key=X_TOKENS[1], count=1, retry_after_s=120)
    no_windows = {"x": ()}
    first = collect("x_posts", settings=cfg, max_wait_s=0.0, quota_windows=no_windows)
    assert first.status == "partial" and first.items_done == 3 and first.errors == {"TokenSpent": 1}
    spent_until = _rows(db, "SELECT spent_until FROM quota_key_state WHERE provider='x'")[0][0]
    reset = sandbox.admin.now() + timedelta(seconds=120)
    assert abs((spent_until - reset).total_seconds()) < 5
    # Before the reset the token is not asked again; after it, elonmusk is collected.
    calls = sandbox.admin.calls("x", key=X_TOKENS[1], endpoint="users_tweets")
    engine_clock.advance(timedelta(seconds=60))
    sandbox.admin.advance(seconds=60)
    early = collect("x_posts", settings=cfg, max_wait_s=0.0, quota_windows=no_windows)
    assert early.errors == {"TokenSpent": 1}
    assert sandbox.admin.calls("x", key=X_TOKENS[1], endpoint="users_tweets") == calls
    engine_clock.advance(timedelta(seconds=70))
    sandbox.admin.advance(seconds=70)
    after = collect("x_posts", settings=cfg, max_wait_s=0.0, quota_windows=no_windows)
    done = {
        r[0]
        for r in _rows(
            db, "SELECT item FROM collect_cursors WHERE dataset='x_posts' AND last_run_id=%s", after.run_id
        )
    }
    assert "primary:elonmusk" in done


def test_truth_posts_use_since_id_and_clean_html(settings, collect, db, sandbox, engine_clock):
    cfg = _x(settings, sandbox, X_TOKENS)
    first = collect("truth_social_posts", settings=cfg)
    assert first.status == "ok", first.message
    assert count(db, "SELECT count(DISTINCT username) FROM truth_social_posts") == 3
    trump = _rows(
        db,
        "SELECT account_type, market_influence, content, clean_content FROM truth_social_posts WHERE username='realDonaldTrump' ORDER BY created_at DESC LIMIT 1",
    )[0]
    assert trump[:2] == ("individual", 10)
    assert trump[3] == html_to_text(trump[2]) and "<" not in (trump[3] or "")
    # The served newest status matches the stored one.
    base = sandbox.base_url("truth_social")
    served = httpx.get(
        f"{base}/v1/accounts/107780257626128497/statuses",
        params={"exclude_replies": "true", "limit": "1"},
        headers={"Authorization": f"Bearer {TRUTH_TOKEN}"},
    ).json()[0]
    stored = _rows(db, "SELECT favourites_count, url FROM truth_social_posts WHERE id=%s", served["id"])
    # Engagement keeps growing on the flowing clock: the stored count is the one read moments earlier.
    assert (
        stored[0][1] == served["url"]
        and 0.95 * served["favourites_count"] <= stored[0][0] <= served["favourites_count"]
    )

    calls = sandbox.admin.calls("truth_social", endpoint="/v1/accounts/lookup")
    again = collect("truth_social_posts", settings=cfg)
    assert again.rows_inserted == 0 and again.calls == 3  # one statuses call each, no new lookup
    assert sandbox.admin.calls("truth_social", endpoint="/v1/accounts/lookup") == calls

    engine_clock.advance(timedelta(hours=3))
    sandbox.admin.advance(hours=3)
    later = collect("truth_social_posts", settings=cfg)
    assert later.rows_inserted > 0


def test_html_to_text_handles_entities_breaks_and_attributes():
    html = '<p>Tariffs &amp; trade &gt; all!<br/>Next line</p><p><a href="https://x.y/?a=1&amp;b=2" title="a > b">#<span>MAGA</span></a></p>'
    assert html_to_text(html) == "Tariffs & trade > all!\nNext line\n#MAGA"
    assert html_to_text("") is None


def test_truth_trends_and_tags_are_idempotent_per_day(settings, collect, db, sandbox, engine_clock):
    cfg = _x(settings, sandbox, X_TOKENS)
    trends = collect("truth_social_trends", settings=cfg)
    assert trends.status == "ok" and trends.rows_inserted == 20
    ranks = [r[0] for r in _rows(db, "SELECT trend_rank FROM truth_social_trends ORDER BY trend_rank")]
    assert ranks == list(range(1, 21))
    tags = collect("truth_social_tags", settings=cfg)
    assert tags.status == "ok" and tags.rows_inserted == 20
    served = httpx.get(
        f"{sandbox.base_url('truth_social')}/v1/trends", headers={"Authorization": f"Bearer {TRUTH_TOKEN}"}
    ).json()[0]
    row = _rows(
        db,
        "SELECT total_uses, day_1_uses, collected_date FROM truth_social_tags WHERE name=%s",
        served["name"],
    )[0]
    assert row[0] == int(served["history"][0]["uses"]) and row[1] == int(served["history"][1]["uses"])
    assert row[2] == engine_clock.now().date()
    again = collect("truth_social_tags", settings=cfg)
    assert again.rows_inserted == 0
    assert count(db, "SELECT count(*) FROM truth_social_tags") == 20


def test_suspended_account_is_not_asked_again_the_same_day(settings, collect, db, sandbox, engine_clock):
    _lookup_all(collect, settings, sandbox)
    cfg = _x(settings, sandbox, X_TOKENS)
    suspended = {
        "errors": [
            {
                "detail": "User has been suspended: [44196397].",
                "title": "Forbidden",
                "type": "https://api.twitter.com/2/problems/resource-not-found",
                "resource_id": "44196397",
            }
        ]
    }
    sandbox.admin.add_fault("x", "reply", route="/users/44196397/tweets", count=1, body=suspended)
    collect("x_posts", settings=cfg, max_wait_s=0.0)
    state = _rows(
        db, "SELECT state FROM collect_cursors WHERE dataset='x_posts' AND item='primary:elonmusk'"
    )[0][0]
    assert state.get("not_found") is True
    engine_clock.advance(timedelta(minutes=15))
    sandbox.admin.advance(minutes=15)
    calls = sandbox.admin.calls("x", key=X_TOKENS[1], endpoint="users_tweets")
    later = collect("x_posts", settings=cfg, max_wait_s=0.0)
    assert later.status == "ok"
    # Token 2's other account due today is none on Monday: no call was spent on the suspended one.
    assert sandbox.admin.calls("x", key=X_TOKENS[1], endpoint="users_tweets") == calls


def test_a_refused_token_fails_only_its_own_accounts(settings, collect, db, sandbox):
    _lookup_all(collect, settings, sandbox)
    tokens = [X_TOKENS[0], "invalid-x-token", X_TOKENS[2], X_TOKENS[3]]  # token 2 (elonmusk) is refused
    run = collect("x_posts", settings=_x(settings, sandbox, tokens), max_wait_s=0.0)
    assert run.status == "partial"
    assert run.errors.get("TokenRefused") == 1 and run.items_done == 3
    assert count(db, "SELECT count(*) FROM x_posts WHERE source_account='elonmusk'") == 0
    done = {
        r[0]
        for r in _rows(
            db, "SELECT item FROM collect_cursors WHERE dataset='x_posts' AND last_done_at IS NOT NULL"
        )
    }
    assert done == {"primary:tim_cook", "secondary:saylor", "secondary:jeffbezos"}
