"""Admin API under ``/_admin``: health, clock, faults, counters, quotas, keys, world, reset.

Tests and benchmarks drive the sandbox through these routes (see ``admin_client.AdminClient``).
Keys are never echoed: counters and faults name a key by its ``key_id`` (a short hash).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from marketpipe.sandbox.counters import key_id
from marketpipe.sandbox.faults import FaultSpec
from marketpipe.sandbox.quota import QuotaWindow
from marketpipe.sandbox.world import Company

router = APIRouter(tags=["admin"])


def _sandbox(request: Request) -> Any:
    return request.app.state.sandbox


class AdvanceBody(BaseModel):
    seconds: float = 0.0
    minutes: float = 0.0
    hours: float = 0.0
    days: float = 0.0


class SetClockBody(BaseModel):
    now: datetime | None = Field(default=None, description="New simulated now (naive = UTC).")
    rate: float | None = Field(default=None, ge=0.0, description="Simulated seconds per real second.")


class ResetBody(BaseModel):
    counters: bool = True
    quotas: bool = True
    faults: bool = True
    clock: bool = True
    world: bool = True
    keys: bool = True
    policy: bool = True


class QuotaSwitchBody(BaseModel):
    enabled: bool


class ProviderQuotaBody(BaseModel):
    enabled: bool | None = None
    windows: list[QuotaWindow] | None = Field(default=None, description="Replace the windows.")
    default: bool = Field(default=False, description="Drop an override: back to the published windows.")


class KeysBody(BaseModel):
    valid: list[str] | None = Field(
        default=None, description="Only these keys are accepted; null = open mode."
    )
    revoked: list[str] = Field(default_factory=list, description="Keys answered as invalid/revoked.")


class CompanyBody(BaseModel):
    symbol: str
    name: str
    sector: str = ""
    sub_industry: str = ""
    headquarters: str = ""
    date_added: str = ""
    cik: str = ""
    founded: str = ""


class MembershipBody(BaseModel):
    add: CompanyBody | None = None
    remove: str | None = None
    day: date | None = None


def _clock_state(request: Request) -> dict[str, Any]:
    return _sandbox(request).clock.snapshot()


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    """Liveness plus what this instance serves."""
    sandbox = _sandbox(request)
    return {
        "status": "ok",
        "seed": sandbox.config.seed,
        "now": _clock_state(request)["now"],
        "providers": sorted(sandbox.providers),
    }


@router.get("/clock")
async def get_clock(request: Request) -> dict[str, Any]:
    return _clock_state(request)


@router.post("/clock/advance")
async def advance_clock(body: AdvanceBody, request: Request) -> dict[str, Any]:
    delta = timedelta(seconds=body.seconds, minutes=body.minutes, hours=body.hours, days=body.days)
    _sandbox(request).clock.advance(delta.total_seconds())
    return _clock_state(request)


@router.post("/clock/set")
async def set_clock(body: SetClockBody, request: Request) -> dict[str, Any]:
    when = body.now
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    _sandbox(request).clock.set(when, body.rate)
    return _clock_state(request)


@router.get("/faults")
async def list_faults(request: Request, provider: str | None = None) -> list[dict[str, Any]]:
    return [f.model_dump() for f in _sandbox(request).faults.list(provider)]


@router.post("/faults", status_code=201)
async def add_fault(spec: FaultSpec, request: Request) -> dict[str, Any]:
    sandbox = _sandbox(request)
    if spec.provider not in sandbox.providers:
        raise HTTPException(404, f"unknown provider {spec.provider!r}")
    fault = sandbox.faults.add(spec, key_id(spec.key) if spec.key else None)
    return fault.model_dump()


@router.delete("/faults")
async def clear_faults(request: Request, provider: str | None = None) -> dict[str, int]:
    return {"removed": _sandbox(request).faults.clear(provider)}


@router.delete("/faults/{fault_id}")
async def remove_fault(fault_id: int, request: Request) -> dict[str, int]:
    if not _sandbox(request).faults.remove(fault_id):
        raise HTTPException(404, f"no fault {fault_id}")
    return {"removed": 1}


@router.get("/counters")
async def counters(
    request: Request, provider: str | None = None, key_id: str | None = None, endpoint: str | None = None
) -> dict[str, Any]:
    """Calls per (provider, key id, endpoint): calls, served, refused_quota, auth_failed, faulted."""
    store = _sandbox(request).counters
    rows = store.rows(provider, key_id, endpoint)
    return {"rows": rows, "totals": store.totals(rows)}


@router.post("/reset")
async def reset(request: Request, body: ResetBody | None = None) -> dict[str, Any]:
    parts = body or ResetBody()
    _sandbox(request).reset(**parts.model_dump())
    return {"reset": [name for name, on in parts.model_dump().items() if on], **_clock_state(request)}


@router.get("/quotas")
async def get_quotas(request: Request) -> dict[str, Any]:
    sandbox = _sandbox(request)
    return {
        "enabled": sandbox.quotas_enabled,
        "providers": {
            name: {
                "enabled": name not in sandbox.disabled_quota_providers,
                "overridden": name in sandbox.quota_overrides,
                "windows": [w.model_dump() for w in sandbox.quota_overrides.get(name, spec.quota)],
            }
            for name, spec in sorted(sandbox.providers.items())
        },
        "usage": sandbox.quota.usage(),
    }


@router.post("/quotas")
async def switch_quotas(body: QuotaSwitchBody, request: Request) -> dict[str, Any]:
    """Switch every quota on or off (off for benchmarks)."""
    _sandbox(request).quotas_enabled = body.enabled
    return await get_quotas(request)


@router.post("/quotas/{provider}")
async def provider_quota(provider: str, body: ProviderQuotaBody, request: Request) -> dict[str, Any]:
    """Switch one provider's quota on/off, replace its windows, or restore the published ones."""
    sandbox = _sandbox(request)
    if provider not in sandbox.providers:
        raise HTTPException(404, f"unknown provider {provider!r}")
    if body.enabled is not None:
        if body.enabled:
            sandbox.disabled_quota_providers.discard(provider)
        else:
            sandbox.disabled_quota_providers.add(provider)
    if body.default:
        sandbox.quota_overrides.pop(provider, None)
    if body.windows is not None:
        sandbox.quota_overrides[provider] = tuple(body.windows)
    return await get_quotas(request)


