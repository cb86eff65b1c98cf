"""Command-line interface: parses options, calls an operation, renders its result
(``mlgate.render``) and maps it to an exit code. A new command is a function here and an
operation beside ``api``, ``release``, ``assign`` and ``history``.

No logic and no formatting live here. Every ``MlgateError`` becomes one red line on stderr and
exit code 2 in ``MlgateGroup.invoke`` (the only place errors are translated), and so does
output that cannot be written (a full disk, a closed pipe);
the hidden ``--traceback`` flag re-raises instead. Click's own usage errors (an
unknown option, a bad choice) are one such line and exit 2 too (``MlgateGroup.main``).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mlgate import __version__
from mlgate.errors import InputError, MlgateError

if TYPE_CHECKING:
    from mlgate.assign import StageOutcome


# Writing the output failed: a full disk or quota (``> file``), a reader that went away (``|``).
OUTPUT_LOST = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EPIPE})


def _output_lost(exc: OSError) -> None:
    """One line on stderr for output that could not be written. stdout then goes to
    /dev/null: what is still buffered would fail again, as a second message, at exit."""
    with contextlib.suppress(OSError, ValueError):  # ValueError: no descriptor (CliRunner)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    from mlgate.render.text import escaped

    where = escaped(exc.filename) if exc.filename else "the output"
    with contextlib.suppress(OSError):  # stderr is what is full: the exit code says it
        click.secho(f"mlgate: error: cannot write {where}: {exc.strerror}", fg="red", err=True)


class MlgateGroup(click.Group):
    """A click group that turns MlgateError into one stderr line and exit code 2."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Click's entry point; as a program, a usage error is one line too (click prints
        usage, a hint and the error on three), naming the command's --help."""
        run = functools.partial(super().main, args, prog_name, complete_var, **extra)
        if not standalone_mode:
            return run(standalone_mode=False)
        try:
            code: Any = run(standalone_mode=False)
        except click.exceptions.NoArgsIsHelpError as exc:  # bare `mlgate`: the help
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            from mlgate.render.text import escaped

            where = exc.ctx.command_path if exc.ctx else "mlgate"
            reason = exc.format_message().rstrip(".")
            message = escaped(f"mlgate: error: {reason} (see '{where} --help')")
            click.secho(message, fg="red", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except OSError as exc:  # --help or --version into a full file
            if exc.errno not in OUTPUT_LOST:
                raise
            _output_lost(exc)
            sys.exit(2)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MlgateError as exc:
            if ctx.params.get("show_traceback"):
                raise
            from mlgate.render.text import escaped

            # one line, whatever a message quotes (DVC's "several errors.\nFirst error at
            # line 3", a --rev holding a newline), that GitHub Actions cannot read as a
            # workflow command (a metric name holding '##[add-mask]')
            one_line = escaped(re.sub(r"\s*[\r\n]+\s*", " ", str(exc).strip()))
            click.secho(f"mlgate: error: {one_line}", fg="red", err=True)
            ctx.exit(exc.exit_code)
        except OSError as exc:  # the output: into a full file, or a pipe closed early
            if exc.errno not in OUTPUT_LOST:
                raise
            _output_lost(exc)
            ctx.exit(2)


@click.group(cls=MlgateGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlgate")
@click.option("--traceback", "show_traceback", is_flag=True, hidden=True, help="Re-raise errors.")
def cli(show_traceback: bool) -> None:
    """Quality gates, metric reports and releases for DVC pipelines."""


def _project_root() -> Path:
    from mlgate import gitio

    return gitio.find_project_root(Path.cwd())


_FILE = click.Path(dir_okay=False, path_type=Path)


# ``--baseline REF``, as check, experiments and sweep take it (they judge through api.check)
_option_baseline = click.option(
    "--baseline",
    metavar="REF",
    help=(
        "Compare with 'latest-release', 'stage:<name>' (the release a registry stage holds), "
        "'none' or a git ref (default: the gates' baseline)."
    ),
)


def _option_gates(where: str) -> Any:
    """``--gates FILE``, as ``check`` and ``report`` take it."""
    help_text = f"Read the gates from this YAML file instead of params.yaml{where}."
    return click.option("--gates", "gates_file", type=_FILE, help=help_text)


def _columns() -> int | None:
    """How wide text tables may be: ``COLUMNS`` when set (as a shell exports it; also for a
    file), else the terminal's width. A file or a pipe gets None: rows are not wrapped, so
    one row stays one line for grep and a CI log (which scrolls sideways)."""
    setting = os.environ.get("COLUMNS", "").strip()
    if setting.isdecimal() and int(setting) > 0:
        return int(setting)
    if not sys.stdout.isatty():
        return None
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns or 80
    except (OSError, ValueError):  # a terminal that reports no size
        return 80


def _colour(no_color: bool) -> bool:
    """ANSI colours on a terminal, unless --no-color or NO_COLOR (set and not empty, as
    no-color.org has it) says not."""
    return sys.stdout.isatty() and not no_color and not os.environ.get("NO_COLOR")


_option_no_color = click.option(
    "--no-color", is_flag=True, help="Print no ANSI colours (as the NO_COLOR variable does)."
)


def _option_text_or_json(help_text: str) -> Any:
    """``--format text|json`` (default text), as ``history`` takes it."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help=help_text,
    )


# --- gates: check / report (issue 3) ---------------------------------------


@cli.command()
@click.option(
    "--rev", metavar="REV", help="Judge this commit (read from git) instead of the working tree."
)
@_option_baseline
@_option_gates("")
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
@_option_no_color
def check(
    rev: str | None,
    baseline: str | None,
    gates_file: Path | None,
    output_format: str,
    allow_stale: bool,
    no_color: bool,
) -> None:
    """Judge the metrics against the gates: exit 0 pass, 1 a gate fails, 2 error."""
    from mlgate import api

    result = api.check(_project_root(), rev, baseline, gates_file, allow_stale)
    if output_format == "json":
        from mlgate.render import json

        click.echo(json.check(result))
    elif output_format == "md":
        from mlgate.render import markdown

        click.echo(markdown.check(result), nl=False)
    else:
        from mlgate.render import text

        colour = _colour(no_color)
        click.echo(text.check(result, colour, _columns()), color=colour)
    sys.exit(0 if result.passed else 1)


@cli.command()
@click.option(
    "--base",
    required=True,
    metavar="REF",
    help="The branch the change goes into; metrics are compared at its merge-base with head.",
)
@click.option(
    "--head", default="HEAD", show_default=True, metavar="REV", help="The revision to report on."
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the Markdown to this file instead of standard output.",
)
@_option_gates(" at head")
def report(base: str, head: str, output: Path | None, gates_file: Path | None) -> None:
    """Write the pull-request Markdown: verdict, gates, metric, param, data and policy changes."""
    from mlgate import api
    from mlgate.render import markdown as render_md

    markdown = render_md.report(api.report(_project_root(), base, head, gates_file))
    if output is None:
        click.echo(markdown, nl=False)
        return
    try:
        output.write_text(markdown, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{output}: cannot write the report ({exc.strerror or exc})") from exc


@cli.command()
@_option_gates(" at HEAD")
@_option_no_color
def reproduce(gates_file: Path | None, no_color: bool) -> None:
    """Run the pipeline as 'dvc repro' does, rerun every stage that writes gated metrics even
    where DVC would skip it, and compare what it wrote with the committed metrics.

    Exit 0 they reproduce, 1 they differ (a table of file, key, committed and reproduced
    values), 2 refused or an error. Outputs marked 'meta: {volatile: true}' in dvc.yaml are
    not compared: 'mlgate check' judges them as measured.
    """
    from mlgate.render import text
    from mlgate.reproduce import reproduce as run

    result = run(_project_root(), gates_file)
    colour = _colour(no_color)
    click.echo(text.reproduce(result, colour, _columns()), color=colour)
    sys.exit(0 if result.reproduces else 1)


# --- registry: release / promote / rollback / history (issue 4) ------------


def _option_remote(func: Any) -> Any:
    func = click.option(
        "--no-push",
        is_flag=True,
        help="Create the tag locally only (no fetch, no push, no remote needed).",
    )(func)
    return click.option(
        "--remote",
        default="origin",
        show_default=True,
        metavar="NAME",
        help="Git remote to fetch tags from and push the tag to.",
    )(func)


@cli.command()
@click.option("--rev", metavar="REV", help="The commit to release (must be the checked-out one).")
@click.option(
    "--bump",
    type=click.Choice(["patch", "minor", "major"]),
    default="patch",
    show_default=True,
    help="Which part of the semantic version to increase.",
)
@click.option("--artifact", metavar="NAME", help="Artifact from dvc.yaml (default: the model).")
@_option_remote
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check everything and say what would be done, but create and push no tag.",
)
@_option_gates("")
def release(
    rev: str | None,
    bump: str,
    artifact: str | None,
    remote: str,
    no_push: bool,
    dry_run: bool,
    gates_file: Path | None,
) -> None:
    """Tag the checked-out commit as <artifact>@vX.Y.Z if its gates pass.

    Exit 0 released (or already released), 1 a gate fails (no tag), 2 refused or error.
    The last line printed is the tag name.
    """
    from mlgate.release import ReleaseStatus, release
    from mlgate.render import text

    root = _project_root()
    outcome = release(root, rev, bump, artifact, remote, not no_push, dry_run, None, gates_file)
    click.echo("\n".join(text.release(outcome, remote, _columns())))
    if outcome.status is ReleaseStatus.GATES_FAILED:
        sys.exit(1)


def _print_stage(outcome: StageOutcome) -> None:
    from mlgate.render import text

    click.echo("\n".join(text.stage(outcome)))


@cli.command()
@click.argument("version")
@click.argument("stage")
@click.option("--message", metavar="TEXT", help="Why; recorded in the tag (needed with --force).")
@click.option("--force", is_flag=True, help="Skip the stage-order check (needs --message).")
@click.option("--artifact", metavar="NAME", help="Artifact from dvc.yaml (default: the model).")
@_option_remote
def promote(
    version: str,
    stage: str,
    message: str | None,
    force: bool,
    artifact: str | None,
    remote: str,
    no_push: bool,
) -> None:
    """Assign STAGE to VERSION with a GTO stage tag <artifact>#<stage>#<N>.

    VERSION must hold the stage before STAGE in the .gto order (default dev → staging →
    prod), unless --force with a --message.
    """
    from mlgate.assign import promote

    root = _project_root()
    _print_stage(promote(root, version, stage, artifact, message, force, remote, not no_push))


@cli.command()
@click.argument("stage")
@click.option("--message", required=True, metavar="TEXT", help="Why; recorded in the tag.")
@click.option("--artifact", metavar="NAME", help="Artifact from dvc.yaml (default: the model).")
@_option_remote
def rollback(stage: str, message: str, artifact: str | None, remote: str, no_push: bool) -> None:
    """Give STAGE back to the version that held it before the current one."""
    from mlgate.assign import rollback

    _print_stage(rollback(_project_root(), stage, message, artifact, remote, not no_push))


@cli.command()
@click.option(
    "--artifact",
    metavar="NAME",
    help="Artifact from dvc.yaml or the tags (default: every artifact, as gto show lists them).",
)
@_option_text_or_json("An aligned table or a JSON list.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Show the N newest.")
@click.option(
    "--metric",
    "metric_names",
    multiple=True,
    metavar="KEY",
    help="Metric column(s) of the table, dotted for nested keys (test.roc_auc; default: "
    "accuracy, f1, roc_auc when present).",
)
def history(
    artifact: str | None, output_format: str, limit: int | None, metric_names: tuple[str, ...]
) -> None:
    """Releases newest first (by semantic version) with metrics and current stages, of
    every artifact unless --artifact names one."""
    from mlgate.errors import require_text
    from mlgate.history import history as list_releases
    from mlgate.render import text

    for name in metric_names:  # printed as column headers: must be encodable text
        require_text(name, f"--metric {name!r}")
    listing = list_releases(_project_root(), artifact, limit)
    if output_format == "json":
        from mlgate.render import json

        click.echo(json.history(listing))
        # stderr: the JSON stays a list of releases
        for line in text.history_remarks(listing):
            click.echo(line, err=True)
        return
    click.echo(text.history(listing, metric_names, _columns()))


@cli.command()
@click.argument("ref", default="latest")
@click.option("--artifact", metavar="NAME", help="Artifact from dvc.yaml (default: the model).")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "md"]),
    default="text",
    show_default=True,
    help="A summary, the release and its whole lineage block as JSON, or its model card "
    "with the gate verdict as Markdown.",
)
def show(ref: str, artifact: str | None, output_format: str) -> None:
    """What produced a release: REF is 'latest' (default), a version or a stage (prod), or
    as gto prints them: NAME@vX.Y.Z, NAME#STAGE."""
    from mlgate.history import show as show_release
    from mlgate.render import json, text

    root = _project_root()
    shown = show_release(root, ref, artifact)
    if output_format == "md":
        from mlgate.history import release_card
        from mlgate.render import markdown

        click.echo(markdown.show(shown, release_card(root, shown)), nl=False)
    else:
        click.echo(json.show(shown) if output_format == "json" else text.show(shown, _columns()))
    if shown.note:
        click.echo(text.escaped(shown.note), err=output_format != "text")


# --- tuning: experiments ranked by the gates (issue 20) ------------------------------------


@cli.command()
@_option_baseline
@_option_gates("")
@click.option(
    "-A",
    "--all",
    "all_commits",
    is_flag=True,
    help="Rank the experiments of every commit, not only those run from HEAD.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "md"]),
    default="text",
    show_default=True,
    help="Output: an aligned table, JSON, or Markdown.",
)
@_option_no_color
def experiments(
    baseline: str | None,
    gates_file: Path | None,
    all_commits: bool,
    output_format: str,
    no_color: bool,
) -> None:
    """DVC experiments ranked by the gates of HEAD, best passing first: exit 0 when one
    passes, 1 when none does, 2 on errors."""
    from mlgate.experiments import rank
    from mlgate.render import experiments as render

    ranking = rank(_project_root(), baseline, gates_file, all_commits)
    if output_format == "json":
        click.echo(render.as_json(ranking))
    elif output_format == "md":
        click.echo(render.as_markdown(ranking), nl=False)
    else:
        colour = _colour(no_color)
        click.echo(render.as_text(ranking, colour, _columns()), color=colour)
    sys.exit(0 if ranking.passed else 1)


@cli.command()
@click.argument(
    "sweep_file",
    default="sweep.yaml",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="[SWEEP_FILE]",
)
@click.option(
    "-j", "--jobs", type=click.IntRange(1, 64), help="DVC queue workers (default: the file's jobs)."
)
@click.option(
    "--trials", type=click.IntRange(1, 10_000), help="Run this many trials (default: the file's)."
)
@click.option(
    "--shard",
    metavar="I/N",
    help="Run only the trials whose index is I modulo N (one CI runner of N; grid and random).",
)
@_option_baseline
@_option_gates("")
@click.option(
    "--dry-run", is_flag=True, help="Print the trials (grid and random) without running them."
)
@_option_no_color
def sweep(
    sweep_file: Path,
    jobs: int | None,
    trials: int | None,
    shard: str | None,
    baseline: str | None,
    gates_file: Path | None,
    dry_run: bool,
    no_color: bool,
) -> None:
    """Run the search space of SWEEP_FILE (default sweep.yaml) as DVC experiments and rank
    them by the gates: exit 0 when one passes, 1 when none does, 2 on errors."""
    from mlgate import sweep as sweeping
    from mlgate.render import experiments as render

    spec = sweeping.load(sweep_file)
    part = sweeping.parse_shard(shard)
    if dry_run:
        if spec.sampler == "tpe":
            raise click.UsageError(
                "--dry-run lists grid and random trials; tpe proposes as it goes"
            )
        for trial in sweeping.propose(spec, trials):
            if part is None or trial.index % part[1] == part[0]:
                click.echo(f"{trial.name}  {' '.join(trial.overrides())}")
        return
    result = sweeping.run(_project_root(), spec, jobs, trials, part, baseline, gates_file)
    for name in result.failed:
        click.echo(f"trial {name} failed (dvc queue logs {name})", err=True)
    colour = _colour(no_color)
    if result.ranking is not None:
        click.echo(render.as_text(result.ranking, colour, _columns()), color=colour)
    sys.exit(0 if result.ranking is not None and result.ranking.passed else 1)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="mlgate")
