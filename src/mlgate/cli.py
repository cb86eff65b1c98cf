"""Command-line interface: parses options, calls the operations, prints.

No logic lives here. Every ``MlgateError`` becomes one red line on stderr and
exit code 2 in ``MlgateGroup.invoke`` (the only place errors are translated);
the hidden ``--traceback`` flag re-raises instead. Click's own usage errors (an
unknown option, a bad choice) are one such line and exit 2 too (``MlgateGroup.main``).
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from mlgate import __version__
from mlgate.errors import InputError, MlgateError


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
            where = exc.ctx.command_path if exc.ctx else "mlgate"
            reason = exc.format_message().rstrip(".")
            message = f"mlgate: error: {reason} (see '{where} --help')"
            click.secho(message, fg="red", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MlgateError as exc:
            if ctx.params.get("show_traceback"):
                raise
            # one line, whatever a message quotes (DVC's "several errors.\nFirst error at
            # line 3", a --rev holding a newline)
            one_line = re.sub(r"\s*[\r\n]+\s*", " ", str(exc).strip())
            click.secho(f"mlgate: error: {one_line}", fg="red", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=MlgateGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlgate")
@click.option("--traceback", "show_traceback", is_flag=True, hidden=True, help="Re-raise errors.")
def cli(show_traceback: bool) -> None:
    """Quality gates, metric reports and releases for DVC pipelines."""


def _option_text_or_json(help_text: str) -> Any:
    """``--format text|json`` (default text), as ``history`` and ``show`` take it."""
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
        _echo_json(result.as_dict())
    elif output_format == "md":
        from mlgate.report import render_check_md

        click.echo(render_check_md(result), nl=False)
    else:
        from mlgate.textfmt import render_check

        colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        click.echo(render_check(result, colour=colour), color=colour)
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
@click.option(
    "--gates",
    "gates_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the gates from this YAML file instead of params.yaml at head.",
)
def report(base: str, head: str, output: Path | None, gates_file: Path | None) -> None:
    """Write the pull-request Markdown: verdict, gates, metric, param, data and policy changes."""
    from mlgate import api, gitio

    root = gitio.find_project_root(Path.cwd())
    markdown = api.report(root, base, head, gates_file)
    if output is None:
        click.echo(markdown, nl=False)
        return
    try:
        output.write_text(markdown, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{output}: cannot write the report ({exc.strerror or exc})") from exc


# --- registry: release / promote / rollback / history (issue 4) ------------


def _project_root() -> Path:
    from mlgate import gitio

    return gitio.find_project_root(Path.cwd())


def _echo_json(value: Any, sort_keys: bool = False) -> None:
    """``value`` as strict JSON on stdout: a NaN or infinity (a metric, or a lineage block
    another tool wrote) becomes text, since no JSON parser but Python's reads NaN."""
    from mlgate.lineage import jsonable

    click.echo(json.dumps(jsonable(value), indent=2, sort_keys=sort_keys, allow_nan=False))


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
def release(
    rev: str | None, bump: str, artifact: str | None, remote: str, no_push: bool, dry_run: bool
) -> None:
    """Tag the checked-out commit as <artifact>@vX.Y.Z if its gates pass.

    Exit 0 released (or already released), 1 a gate fails (no tag), 2 refused or error.
    The last line printed is the tag name.
    """
    from mlgate import registry

    outcome = registry.release(_project_root(), rev, bump, artifact, remote, not no_push, dry_run)
    for note in outcome.notes:
        click.echo(note)
    short_sha = outcome.sha[:8]
    if outcome.status == "already-released":
        if not outcome.pushed:
            done = "nothing to do"
        elif outcome.dry_run:
            done = f"dry run: would publish the existing local tag {outcome.tag} to {remote}"
        else:
            done = f"pushed it to {remote}"
        click.echo(f"{short_sha} is already released as {outcome.tag}; {done}")
        click.echo(outcome.tag)
        return
    verdict = outcome.check
    if outcome.status == "gates-failed" and verdict is not None:
        from mlgate.textfmt import render_check

        click.echo(render_check(verdict))
        click.echo(f"no release: the gates failed for {short_sha}")
        sys.exit(1)
    against = verdict.baseline.ref if verdict and verdict.baseline else "no baseline"
    rules = len(verdict.rules) if verdict else 0
    click.echo(f"gates passed against {against} ({rules} rules)")
    if outcome.status == "dry-run":
        where = f" and push it to {remote}" if outcome.pushed else " (not pushed)"
        click.echo(f"dry run: would create {outcome.tag} on {short_sha}{where}")
    else:
        where = f" and pushed it to {remote}" if outcome.pushed else " (not pushed)"
        click.echo(f"created {outcome.tag} on {short_sha}{where}")
    click.echo(outcome.tag)


def _print_stage(outcome: Any) -> None:
    for note in outcome.notes:
        click.echo(note)
    if outcome.status == "already-assigned":
        click.echo(f"{outcome.version} already holds {outcome.stage}; nothing to do")
        return
    was = f" (was {outcome.previous})" if outcome.previous else ""
    click.echo(f"{outcome.stage}: {outcome.version}{was}")
    click.echo(outcome.tag)


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
    from mlgate import registry

    _print_stage(
        registry.promote(
            _project_root(), version, stage, artifact, message, force, remote, not no_push
        )
    )


@cli.command()
@click.argument("stage")
@click.option("--message", required=True, metavar="TEXT", help="Why; recorded in the tag.")
@click.option("--artifact", metavar="NAME", help="Artifact from dvc.yaml (default: the model).")
@_option_remote
def rollback(stage: str, message: str, artifact: str | None, remote: str, no_push: bool) -> None:
    """Give STAGE back to the version that held it before the current one."""
    from mlgate import registry

    _print_stage(registry.rollback(_project_root(), stage, message, artifact, remote, not no_push))


