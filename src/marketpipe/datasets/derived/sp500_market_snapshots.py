"""S&P 500 market data for the live API: the Redis hash ``sp500_market_data`` and 10-minute snapshots.

The seed's ``cache_sp500_to_redis`` DAG, fixed (see :mod:`._market_cache` for the steps): figures
from ``sp500_websocket_trades``, names from ``sp500_companies``, signal ``sp500_market_updates``.
"""

from __future__ import annotations

from datetime import timedelta

from marketpipe.datasets.derived._market_cache import MarketCache, market_state
from marketpipe.engine.registry import DERIVED, DatasetSpec

HASH = "sp500_market_data"
CHANNEL = "sp500_market_updates"

CACHE = MarketCache(
    trades="sp500_websocket_trades",
    names="sp500_companies",
    name_column="company_name",
    name_field="company_name",
    hash_key=HASH,
    channel=CHANNEL,
    label="S&P 500",
)

__all__ = ["CACHE", "CHANNEL", "DATASET", "HASH", "market_state"]

DATASET = DatasetSpec(
    name="sp500_market_snapshots",
    table="sp500_market_snapshots",
    group="derived",
    schedule="*/10 * * * *",
    providers=(),
    description="Redis hash sp500_market_data (+ signal) and 10-minute snapshots while NYSE is open",
    key=("symbol", "snapshot_time"),
    slot=timedelta(minutes=10),
    fetch={DERIVED: CACHE.derive},
    merge="nothing",
    depends_on=("sp500_companies",),
)
