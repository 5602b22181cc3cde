"""What every provider module declares, and the small pure helpers their parsers share.

A provider module is data plus pure functions: where it lives (``base_url_key`` for
``Settings.base_url``), where the key goes (:class:`Auth`), its published quota windows per key, its
timeout, how to classify a reply, and parse functions from a reply body to records. No I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

from marketpipe.http.client import Auth
from marketpipe.http.errors import MalformedResponse
from marketpipe.http.types import ApiRequest, Outcome, OutcomeKind, QuotaWindow, Reply

Classifier = Callable[[ApiRequest, Reply], Outcome]


@dataclass(frozen=True)
class Probe:
    """The cheapest call of one provider and the parser the collection applies to its reply (what
    ``marketpipe check`` sends: one call, ``request(now)``, whose reply ``parse`` must accept)."""

    describe: str
    request: Callable[[datetime], ApiRequest]
    parse: Callable[[Reply], Any]
    #: The reply always carries records: parsing none of them means fields moved (drift).
    expect_rows: bool = True


@dataclass(frozen=True)
class Site:
    """One more base URL of a provider (e.g. Finnhub's WebSocket beside its REST API): the key for
    ``Settings.base_url``, the real URL, and where the sandbox mirrors it."""

    key: str
    base_url: str
    sandbox_prefix: str


@dataclass(frozen=True)
class Provider:
    """The static facts of one external API — its entry in the provider catalogue
    (:mod:`marketpipe.providers.catalogue`), from which settings, pools and prefixes derive."""

    name: str
    #: The real API's base URL (docs/providers.md §0).
    base_url: str
    #: Where the sandbox mirrors the real path layout (below its root URL).
    sandbox_prefix: str
    auth: Auth
    windows: tuple[QuotaWindow, ...]
    classify: Classifier
    #: Position in listings (``marketpipe check``, key masking): the order of the provider spec.
    listing_order: int
    timeout_s: float = 20.0
    #: A provider that needs no key still gets one ledger identity, so its windows hold.
    needs_key: bool = True
    #: Slots of its Airflow pool (tasks against it at the same time; quotas are the ledger's job).
    pool_slots: int = 1
    extra_sites: tuple[Site, ...] = ()

    @property
    def base_url_key(self) -> str:
        """The key for ``Settings.base_url`` (the provider's name)."""
        return self.name

    @property
    def sites(self) -> tuple[Site, ...]:
        """Every base URL of the provider, its main one first."""
        return (Site(self.name, self.base_url, self.sandbox_prefix), *self.extra_sites)

    @property
    def key_setting(self) -> str | None:
        """The ``Settings`` field of its key pool (env ``MARKETPIPE_<NAME>_KEYS``); None without keys."""
        return f"{self.name}_keys" if self.needs_key else None


# -- generic reply classification ------------------------------------------------------------------


def retry_after_seconds(reply: Reply) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    value = reply.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - datetime.now(UTC).timestamp())


def epoch_header(reply: Reply, name: str) -> datetime | None:
    """An absolute reset time from a Unix-seconds header such as ``x-rate-limit-reset``."""
    value = reply.headers.get(name)
    if not value:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (ValueError, OverflowError):
        return None


_CDN_MARKERS = ("cloudflare", "cf-ray", "cf-error", "/cdn-cgi/", "just a moment", "akamai", "access denied")
_TITLE = re.compile(r"(?is)<title>(.*?)</title>")


def is_cdn_page(reply: Reply) -> bool:
    """An HTML page from a CDN in front of the API (what a JSON API never sends itself)."""
    head = reply.text[:4000].lstrip().lower()
    html = "text/html" in reply.content_type.lower() or head.startswith(("<!doctype html", "<html"))
    return html and (any(m in head for m in _CDN_MARKERS) or "cf-ray" in reply.headers)


def _html_title(text: str) -> str:
    match = _TITLE.search(text[:4000])
    return " ".join(match.group(1).split())[:120] if match else "an HTML page"


def classify_status(reply: Reply) -> Outcome | None:
    """The verdict implied by the HTTP status alone, or None for a 2xx that needs a body check."""
    status = reply.status
    if 200 <= status < 300:
        return None
    text = reply.excerpt(300)
    if status == 429:
        return Outcome(OutcomeKind.THROTTLED, f"HTTP 429: {text}", retry_after_seconds(reply))
    if status == 401:
        return Outcome(OutcomeKind.INVALID_KEY, f"HTTP 401: {text}")
    if status == 403 and is_cdn_page(reply):
        # A CDN/WAF block page (Cloudflare challenge, "Access denied | ... used Cloudflare"): the
        # provider never saw the call; it is a transient block, not the plan refusing the endpoint.
        return Outcome(OutcomeKind.TRANSIENT, f"HTTP 403 from the CDN: {_html_title(reply.text)}")
    if status in (402, 403):
        return Outcome(OutcomeKind.REFUSED, f"HTTP {status}: {text}")
    if status == 404:
        return Outcome(OutcomeKind.NOT_FOUND, f"HTTP 404: {text}")
    if status in (408, 425) or status >= 500:
        return Outcome(OutcomeKind.TRANSIENT, f"HTTP {status}: {text}", retry_after_seconds(reply))
    return Outcome(OutcomeKind.MALFORMED, f"HTTP {status}: {text}")


# -- records a parser could not use -----------------------------------------------------------------

_drops: ContextVar[list[tuple[str, Any]] | None] = ContextVar("marketpipe_parser_drops", default=None)


def drop(reason: str, record: Any = None) -> None:
    """A parser skips a record of the reply: say why. Outside :func:`collecting_drops` (a parser called
    on its own, in a test) this does nothing; inside it, the engine counts the record as rejected with
    ``reason`` in the run ledger — no record leaves without a trace."""
    found = _drops.get()
    if found is not None:
        found.append((reason, record))


@contextmanager
def collecting_drops() -> Iterator[list[tuple[str, Any]]]:
    """Collect the :func:`drop` calls of the parsers run inside (the engine wraps each item in this)."""
    found: list[tuple[str, Any]] = []
    token = _drops.set(found)
    try:
        yield found
    finally:
        _drops.reset(token)


# -- value cleaning shared by parsers -------------------------------------------------------------

_NULLISH = {"", "none", "null", "nan", "n/a", "-", "—", "."}


class WrongType(MalformedResponse):
    """A field holds a value of the wrong kind (an object where text or a number belongs, a number
    out of any sane range). Raised by the shared converters, so no parser turns ``{"a": 1}`` into the
    text ``"{'a': 1}"`` or silently into NULL; the engine reports it as this item's error."""

    def __init__(self, message: str) -> None:
        super().__init__("reply", message)


def _scalar(value: Any, what: str) -> Any:
    if isinstance(value, dict | list | tuple | set):
        raise WrongType(f"expected {what}, got {type(value).__name__}")
    return value


def clean_text(value: Any) -> str | None:
    """Trimmed text, or None for the providers' null spellings ("None", "-", "", ".").

    An object or a list is :class:`WrongType`."""
    if value is None:
        return None
    text = str(_scalar(value, "text")).replace("\x00", "").strip()
    return None if text.lower() in _NULLISH else text


def to_instant(value: Any) -> datetime | None:
    """ISO 8601 text (``Z`` or an offset; naive = UTC) or Unix seconds → an aware UTC datetime."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _epoch(value)
    text = clean_text(value)
    if text is None:
        return None
    if text.isdigit():
        return _epoch(int(text))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


#: Unix seconds beyond this (year 2200) are not an instant any provider means: milliseconds sent as
#: seconds, a sentinel such as 9999999999999 — out of range, not a date 30,000 years ahead.
_MAX_EPOCH_S = 7258118400


def _epoch(seconds: float) -> datetime | None:
    if seconds <= 0:
        return None
    if seconds > _MAX_EPOCH_S:
        raise WrongType(f"epoch {seconds} out of range")
    return datetime.fromtimestamp(seconds, UTC)


def to_decimal(value: Any) -> Decimal | None:
    """A Decimal from a string/number, tolerating "%", ",", and null spellings."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    text = clean_text(_scalar(value, "a number"))
    if text is None:
        return None
    text = text.replace(",", "").rstrip("%")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise WrongType(f"expected a number, got {text[:40]!r}") from None
    return number if number.is_finite() else None


def to_int(value: Any) -> int | None:
    """An int from "123", "123.0", 123; None for null spellings or non-numbers."""
    number = to_decimal(value)
    if number is None:
        return None
    try:
        return int(number)
    except (ValueError, OverflowError):
        return None


_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%y", "%m/%d/%Y")


def to_date(value: Any) -> date | None:
    """A date from ``YYYY-MM-DD`` (or ``M/D/YY``); None when absent or unparseable."""
    text = clean_text(value)
    if text is None:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text[:10] if fmt == "%Y-%m-%d" else text, fmt).date()
        except ValueError:
            continue
    return None
