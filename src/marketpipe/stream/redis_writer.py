"""Redis side of the sink: latest values, a bounded history per instrument, one signal per batch.

One batch becomes ONE pipelined round trip (no MULTI: readers never need the batch atomically):

* ``HSET <hash> sym1 json1 sym2 json2 …`` — the seed-compatible hash (``sp500_realtime_data``), one
  command for every instrument of the batch;
* ``SET latest:…:{sym} json EX ttl`` per instrument;
* ``ZADD history:…:{sym} score member …`` per instrument: ONE sorted set per instrument (score =
  event ms, member unique per row so a replay adds nothing twice) — not one key per tick as the
  seed did; every ``history_len // 4`` additions it is trimmed to the newest ``history_len``
  entries and to the TTL window measured from its newest entry (so the set stays bounded:
  ≤ 1.25 × history_len);
* ``PUBLISH <channel>`` once.

"Latest" never moves backwards: the writer remembers the newest event time it wrote per instrument
(seeded from PostgreSQL by the sink's rehydration, and PostgreSQL always commits before Redis), and
writes a snapshot only when it is not older.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis

from marketpipe.stream.kinds import RedisLayout


@dataclass
class InstrumentUpdate:
    """What one batch does to one instrument: its newest snapshot and its new history entries.

    ``history`` is flat, ``[score, member, score, member, …]`` in arrival order: exactly the
    arguments of one ``ZADD`` (a member repeated within a batch is simply added once by Redis).
    """

    event_ms: int = -1
    snapshot: dict[str, Any] | None = None
    history: list[int | str] = field(default_factory=list)


#: Instruments remembered at most (newest event time written, additions since the last trim); beyond
#: it the oldest entries are forgotten (their next update is simply treated as the first).
MAX_INSTRUMENTS = 100_000


def bound(mapping: dict[Any, Any], cap: int = MAX_INSTRUMENTS) -> None:
    """Drop the oldest-inserted entries of ``mapping`` beyond ``cap``."""
    excess = len(mapping) - cap
    if excess > 0:
        for key in list(itertools.islice(mapping, excess)):
            del mapping[key]


class RedisWriter:
    """Applies batches of instrument updates to one Redis layout."""

    def __init__(self, client: redis.Redis, layout: RedisLayout, *, history_len: int) -> None:
        self.client = client
        self.layout = layout
        self.history_len = history_len
        self.trim_every = max(1, history_len // 4)
        self.latest_ms: dict[str, int] = {}
        self._added_since_trim: dict[str, int] = {}

    def apply(
        self, updates: Mapping[str, InstrumentUpdate], *, now_ms: int | None = None, publish: bool = True
    ) -> int:
        """Write ``updates`` in one round trip; returns how many instruments got a new latest value.

        ``publish=False`` skips the pub/sub signal (used when restoring state, not for new data).
        If Redis fails midway, nothing is remembered as written: the caller retries the same updates.
        """
        if not updates:
            return 0
        layout = self.layout
        now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
        pipe = self.client.pipeline(transaction=False)
        hash_fields: dict[str, bytes] = {}
        latest: dict[str, int] = {}
        added: dict[str, int] = {}
        ttl, window_ms, keep = layout.ttl_s, layout.ttl_s * 1000, self.history_len
        for instrument, update in updates.items():
            if update.snapshot is not None and update.event_ms >= self.latest_ms.get(instrument, -1):
                value = orjson.dumps(update.snapshot)
                hash_fields[instrument] = value
                pipe.set(layout.latest_prefix + instrument, value, ex=ttl)
                latest[instrument] = update.event_ms
            entries = update.history
            if entries:
                if len(entries) > 2 * keep:
                    entries = _newest(entries, keep)
                key = layout.history_prefix + instrument
                # One ZADD with the batch's flat (score, member) list: packed by hiredis in C.
                pipe.execute_command("ZADD", key, *entries)
                count = self._added_since_trim.get(instrument, self.trim_every) + len(entries) // 2
                if count >= self.trim_every:
                    # Unknown size after a restart counts as "due": trim on the first batch.
                    pipe.zremrangebyrank(key, 0, -(keep + 1))
                    newest = max(int(score) for score in entries[0::2])
                    pipe.zremrangebyscore(key, "-inf", f"({newest - window_ms}")
                    pipe.expire(key, ttl)
                    count = 0
                added[instrument] = count
        if layout.hash_key and hash_fields:
            pipe.hset(layout.hash_key, mapping=hash_fields)  # type: ignore[arg-type]
        if publish and layout.channel:
            pipe.publish(layout.channel, orjson.dumps({"count": len(updates), "timestamp": now_ms}))
        pipe.execute()
        self.latest_ms.update(latest)
        self._added_since_trim.update(added)
        bound(self.latest_ms)
        bound(self._added_since_trim)
        return len(latest)

    def merge_into(
        self, pending: dict[str, InstrumentUpdate], updates: Iterable[tuple[str, InstrumentUpdate]]
    ) -> None:
        """Fold ``updates`` into ``pending`` (used while Redis is unreachable; bounded per instrument)."""
        for instrument, update in updates:
            have = pending.get(instrument)
            if have is None:
                pending[instrument] = update
                continue
            if update.event_ms >= have.event_ms:
                have.event_ms, have.snapshot = update.event_ms, update.snapshot
            have.history.extend(update.history)
            if len(have.history) > 2 * self.history_len:
                have.history = _newest(have.history, self.history_len)
        bound(pending)


def _newest(entries: list[int | str], keep: int) -> list[int | str]:
    """The ``keep`` (score, member) pairs with the highest scores, still flat."""
    pairs = sorted(zip(entries[0::2], entries[1::2], strict=True), key=lambda pair: pair[0])[-keep:]
    return [value for pair in pairs for value in pair]
