"""Where each simulated provider lives under the sandbox root URL.

Each simulator declares its own prefix (``ProviderSpec.prefix`` in ``sandbox/providers/<name>.py``);
this module collects them. The sandbox imports nothing from marketpipe outside ``marketpipe.sandbox``
(it must encode the real APIs independently of our parsers), so it does not read the provider
catalogue: tests/engine/test_catalogue.py checks that this table equals the catalogue's
(``marketpipe.config.SANDBOX_PREFIXES``), so both sides agree on the URL layout.
"""

from __future__ import annotations

from functools import cache

#: Root of the admin API (never a provider prefix).
ADMIN_PREFIX = "/_admin"


@cache
def sandbox_prefixes() -> dict[str, str]:
    """Provider name → its prefix (percent-encoded, as in a URL), from the simulators' declarations."""
    from marketpipe.sandbox.app import discover_providers

    prefixes: dict[str, str] = {}
    for spec in discover_providers():
        if spec.name in prefixes:
            raise ValueError(f"sandbox provider {spec.name!r} registered twice")
        if not spec.prefix.startswith("/") or spec.prefix.startswith(ADMIN_PREFIX):
            raise ValueError(f"sandbox provider {spec.name!r}: bad prefix {spec.prefix!r}")
        if spec.prefix in prefixes.values():
            raise ValueError(f"sandbox provider {spec.name!r}: prefix {spec.prefix!r} already taken")
        prefixes[spec.name] = spec.prefix
    return prefixes


@cache
def websocket_providers() -> frozenset[str]:
    """Simulated providers reached with ``ws://``."""
    from marketpipe.sandbox.app import discover_providers

    return frozenset(spec.name for spec in discover_providers() if spec.websocket)
