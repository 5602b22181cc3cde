"""Value types shared by the HTTP layer, the provider modules and the engine.

A request is data (:class:`ApiRequest`); a reply is data (:class:`Reply`); a provider's verdict on a
reply is data (:class:`Outcome`). Nothing here performs I/O, so provider parsers and classifiers can
be tested on literal examples.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from typing import Any, Literal

from marketpipe.redaction import redact

SECOND = 1
MINUTE = 60
HOUR = 3600
DAY = 86400


@dataclass(frozen=True)
class ApiRequest:
    """One call to a provider, before authentication is added.

    ``path`` is appended to the provider's base URL. ``scope`` selects the quota windows that apply
    to this endpoint (e.g. X counts user timelines and user lookups separately); empty = all windows
    without a scope.
    """

    provider: str
    path: str = ""
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    expect: Literal["json", "csv", "html", "text"] = "json"
    scope: str = ""
    label: str = ""

    def describe(self) -> str:
        """A log-safe description (never contains a key: keys are added only when sending)."""
        return self.label or f"{self.provider} {self.path}"


@dataclass(frozen=True)
class Reply:
    """What came back: status, headers (lower-case names), decoded body text."""

    status: int
    headers: Mapping[str, str]
    text: str
    url: str = ""  # redacted
    elapsed_s: float = 0.0

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def excerpt(self, limit: int = 300) -> str:
        """The start of the body for an error message: redacted *first*, then cut — cutting first
        could leave the first part of a key the body echoes (the cut would split it, so the known
        value no longer matches). The margin covers any key straddling the cut."""
        return redact(self.text[: limit + 512])[:limit]

    def json(self) -> Any:
        """The body as JSON (raises ``ValueError`` on a non-JSON body). Decoded once per reply: the
        engine's drift check and the dataset's parser share the result (treat it as read-only)."""
        return self._decoded

    @cached_property
    def _decoded(self) -> Any:
        return json.loads(self.text)


class OutcomeKind(StrEnum):
    """How a reply is classified, per provider (issue: ok / quota-exhausted / invalid-key / ...)."""

    OK = "ok"
    QUOTA = "quota_exhausted"  # this key is spent until its window resets
    THROTTLED = "throttled"  # too fast: retry after a short wait with the same key
    INVALID_KEY = "invalid_key"
    NOT_FOUND = "not_found"
    TRANSIENT = "transient"
    MALFORMED = "malformed"
    REFUSED = "refused"  # the plan does not include this endpoint/symbol (402/403): not retryable


@dataclass(frozen=True)
class Outcome:
    """A provider's verdict on one reply."""

    kind: OutcomeKind
    message: str = ""
    retry_after_s: float | None = None  # from Retry-After or the provider's text
    reset_at: datetime | None = None  # absolute reset (e.g. X ``x-rate-limit-reset``)

    @property
    def ok(self) -> bool:
        return self.kind is OutcomeKind.OK


OK = Outcome(OutcomeKind.OK)


@dataclass(frozen=True)
class QuotaWindow:
    """A published limit: ``limit`` calls per key per fixed window.

    Windows are aligned: ``seconds`` windows on the Unix epoch (plus ``offset_s``), ``month`` windows
    on the first of the month (UTC). ``scope`` restricts the window to requests with that scope.
    """

    name: str
    limit: int
    seconds: int | None = None
    calendar: Literal["month"] | None = None
    offset_s: int = 0
    scope: str = ""

    def bounds(self, now: datetime) -> tuple[datetime, datetime]:
        """(start, end) of the window that contains ``now``."""
        ts = now.timestamp()
        if self.calendar == "month":
            moment = datetime.fromtimestamp(ts - self.offset_s, UTC)
            start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
            year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
            end = datetime(year, month, 1, tzinfo=UTC)
            return (
                datetime.fromtimestamp(start.timestamp() + self.offset_s, UTC),
                datetime.fromtimestamp(end.timestamp() + self.offset_s, UTC),
            )
        length = self.seconds or DAY
        index = int((ts - self.offset_s) // length)
        start_ts = index * length + self.offset_s
        return datetime.fromtimestamp(start_ts, UTC), datetime.fromtimestamp(start_ts + length, UTC)

    def applies_to(self, scope: str) -> bool:
        return not self.scope or self.scope == scope


def per_second(limit: int, name: str = "second", scope: str = "") -> QuotaWindow:
    return QuotaWindow(name=name, limit=limit, seconds=SECOND, scope=scope)


def per_minute(limit: int, name: str = "minute", scope: str = "") -> QuotaWindow:
    return QuotaWindow(name=name, limit=limit, seconds=MINUTE, scope=scope)


def per_minutes(minutes: int, limit: int, name: str | None = None, scope: str = "") -> QuotaWindow:
    return QuotaWindow(name=name or f"{minutes}min", limit=limit, seconds=minutes * MINUTE, scope=scope)


def per_hours(hours: int, limit: int, name: str | None = None, scope: str = "") -> QuotaWindow:
    return QuotaWindow(name=name or f"{hours}h", limit=limit, seconds=hours * HOUR, scope=scope)


def per_day(limit: int, name: str = "day", scope: str = "") -> QuotaWindow:
    return QuotaWindow(name=name, limit=limit, seconds=DAY, scope=scope)


def per_month(limit: int, name: str = "month", scope: str = "") -> QuotaWindow:
    return QuotaWindow(name=name, limit=limit, calendar="month", scope=scope)
