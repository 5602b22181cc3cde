"""Faults switched on at run time, per provider and route.

A fault has a provider, a route pattern, a kind, and optionally a count (fire N times, then vanish),
a probability (fire on a seeded fraction of matching calls) and kind-specific params. The HTTP gate
(:mod:`marketpipe.sandbox.core`) consumes the HTTP kinds; WebSocket servers consume the ``ws_*`` kinds
through :meth:`FaultRegistry.take` with their own ``kinds`` set.
"""

from __future__ import annotations

import hashlib
import random
import threading
from fnmatch import fnmatchcase
from typing import Any, Literal

from pydantic import BaseModel, Field

FaultKind = Literal[
    "server_error",  # HTTP 5xx (params: status=500, body=str|None)
    "rate_limit",  # the provider's own rate-limit reply, a "429 storm" (params: window="burst")
    "slow",  # reply only after params.delay_s (default 30) seconds, past a client timeout
    "truncated_json",  # body cut at params.fraction (default 0.5) of its length
    "html_error",  # an HTML page from a proxy/CDN (params: status=502, template=bad_gateway|cloudflare_challenge|cloudflare_1020)
    "empty_body",  # params: status=200
    "schema_drift",  # params: rename={old:new}, drop=[..], extra={..}, null=[..]; default: all four
    "hostile",  # the real body with one record poisoned: a lone surrogate, a 10 KB value, a wrong type
    "redirect",  # HTTP 302 to params.location (default another host), params.status=302
    "revoked_key",  # the key is answered as invalid/revoked (params: none)
    "reply",  # any canned reply: params status=200, body=str|dict|list, content_type, headers
    "ws_disconnect",  # WebSocket: close mid-stream (params: after_messages)
    "ws_garbage",  # WebSocket: send non-JSON / malformed frames
    "ws_duplicate",  # WebSocket: send trades twice
]

HTTP_KINDS: frozenset[str] = frozenset(
    {
        "server_error",
        "rate_limit",
        "slow",
        "truncated_json",
        "html_error",
        "empty_body",
        "schema_drift",
        "hostile",
        "redirect",
        "revoked_key",
        "reply",
    }
)
WS_KINDS: frozenset[str] = frozenset({"ws_disconnect", "ws_garbage", "ws_duplicate"})


class FaultSpec(BaseModel):
    """What a client asks for (admin ``POST /_admin/faults``)."""

    provider: str
    kind: FaultKind
    route: str = Field(default="*", description="fnmatch pattern on the endpoint label or the sub-path.")
    count: int | None = Field(default=None, ge=1, description="Fire this many times, then disappear.")
    probability: float | None = Field(default=None, ge=0.0, le=1.0)
    params: dict[str, Any] = Field(default_factory=dict)
    key: str | None = Field(default=None, description="Only calls with this API key (stored as its id).")


class Fault(BaseModel):
    """A registered fault (what the admin API lists)."""

    id: int
    provider: str
    kind: FaultKind
    route: str
    count: int | None
    probability: float | None
    params: dict[str, Any]
    key_id: str | None
    fired: int = 0

    def matches(self, endpoint: str, path: str, key_id: str) -> bool:
        if self.key_id is not None and self.key_id != key_id:
            return False
        return self.route == "*" or fnmatchcase(endpoint, self.route) or fnmatchcase(path, self.route)


class FaultRegistry:
    """Thread-safe list of active faults, indexed by provider for a cheap lookup."""

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._by_provider: dict[str, list[Fault]] = {}
        self._next_id = 1
        self._rngs: dict[int, random.Random] = {}

    def add(self, spec: FaultSpec, key_id: str | None) -> Fault:
        with self._lock:
            fault = Fault(
                id=self._next_id,
                provider=spec.provider,
                kind=spec.kind,
                route=spec.route,
                count=spec.count,
                probability=spec.probability,
                params=dict(spec.params),
                key_id=key_id,
            )
            self._next_id += 1
            # A stream seeded by the seed and what the fault is: the same fault fires on the same calls.
            identity = f"{self._seed}|{spec.provider}|{spec.kind}|{spec.route}|{spec.probability}"
            digest = hashlib.blake2b(identity.encode(), digest_size=8).digest()
            self._rngs[fault.id] = random.Random(int.from_bytes(digest, "big"))
            self._by_provider.setdefault(spec.provider, []).append(fault)
            return fault

    def active(self, provider: str) -> bool:
        """Whether any fault is switched on for ``provider`` (lock-free, for the hot path)."""
        return bool(self._by_provider.get(provider))

    def take(
        self,
        provider: str,
        endpoint: str,
        path: str = "",
        key_id: str = "",
        kinds: frozenset[str] = HTTP_KINDS,
    ) -> Fault | None:
        """The first active fault of ``kinds`` matching this call, consuming one of its count."""
        faults = self._by_provider.get(provider)
        if not faults:  # the fast path: no lock when nothing is switched on
            return None
        with self._lock:
            for fault in list(faults):
                if fault.kind not in kinds or not fault.matches(endpoint, path, key_id):
                    continue
                if fault.probability is not None and self._rngs[fault.id].random() >= fault.probability:
                    continue
                fault.fired += 1
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        faults.remove(fault)
                return fault.model_copy()
        return None

    def list(self, provider: str | None = None) -> list[Fault]:
        with self._lock:
            return [
                f.model_copy()
                for p, faults in sorted(self._by_provider.items())
                for f in faults
                if provider is None or p == provider
            ]

    def remove(self, fault_id: int) -> bool:
        with self._lock:
            for faults in self._by_provider.values():
                for fault in faults:
                    if fault.id == fault_id:
                        faults.remove(fault)
                        return True
        return False

    def clear(self, provider: str | None = None) -> int:
        with self._lock:
            if provider is None:
                removed = sum(len(f) for f in self._by_provider.values())
                self._by_provider.clear()
            else:
                removed = len(self._by_provider.pop(provider, []))
            return removed


