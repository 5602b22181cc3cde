"""Settings of the live API (env prefix ``MARKETPIPE_API_``), kept apart from the global Settings.

Where PostgreSQL and Redis are stays in :mod:`marketpipe.config`; ``database_url`` here is the
API's *own* connection: a login of the read-only ``marketpipe_reader`` role (migration 0157). In
embedded mode ``marketpipe serve`` derives it from the embedded server's URL.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

READER_ROLE = "marketpipe_reader"


class ApiSettings(BaseSettings):
    """Pacing, limits and pools of ``marketpipe serve``."""

    model_config = SettingsConfigDict(
        env_prefix="MARKETPIPE_API_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    #: PostgreSQL URL of a ``marketpipe_reader`` login (unset: derived in embedded mode; with an
    #: external database the writers' URL is used in read-only transactions, with a warning).
    database_url: SecretStr | None = None
    #: At most one push per feed per interval; sink signals inside one interval coalesce.
    push_interval_s: float = Field(default=0.1, gt=0, le=60)
    #: A client whose socket does not take a message within this long is dropped.
    send_timeout_s: float = Field(default=10.0, gt=0, le=300)
    #: WebSocket clients per process at most (a connect beyond it is refused with close code 1013).
    max_ws_clients: int = Field(default=5000, ge=1)
    #: Redis connections of the request path (the pub/sub listener has its own).
    redis_max_connections: int = Field(default=64, ge=1, le=10_000)
    #: How long a request waits for a free Redis/PostgreSQL connection before it is shed (503).
    pool_timeout_s: float = Field(default=2.0, gt=0, le=60)
    pg_pool_max: int = Field(default=8, ge=1, le=1000)
    #: Browser origins allowed to open WebSockets besides the API's own (comma-separated list in env).
    allowed_origins: list[str] = Field(default_factory=list)
    #: uvicorn: concurrent connections + tasks before new requests get 503.
    limit_concurrency: int = Field(default=4096, ge=1)
    #: Seconds a client has to send its request headers on a new connection.
    header_timeout_s: float = Field(default=10.0, gt=0, le=300)
    #: uvicorn: idle keep-alive connections are closed after this many seconds.
    keep_alive_s: int = Field(default=5, ge=1, le=600)
    #: Largest request head (request line + headers), bytes.
    max_header_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    #: permessage-deflate on WebSockets. Off by default: it compresses every push once per client
    #: (~5× fewer bytes, but the CPU of the whole fan-out at 1,000 clients), and compressed
    #: connections cannot share one pre-built frame (they take the slower per-client ASGI path).
    ws_compression: bool = False
    #: Largest WebSocket message a client may send, bytes.
    ws_max_message_bytes: int = Field(default=4096, ge=128)
