"""The Redis keys the seed's backend reads (docs/seed.md §8a) have the shape the seed wrote.

Against the Redis filled by the short stream and the 10-minute market-cache jobs (``conftest.filled``):
each hash exists, every value is a JSON object with the fields the backend reads, and every numeric
field is a JSON number — never null (the backend sorts S&P 500 / ETF lists by ``change_percentage``
and its sort crashes on a null) and never a string.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import redis

from plugins._contractkit import Filled

#: hash → (fields the backend reads that are numbers, fields that are text). docs/seed.md §5, §8a.
SHAPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "crypto_realtime_data": (
        ("price", "change_price", "change_rate", "volume", "acc_trade_price_24h", "timestamp"),
        ("symbol", "source"),
    ),
    "sp500_realtime_data": (("price", "timestamp"), ("symbol",)),
    "etf_realtime_data": (("price", "volume", "timestamp"), ("symbol",)),
    "sp500_market_data": (
        ("current_price", "change_amount", "change_percentage", "volume", "volume_24h"),
        ("symbol", "company_name", "last_updated"),
    ),
    "etf_market_data": (
        ("current_price", "change_amount", "change_percentage", "volume", "volume_24h"),
        ("symbol", "etf_name", "last_updated"),
    ),
}

#: The cache jobs' hashes live 7 days (seed: EXPIRE 604800 on the whole hash).
MARKET_TTL_S = 604_800


@pytest.mark.parametrize("hash_key", sorted(SHAPES))
def test_every_hash_value_has_the_seed_shape_with_no_null_numbers(filled: Filled, hash_key: str) -> None:
    numbers, texts = SHAPES[hash_key]
    client = redis.Redis.from_url(filled.redis_url, decode_responses=True)
    try:
        entries = client.hgetall(hash_key)
        ttl = client.ttl(hash_key)
    finally:
        client.close()
    assert entries, f"{hash_key} is empty"
    problems: list[str] = []
    for field, raw in sorted(entries.items()):
        value = json.loads(raw)
        assert isinstance(value, dict), (hash_key, field)
        for name in numbers:
            got = value.get(name)
            if type(got) not in (int, float):
                problems.append(f"{field}.{name} = {got!r}")
        for name in texts:
            got = value.get(name)
            if not isinstance(got, str) or not got:
                problems.append(f"{field}.{name} = {got!r}")
        if hash_key.endswith("_market_data"):
            assert value["symbol"] == field
            datetime.fromisoformat(value["last_updated"])
    assert not problems, f"{hash_key}: {len(problems)} bad field(s), e.g. {problems[:8]}"
    if hash_key.endswith("_market_data"):
        assert 0 < ttl <= MARKET_TTL_S
