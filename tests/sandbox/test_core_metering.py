"""Exact counters when a route meters or refuses after the gate (explicit windows, refuse_*).

A call refused by a route-level check or by a window the route charges itself counts as
``auth_failed`` / ``refused_quota``, never also as ``served``.
"""

from __future__ import annotations

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.testclient import TestClient

from marketpipe.sandbox.config import SandboxConfig
from marketpipe.sandbox.core import ProviderSpec, Sandbox, gate, json_response
from marketpipe.sandbox.quota import QuotaDecision, per_minute

ELON = "44196397"


def _x(sandbox) -> httpx.Client:
    return httpx.Client(
        base_url=sandbox.base_url("x"), headers={"Authorization": "Bearer x-metering"}, timeout=10
    )


def test_a_refused_x_timeline_call_counts_as_refused_not_served(sandbox) -> None:
    sandbox.admin.freeze()
    with _x(sandbox) as x:
        assert x.get(f"/users/{ELON}/tweets").status_code == 200
        refused = x.get(f"/users/{ELON}/tweets")  # Free tier: one timeline call per 15 minutes
    assert refused.status_code == 429 and refused.headers["x-rate-limit-remaining"] == "0"
    totals = sandbox.admin.counters("x", endpoint="users_tweets")["totals"]
    assert (totals["calls"], totals["served"], totals["refused_quota"]) == (2, 1, 1)


def test_a_route_level_auth_refusal_counts_as_auth_failed_not_served(sandbox) -> None:
    with httpx.Client(
        base_url=sandbox.base_url("x"), headers={"Authorization": "Bearer unenrolled-app"}, timeout=10
    ) as x:
        assert x.get("/users/by/username/elonmusk").status_code == 403
    totals = sandbox.admin.counters("x")["totals"]
    assert (totals["calls"], totals["served"], totals["auth_failed"]) == (1, 0, 1)


def _app_with_explicit_windows() -> tuple[FastAPI, Sandbox]:
    """A one-route app whose route passes its own windows to the gate."""
    router = APIRouter()
    spec = ProviderSpec(
        name="fred",
        router=router,
        prefix="/fred/fred",
        quota=(per_minute(100),),
        quota_reply=lambda call, decision: json_response({"refused": decision.window}, 429),
        quota_headers=lambda call, decision: {"x-left": str(decision.remaining)},
    )

    @router.get("/tight")
    async def tight(request: Request) -> Response:
        call = await gate(request, "fred", endpoint="tight", key="k", windows=(per_minute(2, name="tight"),))
        return call.reply or call.json({"ok": True})

    sandbox = Sandbox(SandboxConfig(clock_rate=0))
    sandbox.providers["fred"] = spec
    app = FastAPI()
    app.state.sandbox = sandbox
    app.include_router(router)
    return app, sandbox


def test_gate_with_explicit_windows_meters_against_them_only() -> None:
    app, sandbox = _app_with_explicit_windows()
    client = TestClient(app)
    replies = [client.get("/tight") for _ in range(3)]
    assert [r.status_code for r in replies] == [200, 200, 429]
    assert replies[1].headers["x-left"] == "0" and replies[2].json() == {"refused": "tight"}
    row = sandbox.counters.rows("fred")[0]
    assert (row["calls"], row["served"], row["refused_quota"]) == (3, 2, 1)
    # Quotas off for the provider: explicit windows are off too.
    sandbox.disabled_quota_providers.add("fred")
    assert client.get("/tight").status_code == 200


def test_quota_decision_type_is_what_quota_replies_receive() -> None:
    app, sandbox = _app_with_explicit_windows()
    seen: list[QuotaDecision] = []
    spec = sandbox.providers["fred"]
    original = spec.quota_reply

    def spy(call, decision: QuotaDecision) -> Response:
        seen.append(decision)
        return original(call, decision)

    spec.quota_reply = spy
    client = TestClient(app)
    for _ in range(3):
        client.get("/tight")
    assert len(seen) == 1 and not seen[0].allowed and seen[0].limit == 2
