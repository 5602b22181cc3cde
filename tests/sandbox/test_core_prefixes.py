"""The sandbox's own prefixes (each simulator's ``ProviderSpec.prefix``) and its import isolation.
(That they equal the provider catalogue's is tests/engine/test_catalogue.py.)"""

from __future__ import annotations

from marketpipe.config import Settings
from marketpipe.sandbox.prefixes import sandbox_prefixes


def test_settings_sandbox_base_url_points_into_the_sandbox_layout() -> None:
    settings = Settings(_env_file=None, sandbox=True, sandbox_port=9999)
    assert settings.base_url("alpha_vantage") == "http://127.0.0.1:9999" + sandbox_prefixes()["alpha_vantage"]
    assert settings.base_url("finnhub_ws").startswith("ws://127.0.0.1:9999/")


def test_sandbox_package_imports_nothing_outside_itself() -> None:
    import ast
    from pathlib import Path

    import marketpipe.sandbox as pkg

    root = Path(pkg.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {n}"
                for n in names
                if n.startswith("marketpipe") and not n.startswith("marketpipe.sandbox")
            ]
    assert offenders == []
