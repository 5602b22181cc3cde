"""Admin counters: calls per provider, key and endpoint, and what happened to them."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

#: Outcome columns, in order. ``calls`` counts every request that reached a provider route.
OUTCOMES = ("calls", "served", "refused_quota", "auth_failed", "faulted")
_INDEX = {name: i for i, name in enumerate(OUTCOMES)}


def key_id(key: str | None) -> str:
    """A short, stable, non-reversible id for an API key (``-`` when there is none).

    Counters and faults refer to keys by this id so the admin API never echoes a secret.
    """
    if not key:
        return "-"
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class Counters:
    """Thread-safe counters keyed by (provider, key id, endpoint)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str, str], list[int]] = {}

    def add(self, provider: str, kid: str, endpoint: str, outcome: str, n: int = 1) -> None:
        with self._lock:
            row = self._rows.get((provider, kid, endpoint))
            if row is None:
                row = self._rows[(provider, kid, endpoint)] = [0] * len(OUTCOMES)
            row[_INDEX[outcome]] += n

    def rows(
        self, provider: str | None = None, kid: str | None = None, endpoint: str | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            items = sorted(self._rows.items())
        return [
            {"provider": p, "key_id": k, "endpoint": e, **dict(zip(OUTCOMES, row, strict=True))}
            for (p, k, e), row in items
            if (provider is None or p == provider)
            and (kid is None or k == kid)
            and (endpoint is None or e == endpoint)
        ]

    def totals(self, rows: list[dict[str, Any]]) -> dict[str, int]:
        return {name: sum(r[name] for r in rows) for name in OUTCOMES}

    def reset(self) -> None:
        with self._lock:
            self._rows.clear()