@router.post("/keys/{provider}")
async def set_keys(provider: str, body: KeysBody, request: Request) -> dict[str, Any]:
    """Decide which keys a provider accepts, and which are revoked (answered as invalid)."""
    sandbox = _sandbox(request)
    if provider not in sandbox.providers:
        raise HTTPException(404, f"unknown provider {provider!r}")
    if body.valid is None:
        sandbox.valid_keys.pop(provider, None)
    else:
        sandbox.valid_keys[provider] = set(body.valid)
    sandbox.revoked_keys[provider] = set(body.revoked)
    return {
        "provider": provider,
        "valid": None if body.valid is None else sorted(key_id(k) for k in body.valid),
        "revoked": sorted(key_id(k) for k in body.revoked),
    }


@router.get("/world/constituents")
async def constituents(request: Request, day: date | None = None) -> dict[str, Any]:
    world = _sandbox(request).world
    members = world.constituents(day)
    return {
        "day": (day or world.today()).isoformat(),
        "count": len(members),
        "symbols": [c.symbol for c in members],
    }


@router.get("/world/membership")
async def membership_changes(request: Request, until: date | None = None) -> list[dict[str, Any]]:
    return [
        {"day": c.day.isoformat(), "action": c.action, "symbol": c.company.symbol, "reason": c.reason}
        for c in _sandbox(request).world.membership_changes(until)
    ]


@router.post("/world/membership")
async def change_membership(body: MembershipBody, request: Request) -> list[dict[str, Any]]:
    """Add a company to and/or remove a symbol from the simulated index (from ``day``, default today)."""
    company = Company(**body.add.model_dump()) if body.add else None
    made = _sandbox(request).world.change_membership(add=company, remove=body.remove, day=body.day)
    return [{"day": c.day.isoformat(), "action": c.action, "symbol": c.company.symbol} for c in made]


@router.get("/world/quote/{symbol}")
async def world_quote(symbol: str, request: Request) -> dict[str, Any]:
    """The world's price snapshot for ``symbol`` now (what every provider reports)."""
    q = _sandbox(request).world.quote(symbol.upper())
    return {
        "symbol": q.symbol,
        "price": q.price,
        "open": q.open,
        "high": q.high,
        "low": q.low,
        "prev_close": q.prev_close,
        "volume": q.volume,
        "ts": q.ts,
    }
