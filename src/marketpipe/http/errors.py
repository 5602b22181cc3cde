"""Typed errors of the collection path. Messages never contain a key (they are redacted first)."""

from __future__ import annotations

from datetime import datetime


class CollectError(Exception):
    """Base class of every error the engine reports in a run's ``error_class``."""

    #: Whether the same call may succeed later without any change on our side.
    retryable: bool = False


class ConfigurationError(CollectError):
    """No usable keys, an unknown dataset or provider, a bad plan file."""


class ProviderError(CollectError):
    """A provider answered, but not with data. ``provider`` names it; never a key."""

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider


class TransientError(ProviderError):
    """Timeouts, connection errors, 5xx, throttling that outlived the retries."""

    retryable = True


class MalformedResponse(ProviderError):
    """The reply could not be parsed into records (bad JSON, missing fields, wrong shape)."""


class MalformedItem(CollectError):
    """One item's reply could not be turned into rows: the parser raised, or a row could not be stored.

    Only that item fails (it stays due, first in line next run); the rest of the run goes on. The
    message names the item and the cause's class (never a key: it is redacted before it is stored).
    """

    def __init__(self, item: str, message: str, cause: str = "") -> None:
        super().__init__(f"{item}: {message}")
        self.item = item
        self.cause = cause


class SchemaDrift(MalformedItem):
    """The reply carried records but none survived parsing, and its fields changed (renamed/missing).

    Never reported as "ok, 0 rows": the item fails (stays due) and the run's ledger row names the
    fields seen missing and new.
    """


class NotFoundError(ProviderError):
    """The provider has nothing for this item (unknown symbol, empty object)."""


class InvalidKeyError(ProviderError):
    """Every key of the pool was refused as invalid or missing."""


class RefusedError(ProviderError):
    """The provider's plan does not include this endpoint or item (FMP 402/403, premium endpoints)."""


class QuotaExhausted(ProviderError):
    """Every key of the provider is spent; ``resume_at`` is when the earliest one resets."""

    retryable = True

    def __init__(self, provider: str, message: str, resume_at: datetime | None) -> None:
        super().__init__(provider, message)
        self.resume_at = resume_at
