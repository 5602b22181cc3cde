"""Every command group is mounted on the `marketpipe` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from marketpipe.cli import SUBCOMMANDS, app


def test_every_subcommand_is_mounted_and_answers_help() -> None:
    runner = CliRunner()
    listing = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert listing.exit_code == 0
    for name in ("up", "down", "status", "migrate", *(entry[0] for entry in SUBCOMMANDS)):
        assert f" {name} " in listing.output, name
        assert runner.invoke(app, [name, "--help"]).exit_code == 0, name


def test_a_configuration_error_is_one_clear_line_without_a_traceback_or_secrets(tmp_path: Path) -> None:
    """Half a Kafka security setup, a CA file that is not there, a wrong type: exit 2 with one
    `error: configuration:` line naming the variable, never a traceback, never a key or password."""
    cases = [
        ({"MARKETPIPE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "needs MARKETPIPE_KAFKA_USERNAME"),
        (
            {
                "MARKETPIPE_KAFKA_SECURITY_PROTOCOL": "SSL",
                "MARKETPIPE_KAFKA_SSL_CA_LOCATION": str(tmp_path / "no.crt"),
            },
            "MARKETPIPE_KAFKA_SSL_CA_LOCATION: no such file",
        ),
        ({"MARKETPIPE_KAFKA_PASSWORD": "pw-7d1e9"}, "set it to SASL_SSL"),
        ({"MARKETPIPE_HTTP_TIMEOUT_S": "soon"}, "MARKETPIPE_HTTP_TIMEOUT_S: Input should be a valid number"),
    ]
    for extra, expected in cases:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPIPE_")}
        env.update({"MARKETPIPE_DATA_DIR": str(tmp_path / "data"), "MARKETPIPE_KAFKA_BOOTSTRAP": "127.0.0.1:1",
                    "MARKETPIPE_FRED_KEYS": "fred-secret-42", **extra})  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "marketpipe", "stream", "topics"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 2, (extra, done.stderr[-2000:])
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: configuration: "), done.stderr[-2000:]
        assert expected in lines[0]
        out = done.stdout + done.stderr
        assert "Traceback" not in out and "fred-secret" not in out and "pw-7d1e9" not in out
