"""Fixtures of the deploy/ checks (the machinery is in deploykit.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from deploy.deploykit import DEPLOY, Doc, kustomize_build, overlays


@pytest.fixture(scope="session")
def built() -> dict[Path, list[Doc]]:
    """Every kustomization under deploy/, built once per session."""
    found = overlays()
    assert found, "no kustomization.yaml under deploy/"
    return {directory: kustomize_build(directory) for directory in found}


@pytest.fixture(scope="session")
def main_docs(built: dict[Path, list[Doc]]) -> list[Doc]:
    """The objects `kubectl apply -k deploy/k8s` creates."""
    return built[DEPLOY / "k8s"]


@pytest.fixture(scope="session")
def by_kind(main_docs: list[Doc]) -> Callable[[str], dict[str, Doc]]:
    def pick(kind: str) -> dict[str, Doc]:
        return {d["metadata"]["name"]: d for d in main_docs if d["kind"] == kind}

    return pick
