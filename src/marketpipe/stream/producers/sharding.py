"""Which symbols a producer shard owns.

A symbol belongs to shard ``crc32(symbol) mod N``. Hashing (not list position, as the seed's
``OFFSET (pod-1)*50`` did) keeps the assignment stable: adding or removing one symbol moves only
that symbol, and every shard computes its slice without talking to the others. The N shards
partition any universe exactly — each symbol lands in exactly one shard.

The shard comes from ``--shard/--shards``, or, in a Kubernetes StatefulSet, from the pod's ordinal:
``MARKETPIPE_SHARD_ORDINAL`` if set, else the ``-<n>`` suffix of ``HOSTNAME`` (``producer-3`` → 3).
The shard count then comes from ``MARKETPIPE_SHARDS``.
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_ORDINAL_SUFFIX = re.compile(r"-(\d+)$")


class ShardConfigError(ValueError):
    """The shard index or count is missing, out of range or unparsable."""


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0-based, like StatefulSet ordinals)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ShardConfigError(f"shard count must be >= 1, got {self.count}")
        if not 0 <= self.index < self.count:
            raise ShardConfigError(f"shard index must be in [0, {self.count}), got {self.index}")

    def owns(self, symbol: str) -> bool:
        """True when ``symbol`` belongs to this shard."""
        return shard_of(symbol, self.count) == self.index

    def select(self, symbols: Iterable[str]) -> list[str]:
        """This shard's slice of ``symbols``: de-duplicated, normalised, sorted."""
        normalised = {normalise_symbol(s) for s in symbols if s and s.strip()}
        return sorted(s for s in normalised if self.owns(s))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def normalise_symbol(symbol: str) -> str:
    """Upper-case, stripped ticker (the form hashed and sent to Finnhub)."""
    return symbol.strip().upper()


def shard_of(symbol: str, count: int) -> int:
    """The shard (0-based) that owns ``symbol`` among ``count`` shards. Stable across runs and hosts."""
    # crc32 is fast, stable across processes (unlike hash()) and spreads tickers evenly enough.
    return zlib.crc32(normalise_symbol(symbol).encode("utf-8")) % count


def resolve_shard(
    index: int | None = None, count: int | None = None, env: Mapping[str, str] | None = None
) -> Shard:
    """The shard to run: explicit arguments win, then the environment, then a single shard 0/1.

    ``MARKETPIPE_SHARDS`` gives the count; the index is ``MARKETPIPE_SHARD_ORDINAL`` or the
    StatefulSet ordinal at the end of ``HOSTNAME``. A count > 1 without any index is an error
    (silently running shard 0 on every pod would subscribe the same slice N times).
    """
    env = os.environ if env is None else env
    if count is None:
        raw_count = env.get("MARKETPIPE_SHARDS")
        count = _parse_int("MARKETPIPE_SHARDS", raw_count) if raw_count else None
    if index is None:
        raw_ordinal = env.get("MARKETPIPE_SHARD_ORDINAL")
        if raw_ordinal:
            index = _parse_int("MARKETPIPE_SHARD_ORDINAL", raw_ordinal)
        elif count is not None and count > 1:
            match = _ORDINAL_SUFFIX.search(env.get("HOSTNAME", ""))
            if match is None:
                raise ShardConfigError(
                    f"{count} shards configured but no shard index: pass --shard, set "
                    "MARKETPIPE_SHARD_ORDINAL, or run in a StatefulSet (HOSTNAME ending in -<ordinal>)"
                )
            index = int(match.group(1))
    return Shard(index=0 if index is None else index, count=1 if count is None else count)


def _parse_int(name: str, raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ShardConfigError(f"{name} must be an integer, got {raw!r}") from None
