"""The provider catalogue is the single source: settings, pools, base URLs and sandbox routes derive from
it, and nothing else in the tree lists providers."""

from __future__ import annotations

import json
import re
from pathlib import Path

from marketpipe import config
from marketpipe.config import Settings
from marketpipe.orchestration.plan import pool_name, pool_providers, pool_slots
from marketpipe.providers import get_provider
from marketpipe.providers.base import Provider
from marketpipe.providers.catalogue import catalogue, key_settings, provider_names
from marketpipe.sandbox.prefixes import sandbox_prefixes, websocket_providers

ROOT = Path(__file__).resolve().parents[2]


def test_every_provider_module_is_in_the_catalogue_in_listing_order() -> None:
    names = provider_names()
    assert set(names) >= {"alpha_vantage", "finnhub", "fred", "bithumb", "coingecko", "sp500_list"}
    assert [p.listing_order for p in catalogue()] == sorted(p.listing_order for p in catalogue())
    assert names == config.PROVIDERS
    for spec in catalogue():
        assert isinstance(spec, Provider) and get_provider(spec.name) is spec


def test_every_keyed_provider_has_a_settings_field_read_from_its_documented_env_var(
    monkeypatch, tmp_path
) -> None:
    keyed = [p for p in catalogue() if p.needs_key]
    assert keyed and all(p.key_setting in Settings.model_fields for p in keyed)
    assert not [f for f in Settings.model_fields if f.endswith("_keys") and f not in key_settings().values()]
    for spec in keyed:
        monkeypatch.setenv(f"MARKETPIPE_{spec.name.upper()}_KEYS", f"{spec.name}-1, {spec.name}-2,")
    settings = Settings(_env_file=None)
    for spec in keyed:
        assert [k.get_secret_value() for k in settings.keys(spec.name)] == [
            f"{spec.name}-1",
            f"{spec.name}-2",
        ]
    # ... and from a .env file, as README documents.
    for spec in keyed:
        monkeypatch.delenv(f"MARKETPIPE_{spec.name.upper()}_KEYS")
    env = tmp_path / ".env"
    env.write_text("".join(f"MARKETPIPE_{p.name.upper()}_KEYS=k{i}\n" for i, p in enumerate(keyed)))
    from_file = Settings(_env_file=env)
    assert [from_file.keys(p.name)[0].get_secret_value() for p in keyed] == [
        f"k{i}" for i in range(len(keyed))
    ]
    assert "k0" not in repr(from_file)
    for spec in catalogue():
        if not spec.needs_key:
            assert spec.key_setting is None and settings.keys(spec.name) == []


def test_base_urls_and_sandbox_prefixes_come_from_the_providers() -> None:
    real = Settings(_env_file=None)
    sandboxed = Settings(_env_file=None, sandbox=True, sandbox_port=9999)
    for spec in catalogue():
        for site in spec.sites:
            assert real.base_url(site.key) == config.REAL_BASE_URLS[site.key] == site.base_url
            scheme = "ws" if site.base_url.startswith("wss://") else "http"
            assert sandboxed.base_url(site.key) == f"{scheme}://127.0.0.1:9999{site.sandbox_prefix}"
    assert set(config.SANDBOX_PREFIXES) == set(config.REAL_BASE_URLS)


def test_every_catalogue_site_has_a_sandbox_route_at_the_same_prefix() -> None:
    # The sandbox keeps its own declarations (it imports nothing outside marketpipe.sandbox): they
    # must equal the catalogue's, both ways, and agree on which endpoints are WebSockets.
    assert sandbox_prefixes() == config.SANDBOX_PREFIXES
    assert websocket_providers() == {
        s.key for p in catalogue() for s in p.sites if s.base_url.startswith("wss://")
    }


def test_every_provider_has_a_pool_and_the_pools_file_is_generated_from_the_catalogue() -> None:
    assert pool_providers() == sorted(provider_names())
    committed = json.loads((ROOT / "deploy" / "airflow" / "pools.json").read_text())
    assert committed == {
        pool_name(p.name): {
            "slots": p.pool_slots,
            "description": f"marketpipe: concurrent tasks against {p.name}",
            "include_deferred": False,
        }
        for p in catalogue()
    }
    assert all(pool_slots(p.name) == p.pool_slots >= 1 for p in catalogue())


