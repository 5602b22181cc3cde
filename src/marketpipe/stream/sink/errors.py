"""The sink's one error type (shared by its parts)."""

from __future__ import annotations


class SinkError(RuntimeError):
    """The sink cannot continue (configuration or schema problem, not a bad message)."""
