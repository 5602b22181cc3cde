"""Logging for marketpipe processes: one record shape, two renderings, redaction in one place.

- ``MARKETPIPE_LOG_FORMAT=json`` — one JSON object per line (production, log shippers):
  ``{"ts", "level", "logger", "message", "dataset", "provider", "run_id", "exc"}`` (context fields only
  when set);
- ``rich`` — a rich console handler (the default on a terminal);
- ``text`` — ``2026-11-16T15:00:00Z INFO marketpipe.engine [dataset=cpi run_id=7] message`` (the
  default when stderr is not a terminal).

Every record passes one handler-level :class:`RedactFilter`, which applies
:func:`marketpipe.redaction.redact` to the formatted message and to any traceback text, so a key never
reaches a log line even when a library logs a full request URL or an exception carries one.

Context: code that works for one dataset run wraps it in :func:`log_context` (``dataset=``,
``run_id=``, ``provider=``); :func:`bind_log_context` changes a field inside that block (a run that
switches provider). :class:`ContextFilter` copies the fields onto each record, whichever thread of the
context logs it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

from marketpipe.redaction import redact, register_secrets

LogFormat = Literal["json", "rich", "text"]
#: The context fields a record may carry, in the order text lines show them.
CONTEXT_FIELDS = ("dataset", "provider", "run_id")

_context: ContextVar[dict[str, str]] = ContextVar("marketpipe_log_context", default={})  # noqa: B039


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Attach ``fields`` (``dataset``, ``provider``, ``run_id``) to every record logged inside."""
    token = _context.set(_merged(fields))
    try:
        yield
    finally:
        _context.reset(token)


def bind_log_context(**fields: object) -> None:
    """Change context fields until the enclosing :func:`log_context` block ends."""
    _context.set(_merged(fields))


def current_log_context() -> dict[str, str]:
    """The fields records logged now would carry."""
    return dict(_context.get())


def _merged(fields: dict[str, object]) -> dict[str, str]:
    unknown = set(fields) - set(CONTEXT_FIELDS)
    if unknown:
        raise TypeError(f"unknown log context fields: {', '.join(sorted(unknown))}")
    merged = dict(_context.get())
    for name, value in fields.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = str(value)
    return merged


class ContextFilter(logging.Filter):
    """Copies the current log context onto the record (fields passed with ``extra=`` win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class RedactFilter(logging.Filter):
    """The one place log text is scrubbed: the message, the traceback and the context fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: log the template rather than crash the caller
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, redact(value))
        return True


def _timestamp(record: logging.LogRecord) -> str:
    return (
        datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                payload[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exc"] = record.exc_text
        # ASCII escapes: a lone surrogate or a control character can never break a line or its encoding.
        return json.dumps(payload, ensure_ascii=True, default=str)


def _context_suffix(record: logging.LogRecord) -> str:
    parts = [f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if getattr(record, name, None)]
    return f"[{' '.join(parts)}] " if parts else ""


class TextFormatter(logging.Formatter):
    """``<ts> <LEVEL> <logger> [dataset=… run_id=…] message`` (tracebacks on the following lines)."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname} {record.name} {_context_suffix(record)}{record.getMessage()}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        return f"{line}\n{record.exc_text}" if record.exc_text else line


class RichContextFormatter(logging.Formatter):
    """The message with its context prefix (rich adds time and level)."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"{_context_suffix(record)}{record.getMessage()}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        return f"{text}\n{record.exc_text}" if record.exc_text else text


def resolve_format(value: str | None = None, stream: Any = None) -> LogFormat:
    """``value`` (or ``MARKETPIPE_LOG_FORMAT``): json / rich / text; unset or ``auto`` = rich on a
    terminal, text otherwise. A typed error names the accepted values."""
    chosen = (value if value is not None else os.environ.get("MARKETPIPE_LOG_FORMAT", "auto")).strip().lower()
    if chosen in ("json", "rich", "text"):
        return chosen  # type: ignore[return-value]
    if chosen in ("", "auto"):
        target = stream if stream is not None else sys.stderr
        return "rich" if getattr(target, "isatty", lambda: False)() else "text"
    raise ValueError(f"MARKETPIPE_LOG_FORMAT must be json, rich, text or auto, not {chosen[:40]!r}")


def build_handler(log_format: LogFormat, stream: Any = None) -> logging.Handler:
    """A handler in ``log_format`` with the context and redaction filters attached."""
    handler: logging.Handler
    if log_format == "rich":
        from rich.console import Console
        from rich.logging import RichHandler

        console = Console(file=stream, stderr=stream is None)
        handler = RichHandler(console=console, rich_tracebacks=False, show_path=False, markup=False)
        handler.setFormatter(RichContextFormatter())
    else:
        handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
        handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactFilter())
    return handler


def known_secrets() -> list[str]:
    """Every key value configured in the settings, and passwords in service URLs."""
    from marketpipe.config import PROVIDERS, get_settings

    settings = get_settings()
    values = [key.get_secret_value() for provider in PROVIDERS for key in settings.keys(provider)]
    for url in (settings.database_url, settings.redis_url):
        if url is not None:
            match = re.search(r"://[^:/@]*:([^@]+)@", url.get_secret_value())
            if match:
                values.append(match.group(1))
    return values


def configure_logging(
    level: int = logging.INFO, log_format: str | None = None, stream: Any = None
) -> logging.Handler:
    """Route every log record through one redacting handler in the chosen format; returns it."""
    register_secrets(known_secrets())
    handler = build_handler(resolve_format(log_format, stream), stream)
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in ("httpx", "httpcore", "urllib3", "pgserver"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler
