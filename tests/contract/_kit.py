"""Helpers for contract tests: a parse's :class:`Item`, a literal :class:`Reply`, a dataset's pipe."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from marketpipe.engine.registry import Item, Parsed, get_dataset
from marketpipe.http.types import ApiRequest, Reply
from marketpipe.providers.base import collecting_drops

DAY = date(2026, 11, 16)


def item(
    name: str = "all", provider: str = "", *, state: dict[str, Any] | None = None, **context: Any
) -> Item:
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    return Item(name, provider, DAY, start, start + timedelta(days=1), state or {}, context)


def parse(dataset: str, provider: str, body: str, it: Item) -> tuple[Parsed, list[tuple[str, Any]]]:
    """Run ``dataset``'s pure parse for ``provider`` on a literal body, decoded as the engine does."""
    pipe = get_dataset(dataset).pipeline[provider]
    decoded: Any = body
    if body.lstrip()[:1] in ("[", "{"):
        decoded = json.loads(body)
    elif not body.strip():
        decoded = None  # what the engine hands a parse for an empty JSON body (a 204)
    with collecting_drops() as drops:
        produced = pipe.parse(decoded, it)
    parsed = produced if isinstance(produced, Parsed) else Parsed(rows=list(produced))
    return parsed, drops


def reply(body: str, status: int = 200, content_type: str = "application/json") -> Reply:
    return Reply(status=status, headers={"content-type": content_type}, text=body)


def request(provider: str, expect: str = "json") -> ApiRequest:
    return ApiRequest(provider=provider, path="/x", expect=expect)  # type: ignore[arg-type]
