"""Every command group is mounted on the `marketpipe` command."""

from __future__ import annotations

from typer.testing import CliRunner

from marketpipe.cli import SUBCOMMANDS, app


def test_every_subcommand_is_mounted_and_answers_help() -> None:
    runner = CliRunner()
    listing = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert listing.exit_code == 0
    for name in ("up", "down", "status", "migrate", *(entry[0] for entry in SUBCOMMANDS)):
        assert f" {name} " in listing.output, name
        assert runner.invoke(app, [name, "--help"]).exit_code == 0, name
