"""The sandbox's shared machinery: state, the provider contract and the per-request gate.

Every provider route starts with :func:`gate`, which in one place counts the call, applies a
switched-on fault, checks the key and enforces the provider's quota, answering with the provider's own
reply when one of them refuses. The route then builds its payload and answers through the returned
:class:`Call` (``call.json`` / ``call.text``), which applies the faults that change a body.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import orjson
from fastapi import APIRouter
from fastapi.responses import Response
from starlette.requests import HTTPConnection

from marketpipe.sandbox.clock import SimClock
from marketpipe.sandbox.config import SandboxConfig
from marketpipe.sandbox.counters import Counters, key_id
from marketpipe.sandbox.faults import HTML_TEMPLATES, Fault, FaultRegistry, drift, hostile, hostile_text
from marketpipe.sandbox.quota import UNLIMITED, QuotaDecision, QuotaLedger, QuotaWindow
from marketpipe.sandbox.world import World

JSON = "application/json"

ReplyFn = Callable[["Call"], Response]
QuotaReplyFn = Callable[["Call", QuotaDecision], Response]
HeadersFn = Callable[["Call", QuotaDecision], Mapping[str, str]]


def json_response(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response serialised with orjson (fast, and keeps key order)."""
    return Response(orjson.dumps(payload), status_code=status, media_type=JSON, headers=dict(headers or {}))


def _default_missing_key(call: Call) -> Response:
    return json_response({"error": "missing API key"}, 401)


def _default_invalid_key(call: Call) -> Response:
    return json_response({"error": "invalid API key"}, 401)


def _default_quota(call: Call, decision: QuotaDecision) -> Response:
    return json_response({"error": "rate limit exceeded"}, 429)


def _default_server_error(call: Call, status: int) -> Response:
    return Response(
        "Internal Server Error" if status == 500 else "Service Unavailable", status, media_type="text/plain"
    )


@dataclass
class ProviderSpec:
    """What a provider module declares so the core can mount and police it.

    ``name`` is the provider's name (its key in ``sandbox_prefixes()``); ``prefix`` is where it is
    mounted below the sandbox root (percent-encoded as in a URL); ``router`` holds its routes (paths as
    the real API has them below its base URL); ``websocket`` marks a ``ws://`` endpoint; ``quota`` is the published per-key limit; the ``*_reply`` hooks
    build the provider's real refusal bodies; ``quota_headers`` adds rate-limit headers to every reply;
    ``on_reset`` restores provider-specific switches (sandbox-only settings) when the admin resets the
    sandbox's policy; ``extra_routers`` are (mount prefix, router) pairs for real paths that live
    outside the provider's API prefix (Truth Social's ``/oauth/v2/token`` beside ``/api``).
    """

    name: str
    router: APIRouter
    prefix: str
    quota: tuple[QuotaWindow, ...] = ()
    requires_key: bool = True
    key_format: Callable[[str], bool] | None = None
    missing_key_reply: ReplyFn = _default_missing_key
    invalid_key_reply: ReplyFn = _default_invalid_key
    quota_reply: QuotaReplyFn = _default_quota
    server_error_reply: Callable[[Call, int], Response] = _default_server_error
    quota_headers: HeadersFn | None = None
    on_reset: Callable[[Sandbox], None] | None = None
    extra_routers: list[tuple[str, APIRouter]] = field(default_factory=list)
    description: str = ""
    websocket: bool = False

    @property
    def route_prefix(self) -> str:
        """The prefix as the server sees paths (percent-decoded, e.g. ``S&P`` in the Wikipedia path)."""
        return unquote(self.prefix)