def drift(payload: Any, params: dict[str, Any]) -> Any:
    """Apply schema drift to every object in ``payload`` (recursively).

    Without params, each object gets all four kinds of drift: its first key renamed (``<key>_v2``),
    its second key set to null, its third key dropped, and an extra field ``sandboxExtraField``.
    """
    rename: dict[str, str] = params.get("rename") or {}
    drop = set(params.get("drop") or ())
    extra: dict[str, Any] = params.get("extra") or {}
    nulls = set(params.get("null") or ())
    default = not (rename or drop or extra or nulls)

    def walk(value: Any) -> Any:
        if isinstance(value, list):
            return [walk(v) for v in value]
        if not isinstance(value, dict):
            return value
        keys = list(value)
        out: dict[str, Any] = {}
        for position, key in enumerate(keys):
            item = walk(value[key])
            if default:
                if position == 0:
                    out[f"{key}_v2"] = item
                elif position == 1:
                    out[key] = None
                elif position == 2:
                    continue
                else:
                    out[key] = item
                continue
            if key in drop:
                continue
            out[rename.get(key, key)] = None if key in nulls else item
        if default:
            out["sandboxExtraField"] = "drift"
        else:
            out.update(extra)
        return out

    return walk(payload)


#: What :func:`hostile` puts into a record.
LONE_SURROGATE = "\ud800"
HUGE_SIZE = 10 * 1024
WRONG_TYPE: dict[str, Any] = {"unexpected": ["wrong", "type", {"nested": True}]}


def _record(payload: Any) -> dict[str, Any] | None:
    """The first record of a reply: the first object of a list, of the largest list in an object, or
    the object itself."""
    if isinstance(payload, list):
        return next((v for v in payload if isinstance(v, dict)), None)
    if not isinstance(payload, dict):
        return None
    lists = [v for v in payload.values() if isinstance(v, list) and any(isinstance(x, dict) for x in v)]
    if lists:
        return _record(max(lists, key=len))
    nested = [v for v in payload.values() if isinstance(v, dict) and v]
    # A wrapper whose only content is one object (e.g. ``{"data": {...}}``): poison inside it.
    if len(payload) <= 2 and len(nested) == 1:
        return nested[0]
    return payload


def hostile(payload: Any) -> Any:
    """``payload`` with its first record poisoned, the rest untouched: the first text field gains a lone
    UTF-16 surrogate, the second becomes 10 KB long, the third (any field) becomes an object — the
    three hostile values a real provider has been seen to send (escaped text from user content, an
    unbounded description, a field whose type changed)."""
    record = _record(payload)
    if record is None:
        return payload
    texts = [k for k, v in record.items() if isinstance(v, str)]
    others = [k for k in record if k not in texts[:2]]
    if texts:
        record[texts[0]] = record[texts[0]] + LONE_SURROGATE
    if len(texts) > 1:
        record[texts[1]] = "x" * HUGE_SIZE
    if others:
        record[others[0]] = WRONG_TYPE
    elif len(texts) > 2:
        record[texts[2]] = WRONG_TYPE
    return payload


def hostile_text(body: bytes) -> bytes:
    """A text body (CSV, HTML) with its first data line poisoned the same way (a NUL and invalid
    UTF-8 instead of a lone surrogate, which UTF-8 text cannot carry; a 10 KB cell; a wrong type)."""
    lines = body.split(b"\n")
    if len(lines) < 2:
        return body
    if body.lstrip().startswith(b"<"):  # HTML/XML: poison the first table cell / observation value
        for marker in (b"<td>", b'value="'):
            at = body.find(marker)
            if at >= 0:
                start = at + len(marker)
                return body[:start] + b"\x00\xed\xa0\x80" + b"x" * HUGE_SIZE + body[start:]
        return body
    cells = lines[1].split(b",")
    cells[0] = cells[0] + b"\x00\xed\xa0\x80"
    if len(cells) > 1:
        cells[1] = b"x" * HUGE_SIZE
    if len(cells) > 2:
        cells[2] = b"{not: a number}"
    lines[1] = b",".join(cells)
    return b"\n".join(lines)


HTML_TEMPLATES: dict[str, str] = {
    "bad_gateway": (
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    ),
    "cloudflare_challenge": (
        '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
        '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head><body>'
        '<div class="main-wrapper" role="main"><div class="main-content"><noscript>'
        "Enable JavaScript and cookies to continue</noscript></div></div>"
        '<script src="/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1"></script></body></html>'
    ),
    "cloudflare_1020": (
        "<!DOCTYPE html><html><head><title>Access denied | api used Cloudflare to restrict access</title>"
        '</head><body><div id="cf-wrapper"><h1><span class="cf-error-type">Error</span>'
        '<span class="cf-error-code">1020</span></h1><h2 class="cf-subheadline">Access denied</h2>'
        "</div></body></html>"
    ),
}
