"""The sink's error types (shared by its parts)."""

from __future__ import annotations


class SinkError(RuntimeError):
    """The sink cannot continue (configuration or schema problem, not a bad message)."""


class ConsumerDead(SinkError):
    """The Kafka consumer hit a fatal error (fenced, ...): it delivers nothing more."""
