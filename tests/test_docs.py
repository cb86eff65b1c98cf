"""The README is the user's door: it documents every mlgate command and every option."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from mlgate.cli import cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_readme_documents_every_command_and_option(name: str) -> None:
    assert f"mlgate {name}" in README, f"README does not mention `mlgate {name}`"
    for param in cli.commands[name].params:
        if isinstance(param, click.Option) and not param.hidden:
            for option in (o for o in param.opts if o.startswith("--")):
                assert option in README, f"README does not document `mlgate {name} {option}`"


def test_readme_quickstart_is_what_ci_runs() -> None:
    """.ci/run runs the README's test command, word for word."""
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    quickstart = README[README.index("## Quickstart") :]
    test_command = next(line for line in quickstart.splitlines() if "pytest" in line)
    assert test_command.strip() in ci
