"""Small helpers shared by the news datasets."""

from __future__ import annotations

from typing import Any

from marketpipe.http.types import Reply


def json_or_none(reply: Reply) -> Any:
    """The reply's JSON, or None for an empty body (Finnhub answers 204 when nothing is new)."""
    return reply.json() if reply.text.strip() else None