@dataclass
class Call:
    """One request that passed (or was refused at) the gate."""

    sandbox: Sandbox
    spec: ProviderSpec
    request: HTTPConnection | None  # a Request, or a WebSocket at its handshake
    endpoint: str
    key: str | None
    key_id: str
    ts: float
    decision: QuotaDecision = UNLIMITED
    body_fault: Fault | None = None
    reply: Response | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Whether the gate counted this call as ``served`` (undone when the route refuses it later).
    served: bool = False

    @property
    def now(self) -> datetime:
        """Simulated time of this call."""
        return datetime.fromtimestamp(self.ts, UTC)

    @property
    def world(self) -> World:
        return self.sandbox.world

    def count(self, outcome: str) -> None:
        self.sandbox.counters.add(self.spec.name, self.key_id, self.endpoint, outcome)

    def _unserve(self) -> None:
        if self.served:
            self.sandbox.counters.add(self.spec.name, self.key_id, self.endpoint, "served", -1)
            self.served = False

    def refuse_auth(self, response: Response) -> Response:
        """Answer an auth refusal decided by the route itself (e.g. Alpha Vantage's demo key).

        The call then counts as ``auth_failed`` instead of ``served``.
        """
        self._unserve()
        self.count("auth_failed")
        return response

    def refuse_quota(self, response: Response) -> Response:
        """Answer a quota refusal decided after the gate (e.g. X's monthly post cap, counted in posts).

        The call then counts as ``refused_quota`` instead of ``served``.
        """
        self._unserve()
        self.count("refused_quota")
        return response

    def meter(self, windows: tuple[QuotaWindow, ...], scope: str = "") -> Response | None:
        """Charge this call to explicit ``windows`` (e.g. one endpoint's own); the refusal, or None.

        For providers whose windows differ per endpoint or key type: gate with ``count_quota=False``
        (or pass ``windows=`` to :func:`gate`), run any route-level checks, then meter. Sets
        ``decision`` and the provider's ``quota_headers``; a refusal uses its ``quota_reply``.
        """
        if not windows:
            return None
        decision = self.sandbox.quota.hit(self.spec.name, self.key_id, windows, self.ts, scope)
        self.decision = decision
        if self.spec.quota_headers is not None:
            self.headers.update(self.spec.quota_headers(self, decision))
        if decision.allowed:
            return None
        reply = self.spec.quota_reply(self, decision)
        reply.headers.update(self.headers)
        return self.refuse_quota(reply)

    def json(self, payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
        """Answer ``payload`` as JSON, applying a body fault (drift, truncation) if one is active."""
        fault = self.body_fault
        if fault is not None and fault.kind == "schema_drift":
            payload = drift(payload, fault.params)
        if fault is not None and fault.kind == "hostile":
            # orjson refuses lone surrogates; the stdlib escapes them (``"\ud800"``), as providers do.
            body = json.dumps(hostile(orjson.loads(orjson.dumps(payload)))).encode()
            return self._finish(body, status, JSON, headers)
        body = orjson.dumps(payload)
        return self._finish(body, status, JSON, headers)

    def text(
        self, body: str | bytes, media_type: str, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Response:
        """Answer a text body (CSV, HTML, XML), applying truncation if that fault is active."""
        raw = body.encode() if isinstance(body, str) else body
        return self._finish(raw, status, media_type, headers)

    def _finish(
        self, body: bytes, status: int, media_type: str, headers: Mapping[str, str] | None
    ) -> Response:
        fault = self.body_fault
        if fault is not None and fault.kind == "hostile" and media_type != JSON:
            body = hostile_text(body)
        if fault is not None and fault.kind == "truncated_json":
            fraction = float(fault.params.get("fraction", 0.5))
            body = body[: max(1, int(len(body) * fraction))] if len(body) > 1 else b""
        merged = {**self.headers, **(headers or {})}
        return Response(body, status_code=status, media_type=media_type, headers=merged)


class Sandbox:
    """All mutable state of one sandbox instance (one per app)."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.clock = SimClock(config.start_time, config.clock_rate)
        self.counters = Counters()
        self.quota = QuotaLedger()
        self.faults = FaultRegistry(config.seed)
        self.world = World(config.seed, self.clock)
        self.providers: dict[str, ProviderSpec] = {}
        self.quotas_enabled = config.quotas_enabled
        self.quota_overrides: dict[str, tuple[QuotaWindow, ...]] = {
            p: tuple(w) for p, w in config.quota_overrides.items()
        }
        self.disabled_quota_providers = set(config.disabled_quota_providers)
        self.valid_keys: dict[str, set[str]] = {p: set(k) for p, k in config.valid_keys.items()}
        self.revoked_keys: dict[str, set[str]] = {p: set(k) for p, k in config.revoked_keys.items()}

    # -- policy -----------------------------------------------------------------------------
    def windows(self, provider: str) -> tuple[QuotaWindow, ...]:
        """The quota windows in force for ``provider`` (empty when quotas are off)."""
        if not self.quotas_enabled or provider in self.disabled_quota_providers:
            return ()
        if provider in self.quota_overrides:
            return self.quota_overrides[provider]
        spec = self.providers.get(provider)
        return spec.quota if spec else ()

    def key_valid(self, spec: ProviderSpec, key: str) -> bool:
        """Whether ``key`` is accepted by ``spec`` (explicit list, else open mode; never if revoked)."""
        if key in self.revoked_keys.get(spec.name, ()):
            return False
        allowed = self.valid_keys.get(spec.name)
        if allowed is not None:
            return key in allowed
        if key.lower().startswith("invalid"):
            return False
        return spec.key_format(key) if spec.key_format else True

    def reset(
        self,
        *,
        counters: bool = True,
        quotas: bool = True,
        faults: bool = True,
        clock: bool = True,
        world: bool = True,
        keys: bool = True,
        policy: bool = True,
    ) -> None:
        """Return to the start-up state (each part can be kept)."""
        if counters:
            self.counters.reset()
        if quotas:
            self.quota.reset()
        if faults:
            self.faults.clear()
        if clock:
            self.clock.set(self.config.start_time or datetime.now(UTC), self.config.clock_rate)
        if world:
            self.world.reset()
        if keys:
            self.valid_keys = {p: set(k) for p, k in self.config.valid_keys.items()}
            self.revoked_keys = {p: set(k) for p, k in self.config.revoked_keys.items()}
        if policy:
            self.quotas_enabled = self.config.quotas_enabled
            self.quota_overrides = {p: tuple(w) for p, w in self.config.quota_overrides.items()}
            self.disabled_quota_providers = set(self.config.disabled_quota_providers)
            for spec in self.providers.values():
                if spec.on_reset is not None:
                    spec.on_reset(self)


def sandbox_of(request: HTTPConnection) -> Sandbox:
    """The :class:`Sandbox` serving ``request`` (an HTTP request or a WebSocket)."""
    return request.app.state.sandbox


def fault_response(call: Call, fault: Fault) -> Response | None:
    """The reply for a fault that replaces the whole response (None for body/latency faults)."""
    params = fault.params
    kind = fault.kind
    if kind == "server_error":
        status = int(params.get("status", 500))
        if "body" in params:
            return Response(str(params["body"]), status, media_type=params.get("content_type", "text/plain"))
        return call.spec.server_error_reply(call, status)
    if kind == "rate_limit":
        window = str(params.get("window", "burst"))
        retry = float(params.get("retry_after_s", 60))
        decision = QuotaDecision(False, window, int(params.get("limit", 0)), 0, call.ts + retry, 0)
        return call.spec.quota_reply(call, decision)
    if kind == "html_error":
        template = str(params.get("template", "bad_gateway"))
        status = int(params.get("status", 403 if template.startswith("cloudflare") else 502))
        return Response(HTML_TEMPLATES.get(template, template), status, media_type="text/html")
    if kind == "redirect":
        location = str(params.get("location", "http://elsewhere.invalid/collect"))
        return Response(b"", int(params.get("status", 302)), headers={"location": location})
    if kind == "empty_body":
        return Response(b"", int(params.get("status", 200)), media_type=params.get("content_type", JSON))
    if kind == "revoked_key":
        return call.spec.invalid_key_reply(call)
    if kind == "reply":
        body = params.get("body", "")
        raw = body.encode() if isinstance(body, str) else orjson.dumps(body)
        media = params.get("content_type", "text/plain" if isinstance(body, str) else JSON)
        return Response(raw, int(params.get("status", 200)), media_type=media, headers=params.get("headers"))
    return None


async def gate(
    request: HTTPConnection,
    provider: str,
    *,
    endpoint: str,
    key: str | None,
    scope: str = "",
    count_quota: bool = True,
    windows: tuple[QuotaWindow, ...] | None = None,
) -> Call:
    """Count, fault, authenticate and meter one call. Check ``call.reply`` first: if set, return it.

    ``endpoint`` labels the call in counters and is what fault route patterns match (with the
    sub-path); ``scope`` separates quota buckets within a key (X's per-endpoint windows);
    ``windows`` replaces the provider's windows for this call (still none when its quota is off).
    ``request`` may be a WebSocket at its handshake (counted, faulted and authenticated the same way).
    """
    sandbox = sandbox_of(request)
    spec = sandbox.providers[provider]
    kid = key_id(key)
    call = Call(sandbox, spec, request, endpoint, key, kid, sandbox.clock.timestamp())
    counters = sandbox.counters
    counters.add(provider, kid, endpoint, "calls")

    # The sub-path is only worked out when this provider has faults switched on (the common case is none).
    fault = (
        sandbox.faults.take(provider, endpoint, _sub_path(request, spec), kid)
        if sandbox.faults.active(provider)
        else None
    )
    if fault is not None:
        if fault.kind in ("truncated_json", "schema_drift", "hostile"):
            call.body_fault = fault
        elif fault.kind == "slow":
            # Simulated latency: the point of this fault is to outlast the client's timeout.
            await asyncio.sleep(float(fault.params.get("delay_s", 30.0)))
        else:
            counters.add(provider, kid, endpoint, "faulted")
            call.reply = fault_response(call, fault)
            return call
        counters.add(provider, kid, endpoint, "faulted")

    if spec.requires_key:
        if not key:
            counters.add(provider, kid, endpoint, "auth_failed")
            call.reply = spec.missing_key_reply(call)
            return call
        if not sandbox.key_valid(spec, key):
            counters.add(provider, kid, endpoint, "auth_failed")
            call.reply = spec.invalid_key_reply(call)
            return call

    if count_quota:
        in_force = sandbox.windows(provider)
        refusal = call.meter(in_force if windows is None else (windows if in_force else ()), scope)
        if refusal is not None:
            call.reply = refusal
            return call

    counters.add(provider, kid, endpoint, "served")
    call.served = True
    return call


def _sub_path(request: HTTPConnection, spec: ProviderSpec) -> str:
    """The request path below the provider's prefix (what a route pattern may also match)."""
    path: str = request.scope["path"]
    prefix = spec.route_prefix
    return path[len(prefix) :] if prefix and path.startswith(prefix) else path
