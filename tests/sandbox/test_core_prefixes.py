"""The sandbox's own prefix table must equal the one marketpipe uses to build sandbox base URLs."""

from __future__ import annotations

from marketpipe.config import SANDBOX_PREFIXES as CONFIG_PREFIXES
from marketpipe.config import Settings
from marketpipe.sandbox.prefixes import SANDBOX_PREFIXES


def test_sandbox_prefixes_equal_config_prefixes() -> None:
    assert SANDBOX_PREFIXES == CONFIG_PREFIXES


def test_settings_sandbox_base_url_points_into_the_sandbox_layout() -> None:
    settings = Settings(_env_file=None, sandbox=True, sandbox_port=9999)
    assert settings.base_url("alpha_vantage") == "http://127.0.0.1:9999" + SANDBOX_PREFIXES["alpha_vantage"]
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
