"""Crypto datasets against the sandbox and real PostgreSQL: Bithumb markets, CoinGecko ids, the
mapping, tickers (majors with global tickers), details, derivatives and global snapshots."""

from __future__ import annotations

from datetime import timedelta

import httpx

from marketpipe.datasets.crypto.bithumb_coingecko_mapping import (
    Candidate,
    best_match,
    hardcoded_ids,
    name_similarity,
)
from marketpipe.http.types import per_minute, per_month
from plugins.engine import ONE_DAY, count, engine_settings

CG_KEYS = ["sandbox-cg-1", "sandbox-cg-2"]


def _settings(settings, sandbox):
    return engine_settings(settings, sandbox.port, coingecko_keys=CG_KEYS)


def _one(db, sql, *params):
    row = db.execute(sql, params).fetchone()
    db.commit()
    return row


def _markets_and_ids(collect, cfg):
    markets = collect("market_code_bithumb", settings=cfg)
    assert markets.status == "ok", markets.message
    ids = collect("coingecko_id_mapping", settings=cfg)
    assert ids.status == "ok", ids.message
    return markets, ids


def test_bithumb_markets_full_refresh_is_atomic_and_idempotent(settings, collect, db, sandbox):
    cfg = _settings(settings, sandbox)
    served = httpx.get(sandbox.base_url("bithumb") + "/v1/market/all", params={"isDetails": "true"}).json()
    # A market that Bithumb delisted must disappear in the same transaction as the refresh.
    with db.transaction():
        db.execute(
            "INSERT INTO market_code_bithumb (market_code, korean_name, english_name) VALUES ('KRW-GONE', 'x', 'Gone')"
        )
    db.commit()
    first = collect("market_code_bithumb", settings=cfg)
    assert first.status == "ok" and first.calls == 1
    assert first.rows_inserted == len(served)
    assert count(db, "SELECT count(*) FROM market_code_bithumb") == len(served)
    assert count(db, "SELECT count(*) FROM market_code_bithumb WHERE market_code = 'KRW-GONE'") == 0
    sample = served[0]
    assert _one(
        db,
        "SELECT korean_name, english_name, market_warning FROM market_code_bithumb WHERE market_code=%s",
        sample["market"],
    ) == (sample["korean_name"], sample["english_name"], sample["market_warning"])
    second = collect("market_code_bithumb", settings=cfg)
    assert second.status == "ok" and second.rows_inserted == 0 and second.rows_updated == 0


def test_id_mapping_pages_until_the_short_page_and_mapping_uses_fixed_ids_then_the_matcher(
    settings, collect, db, sandbox
):
    cfg = _settings(settings, sandbox)
    _, ids = _markets_and_ids(collect, cfg)
    total = count(db, "SELECT count(*) FROM coingecko_id_mapping")
    assert ids.calls == total // 250 + 1  # full pages, then one that is short or empty
    assert count(db, "SELECT count(*) FROM coingecko_id_mapping WHERE symbol <> upper(symbol)") == 0
    btc = _one(
        db, "SELECT symbol, name, market_cap_rank FROM coingecko_id_mapping WHERE coingecko_id='bitcoin'"
    )
    assert btc == ("BTC", "Bitcoin", 1)

    mapping = collect("bithumb_coingecko_mapping", settings=cfg)
    assert mapping.status == "ok" and mapping.calls == 0, mapping.message
    krw = count(db, "SELECT count(*) FROM market_code_bithumb WHERE market_code LIKE 'KRW-%%'")
    assert count(db, "SELECT count(*) FROM bithumb_coingecko_mapping") == krw
    assert _one(
        db,
        "SELECT coingecko_id, match_method, match_score, is_verified FROM bithumb_coingecko_mapping WHERE market_code='KRW-BTC'",
    ) == ("bitcoin", "HARDCODED_MAPPING", 100, True)
    fixed = hardcoded_ids()
    assert fixed["A"] == "vaulta" and len(fixed) == 385
    # Every symbol outside the fixed list went through the matcher (or is flagged unmatched).
    methods = {
        r[0] for r in db.execute("SELECT DISTINCT match_method FROM bithumb_coingecko_mapping").fetchall()
    }
    db.commit()
    assert "HARDCODED_MAPPING" in methods and methods <= {
        "HARDCODED_MAPPING",
        "EXACT_NAME_MATCH",
        "TOP_10_RANK",
        "HIGH_NAME_SIMILARITY",
        "RANK_PRIORITY",
        "AUTO_MATCHING",
        "NO_MATCH",
    }
    # A hand verification survives the next rebuild.
    db.execute("SELECT update_mapping_verification('KRW-ETH', 'ethereum-classic', 'analyst')")
    db.commit()
    again = collect("bithumb_coingecko_mapping", settings=cfg)
    assert again.status == "ok" and again.rows_inserted == 0
    assert _one(
        db, "SELECT coingecko_id, match_method FROM bithumb_coingecko_mapping WHERE market_code='KRW-ETH'"
    ) == ("ethereum-classic", "MANUAL_VERIFICATION")


