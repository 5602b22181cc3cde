"""The HTTP layer: request/reply types, the client, typed errors and secret redaction."""

from marketpipe.http.client import NO_AUTH, Auth, HttpClient
from marketpipe.http.errors import (
    CollectError,
    ConfigurationError,
    InvalidKeyError,
    MalformedItem,
    MalformedResponse,
    NotFoundError,
    ProviderError,
    QuotaExhausted,
    RefusedError,
    SchemaDrift,
    TransientError,
)
from marketpipe.http.types import ApiRequest, Outcome, OutcomeKind, QuotaWindow, Reply
from marketpipe.redaction import key_hash, redact

__all__ = [
    "NO_AUTH",
    "ApiRequest",
    "Auth",
    "CollectError",
    "ConfigurationError",
    "HttpClient",
    "InvalidKeyError",
    "MalformedItem",
    "MalformedResponse",
    "NotFoundError",
    "Outcome",
    "OutcomeKind",
    "ProviderError",
    "QuotaExhausted",
    "QuotaWindow",
    "RefusedError",
    "Reply",
    "SchemaDrift",
    "TransientError",
    "key_hash",
    "redact",
]
