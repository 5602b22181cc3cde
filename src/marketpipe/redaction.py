"""Keeping secrets out of logs and error messages — the one implementation every layer uses.

Keys are added to a request only at the moment it is sent, so our own log lines never see them.
These helpers are the second line of defence: they scrub known secret values from any text, strip
credential query parameters from URLs (also a WebSocket URL's ``?token=``), and a logging filter
applies both to every record of the loggers that might print a URL (``httpx``, ``httpcore``,
``websockets``, ``marketpipe``). This module imports nothing of ours, so any layer may use it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: Query parameters that carry credentials at some provider.
SECRET_PARAMS = ("apikey", "api_key", "apiKey", "token", "x_cg_demo_api_key", "access_token", "password")
_PARAM_RE = re.compile(r"(?i)\b(" + "|".join(re.escape(p) for p in SECRET_PARAMS) + r")=([^&\s\"']+)")
_BEARER_RE = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")

_known_lock = threading.Lock()
_known_secrets: set[str] = set()


def key_hash(secret: str) -> str:
    """A short, stable, non-reversible id of a key (what the ledger and logs store)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


def register_secrets(secrets: Iterable[str]) -> None:
    """Remember secret values so :func:`redact` scrubs them from any text (process-wide)."""
    with _known_lock:
        _known_secrets.update(s for s in secrets if len(s) >= 4)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with credential parameters, bearer tokens and known secret values replaced."""
    with _known_lock:
        values = sorted({*_known_secrets, *(s for s in secrets if s)}, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, "***")
    text = _PARAM_RE.sub(lambda m: f"{m.group(1)}=***", text)
    return _BEARER_RE.sub(lambda m: f"{m.group(1)}***", text)


def redact_url(url: str) -> str:
    """``url`` with credential query parameters and any password replaced by ``***``."""
    parts = urlsplit(url)
    secret = {p.lower() for p in SECRET_PARAMS}
    query = [(k, "***" if k.lower() in secret else v) for k, v in parse_qsl(parts.query, True)]
    netloc = parts.netloc
    if "@" in netloc:
        creds, host = netloc.rsplit("@", 1)
        netloc = f"{creds.split(':', 1)[0]}:***@{host}" if ":" in creds else netloc
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="*"), parts.fragment))


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the fully formatted message of every record.

    Scrubs the process-wide registered secrets plus ``secrets`` given here.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not our problem to crash on
            return True
        cleaned = redact(message, self._secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_installed = False
_FILTERED_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "marketpipe",
    "marketpipe.http",
    "marketpipe.engine",
    "marketpipe.datasets",
)


def install_log_redaction() -> None:
    """Attach :class:`RedactingFilter` to the loggers that may see URLs (idempotent)."""
    global _installed
    if _installed:
        return
    # Logger filters do not propagate to children, so name every logger that may print a URL.
    for name in _FILTERED_LOGGERS:
        logging.getLogger(name).addFilter(RedactingFilter())
    _installed = True