def test_auto_matcher_tie_breaks():
    assert name_similarity("Bitcoin", "bitcoin") == 1.0
    assert name_similarity("Sonic", "Sonic SVM") == 0.8
    assert name_similarity("Beam Token", "Beam Network") == 0.7
    top = Candidate("alpha", "Alpha Finance", 40, None, None)
    other = Candidate("alpha-2", "Alpha Finance", 700, None, None)
    winner, score, method = best_match("Alpha Finance", [top, other])
    assert winner is top and score == 61 and method == "EXACT_NAME_MATCH"
    # Equal totals: the earlier (better-ranked) candidate keeps the win.
    a, b = Candidate("x-1", "Foo", None, None, None), Candidate("x-2", "Foo", None, None, None)
    assert best_match("Foo", [a, b])[0] is a
    assert best_match("Foo", []) is None


def test_tickers_cover_majors_globally_rotate_keys_and_refresh_every_twelve_hours(
    settings, collect, db, sandbox, engine_clock
):
    cfg = _settings(settings, sandbox)
    _markets_and_ids(collect, cfg)
    collect("bithumb_coingecko_mapping", settings=cfg)
    first = collect("coingecko_tickers_bithumb", settings=cfg, universe_limit=6)
    assert first.status == "ok", first.message
    majors = count(
        db,
        "SELECT count(DISTINCT coingecko_id) FROM coingecko_tickers_bithumb WHERE coingecko_id = ANY(%s)",
        ["bitcoin", "ethereum", "ripple", "tether", "shiba-inu", "binancecoin", "solana", "dogecoin"],
    )
    assert first.calls == 6 + majors
    # The majors have global (non-Korean) tickers — the seed's stale-majors bug.
    assert (
        count(
            db,
            "SELECT count(*) FROM coingecko_tickers_bithumb WHERE coingecko_id='bitcoin' AND exchange_id='binance'",
        )
        >= 1
    )
    assert (
        count(
            db,
            "SELECT count(*) FROM coingecko_tickers_bithumb WHERE coingecko_id='bitcoin' AND exchange_id IN ('bithumb','upbit')",
        )
        >= 2
    )
    btc_rows = _one(
        db, "SELECT market_code, symbol FROM coingecko_tickers_bithumb WHERE coingecko_id='bitcoin' LIMIT 1"
    )
    assert btc_rows == ("KRW-BTC", "BTC")
    served = httpx.get(
        sandbox.base_url("coingecko") + "/coins/bitcoin/tickers", headers={"x-cg-demo-api-key": CG_KEYS[0]}
    ).json()["tickers"]
    binance = next(t for t in served if t["market"]["identifier"] == "binance")
    stored = _one(
        db,
        "SELECT converted_last_usd FROM coingecko_tickers_bithumb WHERE coingecko_id='bitcoin' AND exchange_id='binance' AND base=%s AND target=%s ORDER BY timestamp DESC LIMIT 1",
        binance["base"],
        binance["target"],
    )
    assert (
        stored is not None
        and abs(float(stored[0]) - binance["converted_last"]["usd"]) / binance["converted_last"]["usd"] < 0.01
    )
    # Both keys of the pool served calls.
    assert sandbox.admin.calls("coingecko", key=CG_KEYS[0], endpoint="/coins/{id}/tickers") > 0
    assert sandbox.admin.calls("coingecko", key=CG_KEYS[1], endpoint="/coins/{id}/tickers") > 0

    idle = collect("coingecko_tickers_bithumb", settings=cfg, universe_limit=6)
    assert idle.calls == 0 and idle.rows_inserted == 0
    sandbox.admin.advance(hours=12)
    engine_clock.advance(timedelta(hours=12))
    later = collect("coingecko_tickers_bithumb", settings=cfg, universe_limit=6)
    assert later.status == "ok" and later.calls == first.calls and later.rows_inserted > 0