def test_no_other_module_lists_the_providers() -> None:
    # A second hand-written table of providers (a dict or tuple naming three or more of them) outside
    # the providers' own modules and the sandbox's simulators is what the catalogue replaced.
    names = provider_names()
    quoted = re.compile(r'"(' + "|".join(map(re.escape, names)) + r')"\s*[:,]')
    offenders = []
    for path in [*(ROOT / "src" / "marketpipe").rglob("*.py"), *(ROOT / "dags").rglob("*.py")]:
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(("src/marketpipe/providers/", "src/marketpipe/sandbox/")):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if len(set(quoted.findall(line))) >= 3:
                offenders.append(f"{rel}:{number}")
        hits = {
            m.group(1) for m in re.finditer(r'^\s*"(\w+)":', path.read_text(), re.M) if m.group(1) in names
        }
        if len(hits) >= 3:
            offenders.append(f"{rel}: a table keyed by {sorted(hits)}")
    assert offenders == []


_ADD_ACME = r"""
import json, sys
from pathlib import Path

import marketpipe.providers
import marketpipe.sandbox.providers

extra = Path(sys.argv[1])
# The two new files, as if they were dropped into src/marketpipe/providers/ and sandbox/providers/.
marketpipe.providers.__path__.append(str(extra / "providers"))
marketpipe.sandbox.providers.__path__.append(str(extra / "sandbox"))

from marketpipe import config
from marketpipe.ops.check import run_check
from marketpipe.orchestration.local import pools_import_json
from marketpipe.orchestration.plan import pool_name, pool_slots
from marketpipe.providers import get_provider
from marketpipe.sandbox.config import SandboxConfig
from marketpipe.sandbox.prefixes import sandbox_prefixes
from marketpipe.sandbox.server import ThreadedSandbox

server = ThreadedSandbox(SandboxConfig(seed=1))
host, port = server.start().removeprefix("http://").rsplit(":", 1)
try:
    def check(keys):
        settings = config.Settings(
            _env_file=None, sandbox=True, sandbox_host=host, sandbox_port=int(port), acme_keys=keys
        )
        return [(r.verdict.value, r.detail) for r in run_check(settings, providers=["acme"])]

    print(json.dumps({
        "providers": list(config.PROVIDERS),
        "base_url": config.REAL_BASE_URLS.get("acme"),
        "prefix": config.SANDBOX_PREFIXES.get("acme"),
        "simulator_prefix": sandbox_prefixes().get("acme"),
        "settings_field": "acme_keys" in config.Settings.model_fields,
        "pool": [pool_name("acme"), pool_slots("acme")],
        "pools_file": json.loads(pools_import_json(config.PROVIDERS)).get(pool_name("acme")),
        "auth": get_provider("acme").auth.query_param,
        "check_good": check("acme-1"),
        "check_bad": check("wrong"),
    }))
finally:
    server.stop()
"""


def test_adding_a_provider_is_adding_its_module_and_its_simulator(tmp_path: Path) -> None:
    # tests/engine/acme_provider/ holds a whole new provider: providers/acme.py (catalogue entry +
    # probe) and sandbox/acme.py (its simulator). Placed on the two packages' search paths and
    # nothing else edited, it appears in the settings, base URLs, prefixes and Airflow pools, and
    # `marketpipe check` reaches its simulator over a real socket with its key in its auth place.
    import subprocess
    import sys

    extra = Path(__file__).parent / "acme_provider"
    done = subprocess.run(
        [sys.executable, "-c", _ADD_ACME, str(extra)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["providers"][-1] == "acme" and seen["providers"][:-1] == list(provider_names())
    assert seen["base_url"] == "https://api.acme.example/v1"
    assert seen["prefix"] == seen["simulator_prefix"] == "/acme/v1"
    assert seen["settings_field"] is True
    assert seen["pool"] == ["marketpipe_acme", 3]
    assert seen["pools_file"]["slots"] == 3
    assert seen["auth"] == "token"
    assert seen["check_good"] == [["ok", "quotes: 2 parsed"]]
    assert [verdict for verdict, _ in seen["check_bad"]] == ["invalid key"]
    assert "wrong" not in json.dumps(seen["check_bad"])  # the key never reaches the report
