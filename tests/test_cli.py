"""Every command group is mounted on the `marketpipe` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from marketpipe.cli import SUBCOMMANDS, app, main


def test_every_subcommand_is_mounted_and_answers_help() -> None:
    runner = CliRunner()
    listing = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert listing.exit_code == 0
    for name in ("up", "down", "status", "migrate", *(entry[0] for entry in SUBCOMMANDS)):
        assert f" {name} " in listing.output, name
        assert runner.invoke(app, [name, "--help"]).exit_code == 0, name


CONFIG_ERRORS = [
    ({"MARKETPIPE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "needs MARKETPIPE_KAFKA_USERNAME"),
    ({"MARKETPIPE_KAFKA_PASSWORD": "pw-7d1e9"}, "set it to SASL_SSL"),
    ({"MARKETPIPE_HTTP_TIMEOUT_S": "soon"}, "MARKETPIPE_HTTP_TIMEOUT_S: Input should be a valid number"),
    ({"MARKETPIPE_STREAM_BATCH_SIZE": "0"}, "MARKETPIPE_STREAM_BATCH_SIZE: Input should be greater than"),
]


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPIPE_")}
    env.update({"MARKETPIPE_DATA_DIR": str(tmp_path / "data"), "MARKETPIPE_KAFKA_BOOTSTRAP": "127.0.0.1:1",
                "MARKETPIPE_FRED_KEYS": "fred-secret-42", **extra})  # fmt: skip
    return env


@pytest.mark.parametrize(("extra", "expected"), CONFIG_ERRORS)
def test_a_configuration_error_is_one_clear_line_without_secrets(
    extra: dict[str, str], expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Half a Kafka security setup, a wrong type: exit 2 with one `error: configuration:` line naming
    the variable, never a key or a password."""
    from marketpipe.config import get_settings

    for name in [n for n in os.environ if n.startswith("MARKETPIPE_")]:
        monkeypatch.delenv(name)
    for name, value in _clean_env(tmp_path, **extra).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["marketpipe", "stream", "sink", "trades", "--no-create-topics"])
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exited:
            main()
    finally:
        get_settings.cache_clear()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: configuration: ") and expected in lines[0], err
    assert "fred-secret" not in err and "pw-7d1e9" not in err


def test_the_command_prints_a_configuration_error_without_a_traceback(tmp_path: Path) -> None:
    """The real process (Typer's exception hook included): a missing CA file, one line, exit 2."""
    env = _clean_env(
        tmp_path,
        MARKETPIPE_KAFKA_SECURITY_PROTOCOL="SSL",
        MARKETPIPE_KAFKA_SSL_CA_LOCATION=str(tmp_path / "no.crt"),
    )
    done = subprocess.run(
        [sys.executable, "-m", "marketpipe", "stream", "topics"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip().splitlines() == [
        f"error: configuration: MARKETPIPE_KAFKA_SSL_CA_LOCATION: no such file: {tmp_path / 'no.crt'}"
    ]
    assert "Traceback" not in done.stdout + done.stderr and "fred-secret" not in done.stdout + done.stderr
