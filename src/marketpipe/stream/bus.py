"""confluent-kafka clients configured the way marketpipe uses them.

Producers are idempotent with ``acks=all`` (no duplicates or reordering on retries), batch for a few
milliseconds and compress with lz4. Consumers never auto-commit: the sink stores offsets in
PostgreSQL together with the rows and commits them to Kafka only after Redis is updated.

Every client, admin clients included, gets the connection security of the settings
(:func:`client_security`: ``MARKETPIPE_KAFKA_SECURITY_PROTOCOL``, SASL user and password, CA file).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from confluent_kafka import Consumer, Producer

if TYPE_CHECKING:
    from marketpipe.config import Settings

PRODUCER_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 5,
    "compression.type": "lz4",
    "batch.num.messages": 10000,
    "queue.buffering.max.messages": 500000,
    "message.timeout.ms": 120000,
    # Small produce requests must not wait for Nagle's algorithm (latency of a steady trickle).
    "socket.nagle.disable": True,
}

CONSUMER_DEFAULTS: dict[str, Any] = {
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    # A partition the group never stored anywhere starts at its beginning: never skip data.
    "auto.offset.reset": "earliest",
    "fetch.min.bytes": 1,
    "fetch.wait.max.ms": 20,
    "queued.min.messages": 200000,
    "session.timeout.ms": 10000,
    "heartbeat.interval.ms": 1000,
    "socket.nagle.disable": True,
}


class KafkaConfigError(ValueError):
    """The Kafka connection settings cannot work (e.g. the CA file is missing)."""


def client_security(settings: Settings | None = None) -> dict[str, Any]:
    """The librdkafka security keys of ``settings`` (default: the process's settings).

    Empty for PLAINTEXT without a CA file, so a local broker's clients are configured as before. The
    password goes to librdkafka only: marketpipe never logs a client configuration.
    """
    if settings is None:
        from marketpipe.config import get_settings

        settings = get_settings()
    protocol = settings.kafka_security_protocol
    conf: dict[str, Any] = {}
    if protocol != "PLAINTEXT":
        conf["security.protocol"] = protocol
    if protocol.startswith("SASL_"):
        password = settings.kafka_password
        conf["sasl.mechanism"] = settings.kafka_sasl_mechanism
        conf["sasl.username"] = settings.kafka_username
        conf["sasl.password"] = password.get_secret_value() if password is not None else ""
    ca = settings.kafka_ssl_ca_location
    if ca is not None:
        if not Path(ca).is_file():
            raise KafkaConfigError(f"MARKETPIPE_KAFKA_SSL_CA_LOCATION: no such file: {ca}")
        conf["ssl.ca.location"] = str(ca)
    return conf


def admin_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    """An AdminClient configuration for ``bootstrap`` with the settings' connection security."""
    return {"bootstrap.servers": bootstrap, **client_security(), **overrides}


def producer_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    """The producer configuration for ``bootstrap`` (dots in keys: pass overrides as a dict splat)."""
    return {"bootstrap.servers": bootstrap, **client_security(), **PRODUCER_DEFAULTS, **overrides}


def make_producer(bootstrap: str, **overrides: Any) -> Producer:
    """An idempotent, acks=all producer."""
    return Producer(producer_config(bootstrap, **overrides))


def consumer_config(bootstrap: str, group_id: str, **overrides: Any) -> dict[str, Any]:
    """The consumer configuration: manual commits, earliest reset."""
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        **client_security(),
        **CONSUMER_DEFAULTS,
        **overrides,
    }


def make_consumer(bootstrap: str, group_id: str, **overrides: Any) -> Consumer:
    """A consumer with manual commits."""
    return Consumer(consumer_config(bootstrap, group_id, **overrides))
