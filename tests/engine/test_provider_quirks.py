"""Real provider behaviours the engine used to get wrong, reproduced against the sandbox (which now
answers as the real APIs do): the Alpha Vantage burst refusal, CDN 403 pages, cross-host redirects,
long error bodies that echo a key, and the run's data interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from marketpipe.sandbox.providers.alpha_vantage import BURST_LIMIT
from plugins.engine import AV_KEY_1, count, engine_settings


def test_the_av_burst_refusal_is_a_short_throttle_not_the_daily_quota(collect, db, sandbox):
    """AV's real burst text mentions "25 requests per day"; one burst must not spend the key for the
    day (with one free key that stopped every AV dataset until tomorrow)."""
    assert "(25 requests per day)" in BURST_LIMIT and "spreading out" in BURST_LIMIT
    sandbox.admin.add_fault("alpha_vantage", "rate_limit", count=1, window="burst")
    result = collect("top_gainers")
    assert result.status == "ok", result.message
    assert result.calls == 2 and result.wasted_calls == 1  # refused once, then served after ~1 s
    assert count(db, "SELECT count(*) FROM quota_key_state WHERE provider = 'alpha_vantage'") == 0
    assert collect("ipo_calendar").status == "ok"  # the key is still good for the other AV datasets


def test_a_cdn_403_page_is_transient_and_retried(collect, db, sandbox):
    """A Cloudflare challenge is a 403 HTML page from the CDN, not the provider's plan refusal."""
    sandbox.admin.add_fault("alpha_vantage", "html_error", count=1, template="cloudflare_challenge")
    result = collect("top_gainers")
    assert result.status == "ok", result.message
    assert result.calls == 2


def test_a_cdn_block_that_persists_fails_as_transient(collect, sandbox):
    sandbox.admin.add_fault("alpha_vantage", "html_error", template="cloudflare_1020")
    result = collect("top_gainers")
    assert result.status == "failed" and result.error_class == "TransientError", result.message


def test_a_redirect_to_another_host_is_not_followed(collect, db, sandbox):
    sandbox.admin.add_fault("alpha_vantage", "redirect", location="http://127.0.0.2:9/elsewhere?x=1")
    result = collect("top_gainers")
    assert result.status == "failed", result.message
    assert "redirect" in result.message and "127.0.0.2" in result.message
    assert count(db, "SELECT count(*) FROM top_gainers") == 0


def test_a_redirect_within_the_provider_host_is_followed(collect, db, sandbox):
    location = f"{sandbox.base_url('alpha_vantage')}/query?function=TOP_GAINERS_LOSERS&apikey={AV_KEY_1}"
    sandbox.admin.add_fault("alpha_vantage", "redirect", count=1, location=location)
    result = collect("top_gainers")
    assert result.status == "ok", result.message
    assert count(db, "SELECT count(*) FROM top_gainers") > 0


def test_a_long_error_body_echoing_the_key_is_redacted_before_it_is_cut(collect, db, sandbox):
    """The key sits across the 300-character cut of the error text: cutting first left its first half
    in ``collect_cursors.last_error``."""
    body = "upstream said: " + "." * 280 + f" key={AV_KEY_1} " + "." * 200
    sandbox.admin.add_fault("alpha_vantage", "reply", status=400, body=body)
    result = collect("top_gainers")
    assert result.status == "failed"
    stored = db.execute("SELECT last_error FROM collect_cursors WHERE dataset = 'top_gainers'").fetchone()
    db.commit()
    runs = db.execute("SELECT message FROM collect_runs WHERE dataset = 'top_gainers'").fetchall()
    db.commit()
    half = AV_KEY_1[: len(AV_KEY_1) // 2 + 1]
    for text in (stored[0], result.message, *(r[0] for r in runs)):
        assert half not in text, text


def test_periodic_rows_are_keyed_on_the_runs_data_interval_not_the_wall_clock(
    settings, collect, db, sandbox, engine_clock
):
    """coingecko_global snapshots per 6-hour interval; a late Airflow task (7 hours after its slot) or
    a rerun must write its own slot's key, whatever the wall clock says."""
    cfg = engine_settings(settings, sandbox.port, coingecko_keys=["quirk-cg"])
    start = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
    end = start + timedelta(hours=6)
    first = collect("coingecko_global", settings=cfg, data_interval_start=start, data_interval_end=end)
    engine_clock.advance(timedelta(hours=7))
    sandbox.admin.advance(hours=7)
    late = collect(
        "coingecko_global", settings=cfg, data_interval_start=start, data_interval_end=end, force=True
    )
    assert first.status == late.status == "ok", (first.message, late.message)
    stamps = db.execute("SELECT collected_at FROM coingecko_global").fetchall()
    db.commit()
    assert stamps == [(start,)]  # the wall clock (22:00) would have keyed the 18:00 slot
