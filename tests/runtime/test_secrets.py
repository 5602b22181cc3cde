"""Keys never reach repr, logs or error messages."""

from __future__ import annotations

import logging

import pytest

from marketpipe.config import Settings
from marketpipe.redaction import RedactingFilter, redact, redact_url

KEY = "SUPERSECRETKEY123"


def test_settings_repr_and_dump_hide_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARKETPIPE_ALPHA_VANTAGE_KEYS", f"{KEY},OTHERKEY456")
    monkeypatch.setenv("MARKETPIPE_DATABASE_URL", "postgresql://u:dbpassword@h/db")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert [k.get_secret_value() for k in settings.keys("alpha_vantage")] == [KEY, "OTHERKEY456"]
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert KEY not in text
        assert "dbpassword" not in text


def test_log_lines_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("marketpipe.test")
    caplog.handler.addFilter(RedactingFilter([KEY]))
    with caplog.at_level(logging.INFO):
        logger.info("GET https://x/query?function=OVERVIEW&apikey=%s&symbol=IBM", KEY)
        logger.info("key %s failed", KEY)
        logger.info("Authorization: Bearer abc.def-ghi")
    text = caplog.text
    assert KEY not in text
    assert "abc.def-ghi" not in text
    assert "apikey=***&symbol=IBM" in text


def test_redact_masks_url_parameters_without_knowing_the_key() -> None:
    assert redact("wss://ws.finnhub.io?token=abc123") == "wss://ws.finnhub.io?token=***"
    assert redact("https://h/api?api_key=zzz&x=1") == "https://h/api?api_key=***&x=1"


def test_redact_url_masks_credentials_in_query_and_netloc() -> None:
    assert redact_url("ws://h:1/finnhub/ws?token=abc&x=1") == "ws://h:1/finnhub/ws?token=***&x=1"
    assert redact_url("postgresql://user:pw@db:5432/x") == "postgresql://user:***@db:5432/x"
