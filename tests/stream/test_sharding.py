"""Sharding: N shards partition any universe exactly, stably, and the shard comes from args or the pod."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketpipe.stream.producers.sharding import Shard, ShardConfigError, resolve_shard, shard_of

SP500_CSV = Path(__file__).resolve().parents[2] / "src/marketpipe/sandbox/data/sp500_constituents.csv"


def sp500() -> list[str]:
    with SP500_CSV.open(newline="") as fh:
        return [row["Symbol"] for row in csv.DictReader(fh)]


symbols_strategy = st.lists(st.from_regex(r"[A-Z]{1,5}(\.[A-Z])?", fullmatch=True), max_size=300, unique=True)


@given(universe=symbols_strategy, count=st.integers(min_value=1, max_value=12))
def test_shards_partition_every_universe_exactly(universe: list[str], count: int) -> None:
    slices = [Shard(i, count).select(universe) for i in range(count)]
    owners = Counter(symbol for part in slices for symbol in part)
    assert set(owners) == set(universe)
    assert all(n == 1 for n in owners.values())


def test_sp500_universe_is_covered_once_by_ten_shards() -> None:
    universe = sp500()
    slices = [Shard(i, 10).select(universe) for i in range(10)]
    assert sorted(s for part in slices for s in part) == sorted(set(universe))
    sizes = [len(part) for part in slices]
    # crc32 spreads ~503 tickers evenly enough: no shard is empty or more than 1.5x the mean.
    assert min(sizes) > 0
    assert max(sizes) < 1.5 * len(universe) / 10


def test_adding_a_symbol_moves_only_that_symbol() -> None:
    universe = sp500()
    before = {s: shard_of(s, 7) for s in universe}
    after = {s: shard_of(s, 7) for s in [*universe, "NEWCO"]}
    assert {s: after[s] for s in universe} == before


def test_assignment_is_case_and_space_insensitive_and_stable() -> None:
    assert shard_of(" aapl ", 5) == shard_of("AAPL", 5)
    # Pinned: crc32("AAPL") = 3060094812. Not the process's hash seed; changing the hash would
    # reshuffle every running deployment, so this must fail loudly if someone does.
    assert shard_of("AAPL", 1000) == 812


def test_select_dedupes_and_sorts() -> None:
    shard = Shard(0, 1)
    assert shard.select(["msft", "AAPL", "MSFT", " ", ""]) == ["AAPL", "MSFT"]


def test_explicit_arguments_win_over_environment() -> None:
    env = {"MARKETPIPE_SHARDS": "9", "MARKETPIPE_SHARD_ORDINAL": "8", "HOSTNAME": "producer-7"}
    assert resolve_shard(2, 3, env) == Shard(2, 3)


def test_statefulset_ordinal_from_hostname() -> None:
    assert resolve_shard(env={"MARKETPIPE_SHARDS": "10", "HOSTNAME": "sp500-producer-7"}) == Shard(7, 10)


def test_explicit_ordinal_variable_beats_hostname() -> None:
    env = {"MARKETPIPE_SHARDS": "4", "MARKETPIPE_SHARD_ORDINAL": "1", "HOSTNAME": "sp500-producer-3"}
    assert resolve_shard(env=env) == Shard(1, 4)


def test_single_shard_by_default() -> None:
    assert resolve_shard(env={}) == Shard(0, 1)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ((None, None), {"MARKETPIPE_SHARDS": "3", "HOSTNAME": "laptop"}, "no shard index"),
        ((3, 3), {}, "shard index must be in"),
        ((0, 0), {}, "count must be >= 1"),
        ((None, None), {"MARKETPIPE_SHARDS": "three"}, "must be an integer"),
        ((None, 4), {"HOSTNAME": "producer-4"}, "shard index must be in"),
    ],
)
def test_bad_shard_configuration_is_a_typed_error(args: tuple, env: dict[str, str], message: str) -> None:
    with pytest.raises(ShardConfigError, match=message):
        resolve_shard(*args, env=env)
