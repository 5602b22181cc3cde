"""Logging for marketpipe processes: rich console output with secrets redacted.

Every record passes through :class:`RedactingFilter`, which masks the values of API keys known to
the settings and key-like query parameters (``apikey=``, ``token=``, ``api_key=`` …) in URLs, so a
key never reaches a log line even when a library logs a full request URL.
"""

from __future__ import annotations

import logging
import re

from rich.logging import RichHandler

_SECRET_PARAMS = re.compile(
    r"(?i)((?:apikey|api_key|apiKey|token|access_token|x_cg_demo_api_key|password)=)[^&\s\"']+"
)
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")


def redact(text: str, secrets: list[str] | None = None) -> str:
    """Mask known secret values and key-like URL parameters in ``text``."""
    for secret in secrets or ():
        if secret:
            text = text.replace(secret, "***")
    text = _SECRET_PARAMS.sub(r"\1***", text)
    return _BEARER.sub(r"\1***", text)


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites each record's message with secrets masked."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self.secrets = [s for s in (secrets or []) if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


def known_secrets() -> list[str]:
    """Every key value configured in the settings (to mask them anywhere in logs)."""
    from marketpipe.config import PROVIDERS, get_settings

    settings = get_settings()
    values = [key.get_secret_value() for provider in PROVIDERS for key in settings.keys(provider)]
    for url in (settings.database_url, settings.redis_url):
        if url is not None:
            match = re.search(r"://[^:/@]*:([^@]+)@", url.get_secret_value())
            if match:
                values.append(match.group(1))
    return values


def configure_logging(level: int = logging.INFO) -> None:
    """Send marketpipe logs to a rich console handler that redacts secrets."""
    handler = RichHandler(rich_tracebacks=False, show_path=False)
    handler.addFilter(RedactingFilter(known_secrets()))
    logging.basicConfig(level=level, handlers=[handler], format="%(message)s", force=True)
    for noisy in ("httpx", "httpcore", "urllib3", "pgserver"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
