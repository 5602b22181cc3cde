"""Logging for marketpipe commands: a rich console handler that redacts secrets.

Every record passes through :class:`marketpipe.redaction.RedactingFilter`, which masks the API keys
known to the settings and key-like query parameters (``apikey=``, ``token=`` …) and bearer tokens, so
a key never reaches a log line even when a library logs a full request URL.
"""

from __future__ import annotations

import logging
import re

from rich.logging import RichHandler

from marketpipe.redaction import RedactingFilter, register_secrets


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


def configure_logging(level: int = logging.INFO) -> None:
    """Send marketpipe logs to a rich console handler that redacts secrets."""
    register_secrets(known_secrets())
    handler = RichHandler(rich_tracebacks=False, show_path=False)
    handler.addFilter(RedactingFilter())
    logging.basicConfig(level=level, handlers=[handler], format="%(message)s", force=True)
    for noisy in ("httpx", "httpcore", "urllib3", "pgserver"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
