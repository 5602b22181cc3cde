"""X timelines are paged: ``meta.next_token`` → ``pagination_token`` until the window is read, within
each token's budget (one timeline call per 15 minutes on the free tier), resumable from the item's
state when the budget runs out between pages."""

from __future__ import annotations

from datetime import timedelta

from plugins.engine import engine_settings

X_TOKENS = [f"sandbox-x-token-{i}" for i in range(1, 5)]
LOOKUP_TOKENS = [f"sandbox-x-lookup-{i}" for i in range(1, 9)]


def _elon(db):
    rows = db.execute(
        "SELECT count(*), count(DISTINCT tweet_id) FROM x_posts WHERE source_account = 'elonmusk'"
    ).fetchone()
    state = db.execute(
        "SELECT state FROM collect_cursors WHERE dataset = 'x_posts' AND item = 'primary:elonmusk'"
    ).fetchone()
    db.commit()
    return rows[0], rows[1], state[0] if state else {}


def test_a_window_longer_than_one_page_is_read_to_the_end_across_runs(
    settings, collect, db, sandbox, engine_clock
):
    lookups = engine_settings(settings, sandbox.port, x_keys=LOOKUP_TOKENS)
    assert collect("x_user_profiles", settings=lookups).status == "ok"
    cfg = engine_settings(settings, sandbox.port, x_keys=X_TOKENS)
    assert collect("x_posts", settings=cfg, max_wait_s=0.0).status == "ok"
    before, _, state = _elon(db)
    assert before > 0 and "paging" not in state

    # Three days later: elonmusk (60 posts a day) has far more than one 100-post page since since_id.
    engine_clock.advance(timedelta(days=3))
    sandbox.admin.advance(days=3)
    first = collect("x_posts", settings=cfg, max_wait_s=0.0)
    after_page, distinct, state = _elon(db)
    assert after_page == distinct == before + 100  # one full page, no duplicates
    assert state["paging"]["next_token"] and "day" not in state, state  # the window is unfinished
    assert first.status == "ok", first.message

    # The token's next window: the same item resumes at the stored page token, older posts follow.
    for _ in range(4):
        engine_clock.advance(timedelta(minutes=15))
        sandbox.admin.advance(minutes=15)
        collect("x_posts", settings=cfg, max_wait_s=0.0)
        total, distinct, state = _elon(db)
        if "paging" not in state:
            break
    assert "paging" not in state and state["day"], state
    assert total == distinct > before + 100  # the rest of the window arrived, nothing twice
    # Nothing between the first run's newest post and the window's newest is missing: the posts are
    # contiguous in time (no gap wider than the account's posting rhythm allows).
    gaps = db.execute(
        """SELECT max(gap) FROM (SELECT created_at - lag(created_at) OVER (ORDER BY created_at) AS gap
                                   FROM x_posts WHERE source_account = 'elonmusk') g"""
    ).fetchone()[0]
    db.commit()
    assert gaps < timedelta(hours=6), gaps
