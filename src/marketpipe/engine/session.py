"""A provider session: the key pool, the quota ledger and the HTTP client behind one ``call``.

For every attempt the session picks the first key of the pool that is neither invalid nor spent and
whose windows have room, reserves the budget, sends, and lets the provider classify the reply:

- ok → the reply; not found / refused / malformed → a typed error for that item;
- quota → the key is marked spent until its window resets and the next key is tried;
- throttled → wait as long as the provider asks when that is short, else rest the key;
- transient → retry with exponential backoff and full jitter, a bounded number of times;
- invalid key → the key is dropped for this run and the next key is tried.

When no key has budget the session waits only if the earliest window reopens within ``max_wait_s``;
otherwise it raises :class:`QuotaExhausted` with ``resume_at``. No fixed sleeps.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr

from marketpipe.backoff import Backoff
from marketpipe.engine.clock import Clock
from marketpipe.engine.quota import QuotaLedger
from marketpipe.http.client import HttpClient
from marketpipe.http.errors import (
    ConfigurationError,
    InvalidKeyError,
    MalformedResponse,
    NotFoundError,
    QuotaExhausted,
    RefusedError,
    TransientError,
)
from marketpipe.http.types import ApiRequest, OutcomeKind, QuotaWindow, Reply
from marketpipe.ops.calls import UNREACHABLE, endpoint_of, record_call
from marketpipe.providers.base import Provider
from marketpipe.redaction import key_hash, redact, register_secrets

log = logging.getLogger("marketpipe.engine")

ANONYMOUS = "anonymous"
_WASTED = frozenset(
    {OutcomeKind.QUOTA, OutcomeKind.THROTTLED, OutcomeKind.INVALID_KEY, OutcomeKind.TRANSIENT}
)


@dataclass
class _Key:
    index: int  # 1-based position in the configured pool ("token 2")
    secret: str | None
    hash: str


@dataclass
class SessionStats:
    calls: int = 0
    #: Calls that brought no data: quota and throttle replies, invalid-key replies, transient failures.
    wasted: int = 0


@dataclass(frozen=True)
class RetryPolicy:
    """Transient failures: ``attempts`` tries in all, backoff ``base_s * 2**n`` with full jitter."""

    attempts: int = 3
    base_s: float = 0.5
    cap_s: float = 8.0
    throttle_retries: int = 3

    def backoff(self, attempt: int) -> float:
        return Backoff(self.base_s, max(self.cap_s, self.base_s)).delay_for(attempt)


class ProviderSession:
    """Calls to one provider on behalf of one run."""

    def __init__(
        self,
        provider: Provider,
        keys: list[SecretStr],
        *,
        base_url: str,
        http: HttpClient,
        ledger: QuotaLedger,
        clock: Clock,
        windows: tuple[QuotaWindow, ...] | None = None,
        max_wait_s: float = 65.0,
        timeout_s: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url
        self.http = http
        self.ledger = ledger
        self.clock = clock
        self.windows = provider.windows if windows is None else windows
        self.max_wait_s = max_wait_s
        self.timeout_s = timeout_s or provider.timeout_s
        self.retry = retry or RetryPolicy()
        self.stats = SessionStats()
        secrets = [k.get_secret_value() for k in keys if k.get_secret_value().strip()]
        register_secrets(secrets)
        if provider.needs_key:
            if not secrets:
                raise ConfigurationError(
                    f"{provider.name}: no API keys configured (set MARKETPIPE_{provider.name.upper()}_KEYS)"
                )
            self._keys = [_Key(i, s, key_hash(s)) for i, s in enumerate(secrets, start=1)]
        else:
            self._keys = [_Key(1, None, ANONYMOUS)]
        self._secrets = secrets
        self._invalid: set[str] = set()

    # -- public ---------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.provider.name

    def has_budget(self) -> bool:
        """True when some usable key is not marked spent (a cheap check before choosing a provider)."""
        now = self.clock.now()
        return any(
            k.hash not in self._invalid and self.ledger.spent_until(self.name, k.hash, now) is None
            for k in self._keys
        )

    def resume_at(self) -> datetime | None:
        """When the earliest spent key becomes usable again (None if one is usable now)."""
        now = self.clock.now()
        marks = [
            self.ledger.spent_until(self.name, k.hash, now) for k in self._keys if k.hash not in self._invalid
        ]
        return None if any(m is None for m in marks) or not marks else min(m for m in marks if m)

    def call(self, request: ApiRequest, *, key_index: int | None = None) -> Reply:
        """Send ``request`` with the first key that has budget (or only key ``key_index``, 1-based)."""
        transient_attempts = 0
        throttles = 0
        while True:
            key = self._reserve(request, key_index)
            try:
                reply = self.http.send(
                    self.base_url,
                    request,
                    auth=self.provider.auth,
                    secret=key.secret,
                    timeout_s=self.timeout_s,
                )
            except TransientError as exc:
                self._count(key, request, UNREACHABLE)
                self.stats.wasted += 1
                transient_attempts += 1
                if transient_attempts >= self.retry.attempts:
                    raise TransientError(self.name, self._clean(str(exc).split(": ", 1)[-1])) from None
                self._backoff(transient_attempts, request, str(exc))
                continue
            outcome = self.provider.classify(request, reply)
            self._count(key, request, outcome.kind.value)
            message = self._clean(outcome.message)
            kind = outcome.kind
            if kind is OutcomeKind.OK:
                return reply
            if kind in _WASTED:
                self.stats.wasted += 1
            if kind is OutcomeKind.QUOTA:
                until = outcome.reset_at or self._quota_reset(request, outcome.retry_after_s)
                self.ledger.mark_spent(self.name, key.hash, until, message or "quota reply")
                continue
            if kind is OutcomeKind.THROTTLED:
                wait = outcome.retry_after_s if outcome.retry_after_s is not None else 1.0
                throttles += 1
                if wait <= self.max_wait_s and throttles <= self.retry.throttle_retries:
                    log.info("%s throttled (%s); waiting %.1fs", request.describe(), message[:80], wait)
                    self.clock.sleep(wait)
                    continue
                until = outcome.reset_at or self.clock.now() + timedelta(seconds=wait)
                self.ledger.mark_spent(self.name, key.hash, until, f"throttled: {message}")
                continue
            if kind is OutcomeKind.INVALID_KEY:
                log.warning("%s: key %s refused as invalid: %s", self.name, key.hash, message[:120])
                self._invalid.add(key.hash)
                continue
            if kind is OutcomeKind.TRANSIENT:
                transient_attempts += 1
                if transient_attempts >= self.retry.attempts:
                    raise TransientError(self.name, f"{request.describe()}: {message}")
                self._backoff(transient_attempts, request, message, outcome.retry_after_s)
                continue
            if kind is OutcomeKind.NOT_FOUND:
                raise NotFoundError(self.name, f"{request.describe()}: {message}")
            if kind is OutcomeKind.REFUSED:
                raise RefusedError(self.name, f"{request.describe()}: {message}")
            raise MalformedResponse(self.name, f"{request.describe()}: {message}")

    # -- internals ------------------------------------------------------------------------------------

    def _clean(self, text: str) -> str:
        return redact(text, self._secrets)

    def _count(self, key: _Key, request: ApiRequest, outcome: str) -> None:
        self.stats.calls += 1
        # ops hook (issue 14): calls by provider/endpoint/key/outcome for the metrics exporter.
        record_call(self.ledger.conn, self.name, endpoint_of(request), key.hash, outcome, self.clock.now())

    def _backoff(self, attempt: int, request: ApiRequest, why: str, hint: float | None = None) -> None:
        delay = self.retry.backoff(attempt)
        if hint is not None and hint <= self.max_wait_s:
            delay = max(delay, hint)
        log.info(
            "%s transient failure (%s); retry %d in %.2fs",
            request.describe(),
            self._clean(why)[:100],
            attempt,
            delay,
        )
        self.clock.sleep(delay)

    def _windows_for(self, request: ApiRequest) -> tuple[QuotaWindow, ...]:
        return tuple(w for w in self.windows if w.applies_to(request.scope))

    def _quota_reset(self, request: ApiRequest, retry_after_s: float | None) -> datetime:
        """When a key refused for quota becomes usable: the provider's hint, else the earliest end of
        its long (≥ 1 hour) windows, else one hour."""
        now = self.clock.now()
        if retry_after_s is not None and retry_after_s > 0:
            return now + timedelta(seconds=retry_after_s)
        long_windows = [w for w in self._windows_for(request) if w.calendar or (w.seconds or 0) >= 3600] or [
            w for w in self.provider.windows if w.calendar or (w.seconds or 0) >= 3600
        ]
        ends = [w.bounds(now)[1] for w in long_windows]
        return min(ends) if ends else now + timedelta(hours=1)

    def _reserve(self, request: ApiRequest, key_index: int | None) -> _Key:
        windows = self._windows_for(request)
        while True:
            candidates = [
                k
                for k in self._keys
                if k.hash not in self._invalid and (key_index is None or k.index == key_index)
            ]
            if not candidates:
                if key_index is not None and key_index > len(self._keys):
                    raise ConfigurationError(f"{self.name}: key {key_index} is not configured")
                raise InvalidKeyError(self.name, "every configured key was refused as invalid")
            now = self.clock.now()
            earliest: datetime | None = None
            for key in candidates:
                denied = self.ledger.reserve(self.name, key.hash, windows, now)
                if denied is None:
                    return key
                earliest = denied.until if earliest is None else min(earliest, denied.until)
            assert earliest is not None
            wait = (earliest - now).total_seconds()
            if wait <= self.max_wait_s:
                self.clock.sleep(max(wait, 0.001))
                continue
            raise QuotaExhausted(
                self.name,
                f"every key is out of budget until {earliest.isoformat()}",
                resume_at=earliest,
            )
