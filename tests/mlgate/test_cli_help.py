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
