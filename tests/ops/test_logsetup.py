"""Structured logs: JSON lines and text carry dataset / provider / run id; secrets are scrubbed in one
place (the handler), also from tracebacks; hostile text never breaks a line."""

from __future__ import annotations

import io
import json
import logging
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketpipe.logsetup import (
    bind_log_context,
    build_handler,
    configure_logging,
    current_log_context,
    log_context,
    resolve_format,
)
from marketpipe.redaction import redact, register_secrets
from plugins.engine import FRED_KEY_1, engine_settings

SECRET = "sk-live-0123456789abcdef"


@pytest.fixture
def json_log():
    stream = io.StringIO()
    logger = logging.getLogger("marketpipe.test.logs")
    handler = build_handler("json", stream)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_context_and_redact_message_and_traceback(json_log):
    logger, stream = json_log
    register_secrets([SECRET])
    with log_context(dataset="cpi", run_id=7):
        bind_log_context(provider="fred")
        logger.info("calling https://api.example/x?apikey=%s", SECRET)
        try:
            raise RuntimeError(f"boom with {SECRET}")
        except RuntimeError:
            logger.exception("failed")
    logger.info("outside")
    first, second, third = lines(stream)
    assert (first["dataset"], first["provider"], first["run_id"]) == ("cpi", "fred", "7")
    assert (
        first["level"] == "INFO" and first["logger"] == "marketpipe.test.logs" and first["ts"].endswith("Z")
    )
    assert "apikey=***" in first["message"]
    assert "RuntimeError" in second["exc"] and SECRET not in second["exc"]
    assert "dataset" not in third and "provider" not in third
    assert SECRET not in stream.getvalue()


def test_the_text_format_prefixes_the_context():
    stream = io.StringIO()
    logger = logging.getLogger("marketpipe.test.text")
    handler = build_handler("text", stream)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with log_context(dataset="company_overview", provider="alpha_vantage", run_id=12):
            logger.warning("item AAPL failed")
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue().strip()
    assert line.endswith(
        "WARNING marketpipe.test.text [dataset=company_overview provider=alpha_vantage run_id=12] item AAPL failed"
    )


def test_contexts_are_per_thread_and_restored_on_exit():
    seen: dict[str, dict[str, str]] = {}

    def work(name: str) -> None:
        with log_context(dataset=name):
            seen[name] = current_log_context()

    with log_context(dataset="outer"):
        threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert current_log_context() == {"dataset": "outer"}
    assert seen == {"a": {"dataset": "a"}, "b": {"dataset": "b"}}
    assert current_log_context() == {}


def test_unknown_context_fields_and_formats_are_typed_errors():
    with pytest.raises(TypeError, match="unknown log context"), log_context(symbol="AAPL"):
        pass
    with pytest.raises(ValueError, match="MARKETPIPE_LOG_FORMAT"):
        resolve_format("yaml\x00")
    assert resolve_format("auto", io.StringIO()) == "text"  # not a terminal
    assert resolve_format("JSON") == "json"


@given(st.text())
def test_any_message_is_one_valid_json_line(text):
    stream = io.StringIO()
    handler = build_handler("json", stream)
    record = logging.LogRecord("marketpipe.x", logging.INFO, __file__, 1, "%s", (text,), None)
    for f in handler.filters:
        f.filter(record)  # type: ignore[union-attr]
    handler.emit(record)
    out = stream.getvalue()
    assert out.count("\n") == 1 and out.isascii()
    assert json.loads(out)["message"] == redact(text)


def test_a_sandbox_run_logs_json_lines_with_dataset_provider_and_run_id(
    settings, collect, sandbox, monkeypatch
):
    sandbox.admin.add_fault("fred", "revoked_key")
    monkeypatch.setenv("MARKETPIPE_FRED_KEYS", FRED_KEY_1)
    stream = io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure_logging(logging.INFO, "json", stream)
        result = collect("cpi", settings=engine_settings(settings, sandbox.port))
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    records = lines(stream)
    refused = [r for r in records if "refused as invalid" in r["message"]]
    assert refused, records
    assert refused[0]["dataset"] == "cpi" and refused[0]["provider"] == "fred"
    assert refused[0]["run_id"] == str(result.run_id)
    assert FRED_KEY_1 not in stream.getvalue()
