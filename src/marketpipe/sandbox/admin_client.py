"""A small synchronous client for the sandbox admin API (used by tests, benchmarks and the demo)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import httpx

from marketpipe.sandbox.counters import key_id
from marketpipe.sandbox.prefixes import ADMIN_PREFIX, sandbox_prefixes, websocket_providers


class AdminClient:
    """Drive a running sandbox at ``root`` (e.g. ``http://127.0.0.1:8765``)."""

    def __init__(self, root: str, timeout: float = 10.0) -> None:
        self.root = root.rstrip("/")
        self._http = httpx.Client(base_url=self.root + ADMIN_PREFIX, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def base_url(self, provider: str) -> str:
        """The sandbox base URL of ``provider`` (``ws://`` for a WebSocket such as ``finnhub_ws``)."""
        root = self.root.replace("http://", "ws://", 1) if provider in websocket_providers() else self.root
        return root + sandbox_prefixes()[provider]

    def _ok(self, response: httpx.Response) -> Any:
        response.raise_for_status()
        return response.json()

    # -- health / reset --------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return self._ok(self._http.get("/health"))

    def reset(self, **parts: bool) -> dict[str, Any]:
        """Reset everything (or only the parts passed as True / not passed as False)."""
        return self._ok(self._http.post("/reset", json=parts or None))

    # -- clock -----------------------------------------------------------------------------
    def clock(self) -> dict[str, Any]:
        return self._ok(self._http.get("/clock"))

    def now(self) -> datetime:
        return datetime.fromisoformat(self.clock()["now"].replace("Z", "+00:00"))

    def advance(
        self, *, seconds: float = 0, minutes: float = 0, hours: float = 0, days: float = 0
    ) -> datetime:
        body = {"seconds": seconds, "minutes": minutes, "hours": hours, "days": days}
        return datetime.fromisoformat(
            self._ok(self._http.post("/clock/advance", json=body))["now"].replace("Z", "+00:00")
        )

    def set_clock(self, now: datetime | None = None, rate: float | None = None) -> datetime:
        body = {"now": now.isoformat() if now else None, "rate": rate}
        return datetime.fromisoformat(
            self._ok(self._http.post("/clock/set", json=body))["now"].replace("Z", "+00:00")
        )

    def freeze(self) -> datetime:
        """Stop the clock (only advance/set move it)."""
        return self.set_clock(rate=0)

    # -- faults ----------------------------------------------------------------------------
    def add_fault(
        self,
        provider: str,
        kind: str,
        route: str = "*",
        *,
        count: int | None = None,
        probability: float | None = None,
        key: str | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        body = {
            "provider": provider,
            "kind": kind,
            "route": route,
            "count": count,
            "probability": probability,
            "key": key,
            "params": params,
        }
        return self._ok(self._http.post("/faults", json=body))

    def faults(self, provider: str | None = None) -> list[dict[str, Any]]:
        return self._ok(self._http.get("/faults", params={"provider": provider} if provider else None))

    def clear_faults(self, provider: str | None = None) -> int:
        return int(
            self._ok(self._http.delete("/faults", params={"provider": provider} if provider else None))[
                "removed"
            ]
        )

    # -- counters --------------------------------------------------------------------------
    def counters(
        self, provider: str | None = None, *, key: str | None = None, endpoint: str | None = None
    ) -> dict[str, Any]:
        params = {"provider": provider, "key_id": key_id(key) if key else None, "endpoint": endpoint}
        return self._ok(self._http.get("/counters", params={k: v for k, v in params.items() if v}))

    def calls(
        self, provider: str | None = None, *, key: str | None = None, endpoint: str | None = None
    ) -> int:
        """How many requests reached ``provider`` (optionally for one key / endpoint)."""
        return int(self.counters(provider, key=key, endpoint=endpoint)["totals"]["calls"])

    def refused(self, provider: str | None = None, *, key: str | None = None) -> int:
        """How many of them were refused for quota."""
        return int(self.counters(provider, key=key)["totals"]["refused_quota"])

    # -- quotas and keys -------------------------------------------------------------------
    def quotas(self) -> dict[str, Any]:
        return self._ok(self._http.get("/quotas"))

    def set_quotas(self, enabled: bool) -> dict[str, Any]:
        return self._ok(self._http.post("/quotas", json={"enabled": enabled}))

    def set_provider_quota(
        self,
        provider: str,
        *,
        enabled: bool | None = None,
        windows: list[dict[str, Any]] | None = None,
        default: bool = False,
    ) -> dict[str, Any]:
        body = {"enabled": enabled, "windows": windows, "default": default}
        return self._ok(self._http.post(f"/quotas/{provider}", json=body))

    def set_keys(
        self, provider: str, valid: list[str] | None = None, revoked: list[str] | None = None
    ) -> None:
        self._ok(self._http.post(f"/keys/{provider}", json={"valid": valid, "revoked": revoked or []}))

    # -- world -----------------------------------------------------------------------------
    def constituents(self, day: date | None = None) -> list[str]:
        params = {"day": day.isoformat()} if day else None
        return list(self._ok(self._http.get("/world/constituents", params=params))["symbols"])

    def change_membership(
        self, *, add: dict[str, Any] | None = None, remove: str | None = None, day: date | None = None
    ) -> list[dict[str, Any]]:
        body = {"add": add, "remove": remove, "day": day.isoformat() if day else None}
        return self._ok(self._http.post("/world/membership", json=body))

    def quote(self, symbol: str) -> dict[str, Any]:
        return self._ok(self._http.get(f"/world/quote/{symbol}"))
