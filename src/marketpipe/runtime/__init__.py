"""Starting, stopping and finding the services marketpipe runs on.

``services(settings)`` lists them in start order. PostgreSQL and Redis are always part of the
runtime; Kafka and the sandbox join when asked (``marketpipe up --kafka --sandbox``).
"""

from __future__ import annotations

from marketpipe.config import Settings
from marketpipe.runtime.base import LocalService, ServiceError, ServiceStatus
from marketpipe.runtime.postgres import PostgresService
from marketpipe.runtime.redis import RedisService

__all__ = [
    "LocalService",
    "PostgresService",
    "RedisService",
    "ServiceError",
    "ServiceStatus",
    "optional_service",
    "services",
]


def optional_service(name: str, settings: Settings) -> LocalService:
    """The Kafka broker or the sandbox (imported lazily: each has heavier dependencies)."""
    if name == "kafka":
        from marketpipe.runtime.kafka import KafkaService

        return KafkaService(settings)
    if name == "sandbox":
        from marketpipe.runtime.sandbox import SandboxService

        return SandboxService(settings)
    raise ValueError(f"unknown service {name!r}")


def services(settings: Settings, *, kafka: bool = False, sandbox: bool = False) -> list[LocalService]:
    """The services to manage, in start order."""
    chosen: list[LocalService] = [PostgresService(settings), RedisService(settings)]
    if kafka:
        chosen.append(optional_service("kafka", settings))
    if sandbox:
        chosen.append(optional_service("sandbox", settings))
    return chosen
