"""The provider catalogue: the one place marketpipe learns which external APIs exist.

Every module or package directly under ``marketpipe.providers`` that defines ``PROVIDER`` (a
:class:`~marketpipe.providers.base.Provider`) and ``PROBE`` (its cheapest call, for ``marketpipe
check``) is a catalogue entry; modules without one (``base``,
``records``, ``daily_bars``, this one) are helpers. Nothing else lists providers: the settings' key
fields (``MARKETPIPE_<NAME>_KEYS``), the real base URLs and sandbox prefixes of ``marketpipe.config``,
the Airflow pools of ``orchestration/plan.py`` (and the checked-in ``deploy/airflow/pools.json``
generated from them), the probes of ``marketpipe check`` and :func:`marketpipe.providers.get_provider`
all derive from :func:`catalogue`.
Adding a provider is adding its module (plus its simulator under ``sandbox/providers/`` and tests).

The sandbox does not import this (it imports nothing outside ``marketpipe.sandbox``, so it encodes the
real APIs independently of our parsers); each simulator declares its own prefix and
tests/engine/test_catalogue.py checks both sides agree.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType

from marketpipe.providers.base import Probe, Provider


@cache
def _modules() -> dict[str, ModuleType]:
    """Provider name → the module or package declaring it, in listing order."""
    import marketpipe.providers as package

    found: list[tuple[Provider, ModuleType]] = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_") or info.name == "catalogue":
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        spec = getattr(module, "PROVIDER", None)
        if isinstance(spec, Provider):
            found.append((spec, module))
    found.sort(key=lambda item: (item[0].listing_order, item[0].name))
    _check([spec for spec, _ in found])
    return {spec.name: module for spec, module in found}


def catalogue() -> tuple[Provider, ...]:
    """Every provider, in listing order (the modules are imported once)."""
    return tuple(module.PROVIDER for module in _modules().values())


def probe(name: str) -> Probe:
    """The ``PROBE`` (cheapest call, for ``marketpipe check``) that provider ``name`` declares."""
    found: Probe = _modules()[name].PROBE
    return found


def _check(providers: list[Provider]) -> None:
    names = [site.key for p in providers for site in p.sites]
    if len(names) != len(set(names)):
        raise RuntimeError(f"provider catalogue: a name or base URL key is declared twice: {sorted(names)}")
    prefixes = [site.sandbox_prefix for p in providers for site in p.sites]
    if len(prefixes) != len(set(prefixes)) or not all(x.startswith("/") for x in prefixes):
        raise RuntimeError(f"provider catalogue: sandbox prefixes must be unique paths: {prefixes}")


def provider_names() -> tuple[str, ...]:
    """The providers' names, in listing order."""
    return tuple(p.name for p in catalogue())


def by_name() -> dict[str, Provider]:
    """Name → provider."""
    return {p.name: p for p in catalogue()}


def real_base_urls() -> dict[str, str]:
    """Base URL key → the real API's base URL (every site of every provider)."""
    return {site.key: site.base_url for p in catalogue() for site in p.sites}


def sandbox_prefixes() -> dict[str, str]:
    """Base URL key → where the sandbox mirrors it."""
    return {site.key: site.sandbox_prefix for p in catalogue() for site in p.sites}


def key_settings() -> dict[str, str]:
    """Provider → its ``Settings`` key-pool field, for the providers that take keys."""
    return {p.name: p.key_setting for p in catalogue() if p.key_setting is not None}


__all__ = [
    "by_name",
    "catalogue",
    "key_settings",
    "probe",
    "provider_names",
    "real_base_urls",
    "sandbox_prefixes",
]
