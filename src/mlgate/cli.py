"""Command-line interface: parses options, calls the operations, prints.

No logic lives here. Every ``MlgateError`` becomes one red line on stderr and
exit code 2 in ``MlgateGroup.invoke`` (the only place errors are translated);
the hidden ``--traceback`` flag re-raises instead. Click's own usage errors
also exit 2.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from mlgate import __version__
from mlgate.errors import MlgateError


class MlgateGroup(click.Group):
    """A click group that turns MlgateError into one stderr line and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MlgateError as exc:
            if ctx.params.get("show_traceback"):
                raise
            click.secho(f"mlgate: error: {exc}", fg="red", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=MlgateGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlgate")
@click.option("--traceback", "show_traceback", is_flag=True, hidden=True, help="Re-raise errors.")
def cli(show_traceback: bool) -> None:
    """Quality gates, metric reports and releases for DVC pipelines."""


# --- gates: check / report (issue 3) ---------------------------------------


@cli.command()
@click.option(
    "--rev", metavar="REV", help="Judge this commit (read from git) instead of the working tree."
)
@click.option(
    "--baseline",
    metavar="REF",
    help="Compare with 'latest-release', 'none' or a git ref (default: the gates' baseline).",
)
@click.option(
    "--gates",
    "gates_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the gates from this YAML file instead of params.yaml.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "md"]),
    default="text",
    show_default=True,
    help="Output: an aligned table, the JSON contract, or Markdown.",
)
@click.option(
    "--allow-stale",
    is_flag=True,
    help="Judge the working tree even if 'dvc status' is not clean or dvc.lock is unreadable.",
)
def check(
    rev: str | None,
    baseline: str | None,
    gates_file: Path | None,
    output_format: str,
    allow_stale: bool,
) -> None:
    """Judge the metrics against the gates: exit 0 pass, 1 a gate fails, 2 error."""
    from mlgate import api, gitio

    root = gitio.find_project_root(Path.cwd())
    result = api.check(root, rev, baseline, gates_file, allow_stale)
    if output_format == "json":
        click.echo(json.dumps(result.as_dict(), indent=2))
    elif output_format == "md":
        from mlgate.report import render_check_md

        click.echo(render_check_md(result), nl=False)
    else:
        from mlgate.textfmt import render_check

        colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        click.echo(render_check(result, colour=colour), color=colour)
    sys.exit(0 if result.passed else 1)


# --- registry: release / promote / rollback / history (issue 4) ------------


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="mlgate")
