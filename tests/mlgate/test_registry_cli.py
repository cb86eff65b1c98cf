"""The registry commands are documented: every command, argument-free option has help."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from mlgate.cli import cli

REGISTRY_COMMANDS = ("release", "promote", "rollback", "history")


@pytest.mark.parametrize("name", REGISTRY_COMMANDS)
def test_every_option_has_help(name: str) -> None:
    command = cli.commands[name]
    assert command.help and command.help.strip()
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"mlgate {name} {param.opts[0]} has no help"


@pytest.mark.parametrize("name", REGISTRY_COMMANDS)
def test_help_runs_and_the_docs_document_the_command(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0 and "Usage: " in result.output
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs" / "commands"
    assert f"mlgate {name}" in (docs / f"{name}.md").read_text(encoding="utf-8")


def test_history_import_path_stays_light() -> None:
    """history must not import DVC, GitPython or importlib.metadata (fast on 1,000 tags)."""
    import subprocess
    import sys

    code = (
        "import sys, mlgate.cli, mlgate.history, mlgate.render.text, mlgate.render.json;"
        "heavy = [m for m in ('dvc', 'git', 'importlib.metadata', 'pandas', 'sklearn')"
        " if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
