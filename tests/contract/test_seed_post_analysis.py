"""``post_analysis_cache`` / ``post_keywords`` from the posts a sandbox collection stored, read the way
the seed backend reads them (its ``PostAnalysisCacheDetailSchema``): ``/sns/analysis`` answers."""

from __future__ import annotations

from datetime import datetime

import psycopg

from marketpipe.engine.clock import ManualClock
from marketpipe.engine.registry import get_dataset
from marketpipe.engine.runner import run_dataset
from plugins._contractkit import Filled
from plugins.engine import run_options

SOURCES = {
    "x": "x_posts",
    "truth_social_posts": "truth_social_posts",
    "truth_social_trends": "truth_social_trends",
}


def test_post_analysis_fills_the_cache_from_stored_posts_in_the_backend_shape(
    filled: Filled, sandbox_server
) -> None:
    spec = get_dataset("post_analysis_cache")
    assert (spec.group, spec.schedule, spec.providers) == ("derived", "0 * * * *", ())
    clock = ManualClock(sandbox_server.admin.now(), real_sleep=True)
    result = run_dataset(
        "post_analysis_cache", settings=filled.settings, options=run_options(clock), logical_date=clock.now()
    )
    assert result.status == "ok", result.message
    assert result.calls == 0  # from the database alone

    with psycopg.connect(filled.dsn) as conn:
        posts = {
            source: conn.execute(
                f"SELECT count(*) FROM {table} WHERE created_at <= %s", (clock.now(),)
            ).fetchone()[0]
            for source, table in SOURCES.items()
        }
        rows = conn.execute(
            "SELECT post_id, post_source, post_timestamp, author_username, affected_assets, market_data, "
            "price_analysis, volume_analysis, analysis_status FROM post_analysis_cache"
        ).fetchall()
        keywords = conn.execute(
            "SELECT post_id, post_source, keyword, keyword_position FROM post_keywords"
        ).fetchall()
    by_source = {s: sum(1 for r in rows if r[1] == s) for s in SOURCES}
    assert all(posts.values()), posts
    assert by_source == {s: min(n, 75) for s, n in posts.items()}
    with_market = 0
    for post_id, _source, at, author, assets, market, prices, volumes, status in rows:
        assert isinstance(post_id, str) and isinstance(at, datetime) and isinstance(author, str)
        assert status in ("complete", "partial")
        assert isinstance(assets, list) and all(isinstance(a, dict) and a["symbol"] for a in assets)
        assert [a["priority"] for a in assets] == sorted(a["priority"] for a in assets) and len(assets) <= 5
        assert isinstance(market, dict) and isinstance(prices, dict) and isinstance(volumes, dict)
        for symbol, data in market.items():  # MarketAssetDataSchema
            assert (
                set(data) == {"price_timeline", "data_source", "asset_info"}
                and data["asset_info"]["symbol"] == symbol
            )
            for point in data["price_timeline"]:
                datetime.fromisoformat(point["timestamp"])
                assert all(isinstance(point[k], float) for k in ("open", "high", "low", "close", "volume"))
            with_market += 1
    assert with_market > 0  # posts near the streamed trades got their timelines
    assert keywords and {s for _, s, _, _ in keywords} <= set(SOURCES)
    assert all(isinstance(p, int) and p >= 0 for *_, p in keywords)
    analysed = {(r[0], r[1]) for r in rows}
    assert {(k[0], k[1]) for k in keywords} <= analysed

    # A second run right away: 'partial' posts are analysed again (their windows are still open),
    # 'complete' ones are not; nothing new is inserted.
    again = run_dataset(
        "post_analysis_cache", settings=filled.settings, options=run_options(clock), logical_date=clock.now()
    )
    assert again.status == "ok" and again.rows_inserted == 0
