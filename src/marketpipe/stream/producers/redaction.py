"""Keep API tokens out of logs and exceptions.

Finnhub takes its token in the WebSocket URL query (``?token=...``), so any URL or exception text
that may contain it passes through :func:`redact_url` / :func:`scrub` before it is logged or raised.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_SECRET_PARAMS = frozenset({"token", "apikey", "api_key", "key", "access_token", "x-finnhub-token"})
_SECRET_IN_TEXT = re.compile(r"(?i)((?:token|apikey|api_key|access_token)=)[^&\s'\"]+")


def redact_url(url: str) -> str:
    """``url`` with secret query parameters and any password replaced by ``***``."""
    parts = urlsplit(url)
    query = [(k, "***" if k.lower() in _SECRET_PARAMS else v) for k, v in parse_qsl(parts.query, True)]
    netloc = parts.netloc
    if "@" in netloc:
        creds, host = netloc.rsplit("@", 1)
        netloc = f"{creds.split(':', 1)[0]}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="*"), parts.fragment))


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with ``name=value`` secrets and every literal secret value replaced by ``***``."""
    text = _SECRET_IN_TEXT.sub(r"\1***", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secrets from a record's rendered message.

    Attached to the logger handed to the WebSocket library, whose debug log prints the request path
    (which carries ``?token=``).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message, self._secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
