"""ReTruths (Mastodon reblogs) are stored with the re-posted status's text, media and tags and a
reference to the original — not as the empty wrapper."""

from __future__ import annotations

import httpx

from plugins.engine import engine_settings

TRUTH_TOKEN = "sandbox-truth-token"


def test_retruths_carry_the_original_text_media_tags_and_author(settings, collect, db, sandbox):
    cfg = engine_settings(settings, sandbox.port, truth_social_keys=[TRUTH_TOKEN])
    assert collect("truth_social_posts", settings=cfg).status == "ok"
    rows = db.execute(
        """SELECT id, content, clean_content, media_count, tags, reblog_of_id, reblog_of_url,
                  reblog_of_username, username
             FROM truth_social_posts WHERE reblog_of_id IS NOT NULL"""
    ).fetchall()
    db.commit()
    assert rows, "the sandbox's timelines contain ReTruths"
    for row in rows:
        post_id, content, clean, _media, _tags, original_id, original_url, author, reposter = row
        assert content and clean, post_id  # the old code stored "" here
        assert original_id != post_id and original_url and author
    # Compare one with what the API served for the wrapper.
    post_id, content, _, media_count, tags, original_id, _, author, reposter = rows[0]
    account = db.execute("SELECT account_id FROM truth_social_posts WHERE id = %s", (post_id,)).fetchone()[0]
    db.commit()
    served = httpx.get(
        f"{sandbox.base_url('truth_social')}/v1/accounts/{account}/statuses",
        params={"limit": 40},
        headers={"Authorization": f"Bearer {TRUTH_TOKEN}"},
    ).json()
    wrapper = next(s for s in served if s["id"] == post_id)
    assert wrapper["content"] == "" and wrapper["reblog"]["id"] == original_id
    assert content == wrapper["reblog"]["content"]
    assert media_count == len(wrapper["reblog"]["media_attachments"])
    assert len(tags) == len(wrapper["reblog"]["tags"])
    assert author == wrapper["reblog"]["account"]["username"] and reposter == wrapper["account"]["username"]