@cli.command()
@click.option("--artifact", metavar="NAME", help="Artifact from dvc.yaml (default: the model).")
@_option_text_or_json("An aligned table or a JSON list.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Show the N newest.")
@click.option(
    "--metric",
    "metric_names",
    multiple=True,
    metavar="KEY",
    help="Metric column(s) of the table (default: accuracy, f1, roc_auc when present).",
)
def history(
    artifact: str | None, output_format: str, limit: int | None, metric_names: tuple[str, ...]
) -> None:
    """Releases newest first (by semantic version) with metrics and current stages."""
    from mlgate import registry

    for name in metric_names:  # printed as column headers: must be encodable text
        registry.require_text(name, f"--metric {name!r}")
    listing = registry.history(_project_root(), artifact, limit)
    entries = listing.entries
    # A tag named like a release or stage but on no commit is said, so that nobody wonders
    # where the version went; so is a shallow clone, whose tags may not all be here (both on
    # stderr with JSON, which stays a list of releases).
    remarks = [f"ignored {name}: {why}" for name, why in listing.ignored]
    remarks += [listing.note] if listing.note else []
    if output_format == "json":
        _echo_json([entry.as_dict() for entry in entries])
        for line in remarks:
            click.echo(line, err=True)
        return
    if not entries:
        click.echo(
            "\n".join(["no releases found" if listing.note else "no releases yet", *remarks])
        )
        return
    from mlgate.gates import fmt

    present = list(dict.fromkeys(k for entry in entries for k in entry.metrics))
    columns = (
        list(metric_names)
        or [k for k in ("accuracy", "f1", "roc_auc") if k in present]
        or present[:3]
    )
    notes = {"missing": "no lineage: metrics from files", "corrupt": "lineage corrupt"}
    rows = [
        [
            str(entry.version),
            entry.date[:16].replace("T", " "),
            entry.sha[:8],
            ",".join(entry.stages),
            *(fmt(entry.metrics.get(k)) for k in columns),
            notes.get(entry.lineage, ""),
        ]
        for entry in entries
    ]
    click.echo(_ascii_table(["version", "date", "commit", "stages", *columns, "note"], rows))
    for line in remarks:
        click.echo(line)


@cli.command()
@click.argument("ref", default="latest")
@click.option("--artifact", metavar="NAME", help="Artifact from dvc.yaml (default: the model).")
@_option_text_or_json("A summary, or the release and its whole lineage block as JSON.")
def show(ref: str, artifact: str | None, output_format: str) -> None:
    """What produced a release: REF is 'latest' (default), a version or a stage (prod)."""
    from mlgate import registry

    shown = registry.show(_project_root(), ref, artifact)
    if output_format == "json":
        _echo_json(shown.as_dict(), sort_keys=True)
    else:
        click.echo("\n".join(_show_lines(shown)))
    if shown.note:
        click.echo(shown.note, err=output_format == "json")


def _show_lines(shown: Any) -> list[str]:
    from mlgate.gates import fmt

    entry, block = shown.entry, shown.lineage
    stages = f"  stages: {', '.join(entry.stages)}" if entry.stages else ""
    date = entry.date[:16].replace("T", " ")
    lines = [f"{entry.tag}  commit {entry.sha[:12]}  {date}{stages}"]
    if not block:
        why = {"missing": "no lineage block (a tag mlgate did not make)"}.get(
            entry.lineage, f"lineage corrupt: {entry.problem}"
        )
        metrics = "  ".join(f"{k} {fmt(v)}" for k, v in entry.metrics.items())
        return [*lines, why, f"metrics (from the files at its commit): {metrics or 'none'}"]
    gates = block.get("gates") if isinstance(block.get("gates"), dict) else {}
    baseline = gates.get("baseline") if isinstance(gates.get("baseline"), dict) else None
    verdict = "passed" if gates.get("passed") else "failed"
    against = (
        f"against {baseline.get('ref')}"
        if baseline
        else f"with no baseline ({gates.get('baseline_note') or 'none recorded'})"
    )
    lines.append(f"gates: {verdict} {against}, {len(gates.get('rules') or [])} rules")
    model = block.get("model") if isinstance(block.get("model"), dict) else {}
    lines.append(f"model: {model.get('path') or '?'}  {model.get('hash') or 'no hash'}")
    metrics = "  ".join(f"{k} {fmt(v)}" for k, v in entry.metrics.items())
    lines.append(f"metrics: {metrics or 'none'}")
    locked = block.get("dvc_lock") if isinstance(block.get("dvc_lock"), dict) else {}
    inputs = [
        (path, spec)
        for path, spec in sorted(locked.items())
        if isinstance(spec, dict) and spec.get("kind") == "dep"
    ]
    if inputs:
        lines.append("inputs (dvc.lock):")
        lines += [f"  {path}  {spec.get('hash')}  ({spec.get('stage')})" for path, spec in inputs]
    params = block.get("params") if isinstance(block.get("params"), dict) else {}
    for path, values in params.items():
        count = len(values) if isinstance(values, dict) else 0
        lines.append(f"params: {path} ({count} values; --format json lists them)")
    return lines


def _ascii_table(headers: list[str], rows: list[list[str]]) -> str:
    """Aligned columns for ASCII cells (tag grammar, dates, numbers): ``len`` is the width,
    which keeps a 1,000-row history fast (textfmt.table measures wide characters)."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [headers, ["-" * w for w in widths], *rows]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="mlgate")
