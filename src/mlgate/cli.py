"""Command-line interface: parses options, calls the operations, prints.

No logic lives here. Every ``MlgateError`` becomes one red line on stderr and
exit code 2 in ``MlgateGroup.invoke`` (the only place errors are translated);
the hidden ``--traceback`` flag re-raises instead. Click's own usage errors
also exit 2.
"""

from __future__ import annotations

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


# --- registry: release / promote / rollback / history (issue 4) ------------


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="mlgate")
