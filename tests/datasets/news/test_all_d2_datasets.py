"""Every news, crypto, social and ETF dataset in dependency order against a frozen sandbox with quotas
off: each fills its table, and a second run writes nothing (x_posts excepted: its token windows spread
the day's accounts over several runs by design)."""

from __future__ import annotations

from marketpipe.engine.registry import get_dataset, in_dependency_order
from plugins.engine import count, engine_settings

DATASETS = [
    "sp500_companies", "earnings_calendar",  # inputs owned by the first family
    "market_news_finnhub", "company_news", "earnings_news_finnhub", "market_news", "market_news_sentiment",
    "etf_profile_holdings", "market_code_bithumb", "coingecko_id_mapping", "bithumb_coingecko_mapping",
    "coingecko_tickers_bithumb", "coingecko_coin_details", "coingecko_derivatives", "coingecko_global",
    "x_user_profiles", "x_posts", "truth_social_posts", "truth_social_trends", "truth_social_tags",
]  # fmt: skip


def test_every_dataset_fills_its_table_and_a_second_run_writes_nothing(settings, collect, db, sandbox):
    sandbox.admin.set_quotas(False)
    sandbox.admin.freeze()
    with db.transaction():
        for rank, symbol in enumerate(["SPY", "QQQ", "XLK"], start=1):
            db.execute(
                "INSERT INTO etf_basic_info (symbol, name, popularity_rank) VALUES (%s, %s, %s)",
                (symbol, symbol, rank),
            )
    db.commit()
    cfg = engine_settings(
        settings,
        sandbox.port,
        finnhub_keys=["all-fh"],
        newsapi_keys=["all-na"],
        coingecko_keys=["all-cg-1", "all-cg-2"],
        x_keys=[f"all-x-{i}" for i in range(1, 5)],
        truth_social_keys=["all-truth"],
    )
    order = [spec.name for wave in in_dependency_order([get_dataset(n) for n in DATASETS]) for spec in wave]
    first = {name: collect(name, settings=cfg, quotas=False, universe_limit=10) for name in order}
    for name, result in first.items():
        assert result.status == "ok", (name, result.message)
        assert count(db, f"SELECT count(*) FROM {get_dataset(name).table}") > 0, name

    second = {
        name: collect(name, settings=cfg, quotas=False, universe_limit=10)
        for name in order
        if name != "x_posts"
    }
    for name, result in second.items():
        assert result.status == "ok", (name, result.message)
        assert (result.rows_inserted, result.rows_updated) == (0, 0), (
            name,
            result.rows_inserted,
            result.rows_updated,
        )
