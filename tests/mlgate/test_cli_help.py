"""Every command and every option of the mlgate group has help text (all teams' commands)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from mlgate.cli import cli

COMMANDS = sorted(cli.commands)


def test_the_gates_commands_are_registered() -> None:
    assert {"check", "report"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_command_and_options_have_help(name: str) -> None:
    command = cli.commands[name]
    assert command.help and command.help.strip(), f"'{name}' has no help"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help and param.help.strip(), f"'{name} {param.opts[0]}' has no help"
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert command.get_short_help_str() in result.output or name in result.output


def test_group_options_have_help() -> None:
    for param in cli.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, param.opts
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["check", "--bogus"], "No such option '--bogus' (see 'mlgate check --help')"),
        (
            ["release", "--bump", "huge"],
            "Invalid value for '--bump': 'huge' is not one of 'patch', 'minor', 'major' "
            "(see 'mlgate release --help')",
        ),
        (["promote"], "Missing argument 'VERSION' (see 'mlgate promote --help')"),
        (["nosuch"], "No such command 'nosuch' (see 'mlgate --help')"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args: list[str], line: str) -> None:
    result = CliRunner().invoke(cli, args, prog_name="mlgate")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"mlgate: error: {line}"]


def test_help_and_version_still_exit_0() -> None:
    for args in (["--help"], ["--version"], ["check", "-h"]):
        result = CliRunner().invoke(cli, args, prog_name="mlgate")
        assert result.exit_code == 0, (args, result.output)
        assert result.stdout and not result.stderr


def test_bare_mlgate_prints_the_help() -> None:
    result = CliRunner().invoke(cli, [], prog_name="mlgate")
    assert result.stdout.startswith("Usage: mlgate") or result.stderr.startswith("Usage: mlgate")
    assert "mlgate: error" not in result.output
