"""Helpers for the seed-backend contract tests (imported as ``plugins._contractkit``; not a fixture module)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marketpipe.config import Settings

#: The in-repo copy of the seed backend's ORM facts (table → column → SQLAlchemy type).
CONTRACT = Path(__file__).resolve().parents[1] / "contract_data" / "seed-backend-models.md"


@dataclass(frozen=True)
class Filled:
    """A database and Redis filled by a sandbox collection and a short stream."""

    dsn: str
    redis_url: str
    settings: Settings
    results: dict[str, Any]


def parse_contract(text: str) -> dict[str, dict[str, str]]:
    """``{table: {column: SQLAlchemy type}}`` from the contract's ``## table`` sections and tables."""
    tables: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        if line.startswith("## "):
            current = tables.setdefault(line[3:].strip(), {})
        elif current is not None and line.startswith("|") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 2 and cells != ["column", "type"]:
                current[cells[0]] = cells[1]
    return tables
