"""The sandbox FastAPI application: admin API plus every provider module, each under its prefix."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from fastapi import FastAPI

from marketpipe.sandbox import providers as providers_pkg
from marketpipe.sandbox.admin import router as admin_router
from marketpipe.sandbox.config import SandboxConfig
from marketpipe.sandbox.core import ProviderSpec, Sandbox
from marketpipe.sandbox.prefixes import ADMIN_PREFIX, sandbox_prefixes


def provider_specs(module: ModuleType) -> list[ProviderSpec]:
    """The specs a provider module declares (``PROVIDER`` and/or ``PROVIDERS``)."""
    specs: list[ProviderSpec] = []
    if isinstance(getattr(module, "PROVIDER", None), ProviderSpec):
        specs.append(module.PROVIDER)
    specs.extend(getattr(module, "PROVIDERS", ()))
    return specs


def discover_providers() -> list[ProviderSpec]:
    """Every provider module under ``marketpipe.sandbox.providers`` (auto-discovered, sorted)."""
    specs: list[ProviderSpec] = []
    for info in sorted(pkgutil.iter_modules(providers_pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{providers_pkg.__name__}.{info.name}")
        specs.extend(provider_specs(module))
    return specs


def create_app(config: SandboxConfig | None = None) -> FastAPI:
    """Build a sandbox app: one :class:`Sandbox` state, the admin routes, all providers."""
    config = config or SandboxConfig()
    app = FastAPI(
        title="marketpipe sandbox",
        docs_url=f"{ADMIN_PREFIX}/docs",
        openapi_url=f"{ADMIN_PREFIX}/openapi.json",
        redoc_url=None,
    )
    sandbox = Sandbox(config)
    app.state.sandbox = sandbox
    app.include_router(admin_router, prefix=ADMIN_PREFIX)
    sandbox_prefixes()  # refuses a provider declared twice or two providers on one prefix
    for spec in discover_providers():
        sandbox.providers[spec.name] = spec
        app.include_router(spec.router, prefix=spec.route_prefix)
        for mount, extra in spec.extra_routers:
            if not mount.startswith("/") or mount.startswith(ADMIN_PREFIX):
                raise ValueError(f"sandbox provider {spec.name!r}: bad extra mount prefix {mount!r}")
            app.include_router(extra, prefix=mount)
    return app