def test_tickers_stop_partial_when_the_pool_is_spent_and_resume(settings, collect, db, sandbox, engine_clock):
    cfg = _settings(settings, sandbox)
    _markets_and_ids(collect, cfg)
    collect("bithumb_coingecko_mapping", settings=cfg)
    tight = {"coingecko": (per_minute(30), per_month(20))}  # 20 a month per key, the mapping spent 13
    stopped = collect("coingecko_tickers_bithumb", settings=cfg, universe_limit=40, quota_windows=tight)
    assert stopped.status == "partial" and stopped.error_class == "QuotaExhausted"
    assert stopped.items_done > 0 and stopped.items_pending > 0
    done_first = stopped.items_done
    engine_clock.advance(timedelta(minutes=1))  # a fresh per-minute window; the month is the real limit
    sandbox.admin.advance(minutes=1)
    resumed = collect("coingecko_tickers_bithumb", settings=cfg, universe_limit=40)
    assert resumed.status == "ok", (resumed.message, resumed.items_done, done_first)
    assert resumed.items_done == 40 - done_first


def test_coin_details_take_the_top_ranks_and_are_fresh_for_thirty_days(
    settings, collect, db, sandbox, engine_clock
):
    cfg = _settings(settings, sandbox)
    collect("coingecko_id_mapping", settings=cfg)
    first = collect("coingecko_coin_details", settings=cfg, universe_limit=5)
    assert first.status == "ok" and first.calls == 5 and first.rows_inserted == 5
    row = _one(
        db,
        "SELECT symbol, name, homepage_url, github_repos, current_price_krw IS NOT NULL FROM coingecko_coin_details WHERE coingecko_id='bitcoin'",
    )
    assert (
        row[:4] == ("BTC", "Bitcoin", "https://bitcoin.org", ["https://github.com/bitcoin/bitcoin"])
        and row[4]
    )
    assert collect("coingecko_coin_details", settings=cfg, universe_limit=5).calls == 0
    engine_clock.advance(timedelta(days=31))
    sandbox.admin.advance(days=31)
    assert collect("coingecko_coin_details", settings=cfg, universe_limit=5).calls == 5


def test_derivatives_and_global_are_idempotent_per_collection_instant(
    settings, collect, db, sandbox, engine_clock
):
    cfg = _settings(settings, sandbox)
    served = httpx.get(
        sandbox.base_url("coingecko") + "/derivatives", headers={"x-cg-demo-api-key": CG_KEYS[0]}
    ).json()
    first = collect("coingecko_derivatives", settings=cfg)
    assert first.status == "ok" and first.rows_inserted == len({(d["market"], d["symbol"]) for d in served})
    batch = _one(db, "SELECT DISTINCT batch_id FROM coingecko_derivatives")[0]
    assert batch == engine_clock.now().strftime("%Y%m%d") + "_000000"
    rerun = collect("coingecko_derivatives", settings=cfg)
    assert rerun.rows_inserted == 0
    assert count(db, "SELECT count(DISTINCT batch_id) FROM coingecko_derivatives") == 1
    btc = next(d for d in served if d["market"] == "Binance (Futures)" and d["index_id"] == "BTC")
    price = _one(
        db,
        "SELECT price FROM coingecko_derivatives WHERE market=%s AND symbol=%s",
        btc["market"],
        btc["symbol"],
    )[0]
    assert price > 0

    g1 = collect("coingecko_global", settings=cfg)
    g2 = collect("coingecko_global", settings=cfg)
    assert g1.rows_inserted == 1 and g2.rows_inserted == 0
    assert count(db, "SELECT count(*) FROM coingecko_global") == 1
    row = _one(
        db,
        "SELECT btc_dominance, active_cryptocurrencies, extract(hour FROM collected_at AT TIME ZONE 'UTC') FROM coingecko_global",
    )
    assert row[0] > 0 and row[1] > 0 and int(row[2]) % 6 == 0
    engine_clock.advance(timedelta(hours=6))
    sandbox.admin.advance(hours=6)
    assert collect("coingecko_global", settings=cfg).rows_inserted == 1
    assert count(db, "SELECT count(*) FROM coingecko_global") == 2
    engine_clock.advance(ONE_DAY)
    sandbox.admin.advance(days=1)
    assert collect("coingecko_derivatives", settings=cfg).rows_inserted > 0
    assert count(db, "SELECT count(DISTINCT batch_id) FROM coingecko_derivatives") == 2
