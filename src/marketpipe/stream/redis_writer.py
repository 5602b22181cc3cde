"""Redis side of the sink: latest values, a bounded history per instrument, one signal per batch.

One batch becomes ONE Redis call: a Lua script that, per instrument,

* sets the seed-compatible hash field (``sp500_realtime_data[symbol] = JSON``) and
  ``latest:...:{symbol}`` (with TTL) — only if the batch's newest event is not older than what Redis
  has (a per-layout ``<hash>:ts`` hash remembers the event time), so a replay never moves "latest"
  backwards;
* adds the batch's events to ONE sorted set per instrument (score = event ms, member unique per row,
  so a replay adds nothing twice), trimmed to the newest ``history_len`` entries and to the TTL
  window measured from the newest entry (not the wall clock, so a replay of old data keeps its
  history) — not one key per tick as the seed did;

and finally PUBLISHes one signal on the layout's channel. Everything runs atomically in Redis.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis

from marketpipe.stream.kinds import RedisLayout

# KEYS: [ts_hash, data_hash_or_empty, latest_1, hist_1, latest_2, hist_2, ...]
# ARGV: [keep, window_ms, ttl_s, channel, signal, (field, ts, json, n, score, member, ...)...]
_SCRIPT = """
local ts_hash, data_hash = KEYS[1], KEYS[2]
local keep = tonumber(ARGV[1])
local window_ms = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local channel, signal = ARGV[4], ARGV[5]
local i, k, changed = 6, 3, 0
while i <= #ARGV do
  local field, ts, json, n = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], tonumber(ARGV[i + 3])
  local latest_key, hist_key = KEYS[k], KEYS[k + 1]
  local prev = tonumber(redis.call('HGET', ts_hash, field) or '-1')
  if ts >= prev then
    redis.call('HSET', ts_hash, field, ARGV[i + 1])
    if data_hash ~= '' then redis.call('HSET', data_hash, field, json) end
    redis.call('SET', latest_key, json, 'EX', ttl)
    changed = changed + 1
  end
  if n > 0 then
    local first = i + 4
    local last = first + 2 * n - 1
    local chunk = 1000
    for s = first, last, chunk do
      local e = math.min(s + chunk - 1, last)
      redis.call('ZADD', hist_key, unpack(ARGV, s, e))
    end
    redis.call('ZREMRANGEBYRANK', hist_key, 0, -(keep + 1))
    local top = redis.call('ZRANGE', hist_key, -1, -1, 'WITHSCORES')
    if top[2] then
      redis.call('ZREMRANGEBYSCORE', hist_key, '-inf', '(' .. (tonumber(top[2]) - window_ms))
    end
    redis.call('EXPIRE', hist_key, ttl)
  end
  i = i + 4 + 2 * n
  k = k + 2
end
if channel ~= '' then redis.call('PUBLISH', channel, signal) end
return changed
"""


@dataclass
class InstrumentUpdate:
    """What one batch does to one instrument: its newest snapshot and its new history members."""

    event_ms: int = -1
    snapshot: dict[str, Any] | None = None
    history: dict[str, int] = field(default_factory=dict)  # member -> score (dedupes within a batch)


class RedisWriter:
    """Applies batches of instrument updates to one Redis layout."""

    def __init__(self, client: redis.Redis, layout: RedisLayout, *, history_len: int) -> None:
        self.client = client
        self.layout = layout
        self.history_len = history_len
        self._script = client.register_script(_SCRIPT)

    @property
    def ts_hash(self) -> str:
        base = self.layout.hash_key or self.layout.latest_prefix.rstrip(":")
        return f"{base}:ts"

    def apply(
        self, updates: Mapping[str, InstrumentUpdate], *, now_ms: int | None = None, publish: bool = True
    ) -> int:
        """Write ``updates`` in one script call; returns how many instruments got a new latest value.

        ``publish=False`` skips the pub/sub signal (used when restoring state, not for new data).
        """
        if not updates:
            return 0
        layout = self.layout
        now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
        keys: list[str] = [self.ts_hash, layout.hash_key or ""]
        signal = orjson.dumps({"count": len(updates), "timestamp": now_ms}).decode()
        args: list[Any] = [
            self.history_len,
            now_ms - layout.ttl_s * 1000,
            layout.ttl_s,
            layout.channel or "",
            signal,
        ]
        for instrument, update in updates.items():
            keys.append(layout.latest_prefix + instrument)
            keys.append(layout.history_prefix + instrument)
            # Keep only the newest history_len members of this batch: older ones would be trimmed anyway.
            members = update.history
            if len(members) > self.history_len:
                members = dict(sorted(members.items(), key=lambda kv: kv[1])[-self.history_len :])
            args.extend((instrument, update.event_ms, orjson.dumps(update.snapshot).decode(), len(members)))
            for member, score in members.items():
                args.append(score)
                args.append(member)
        return int(self._script(keys=keys, args=args))

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
            have.history.update(update.history)
            if len(have.history) > self.history_len:
                have.history = dict(sorted(have.history.items(), key=lambda kv: kv[1])[-self.history_len :])
