"""ETF market data for the live API: the Redis hash ``etf_market_data`` and 10-minute snapshots.

The seed's ``cache_etf_to_redis`` DAG (identical to the S&P 500 one apart from names), fixed the same
way (see :mod:`._market_cache`): figures from ``etf_realtime_prices`` (the ``etf`` sink), names from
``etf_basic_info`` as ``etf_name``, signal ``etf_market_updates``.
"""

from __future__ import annotations

from datetime import timedelta

from marketpipe.datasets.derived._market_cache import MarketCache
from marketpipe.engine.registry import DERIVED, DatasetSpec

HASH = "etf_market_data"
CHANNEL = "etf_market_updates"

CACHE = MarketCache(
    trades="etf_realtime_prices",
    names="etf_basic_info",
    name_column="name",
    name_field="etf_name",
    hash_key=HASH,
    channel=CHANNEL,
    label="ETF",
)

DATASET = DatasetSpec(
    name="etf_market_snapshots",
    table="etf_market_snapshots",
    group="derived",
    schedule="*/10 * * * *",
    providers=(),
    description="Redis hash etf_market_data (+ signal) and 10-minute snapshots while NYSE is open",
    key=("symbol", "snapshot_time"),
    slot=timedelta(minutes=10),
    fetch={DERIVED: CACHE.derive},
    merge="nothing",
    depends_on=("etf_basic_info",),
)
