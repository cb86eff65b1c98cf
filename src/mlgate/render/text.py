"""Terminal rendering: aligned tables and lines, coloured only when asked (on a terminal).

Every line passes through ``escaped``: metric names, param keys, refs and paths come from the
project, and a pull request controls them.

Given ``columns`` (the terminal's width, which ``cli`` decides), a table that is wider gives
room from its widest wrapping column first (a metric name, a rule, a reason, a note) and wraps
those cells within the column; a number never breaks, and status, value, baseline and change
never wrap, so they stay on the row's first line. Wrapping is rich's (word boundaries by
display cells, a word longer than its column folded). rich's ``Table`` is not used to lay
out: it took 0.79 s for 1,000 history rows (``history``'s budget is 0.3 s, BENCHMARKS.md),
and ``rich.text`` takes about 0.1 s to import, so a table that fits imports nothing of rich.
Without ``columns`` (a file, a pipe) nothing is wrapped: one row is one line for grep.
"""

from __future__ import annotations

import functools
import io
import json
import re
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from mlgate.gates import as_number, fmt, fmt_apart
from mlgate.lineage import CORRUPT, MISSING
from mlgate.render import STALE, status_word
from mlgate.render import stale_stages as stale_text

if TYPE_CHECKING:
    from mlgate.api import CheckResult
    from mlgate.assign import StageOutcome
    from mlgate.history import History, HistoryEntry, Shown
    from mlgate.release import ReleaseOutcome
    from mlgate.reproduce import Difference, ReproduceResult


# What ends or rewrites a line in a terminal or a log: C0 and C1 controls (newline, carriage
# return, tab, escape, NEL) and Unicode's line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# GitHub Actions' older workflow-command form, parsed anywhere in a line
# (actions/runner, ActionCommand.TryParse: "##[set-output name=x;]value")
_OLD_COMMAND = "##["


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    )


def escaped(text: object) -> str:
    r"""``text`` as one line that GitHub Actions cannot read as a workflow command.

    Actions reads every line a step prints, on stdout and stderr, and runs it as a command
    when it starts with '::' after any whitespace (``::add-mask::``, ``::stop-commands::``,
    ``::error::``) or holds '##[' anywhere. So control characters show as Python escapes
    (a metric named "a", newline, "::warning::x" shows as ``a\n::warning::x``, on one
    line), a leading '::' shows its first ':' as ``\x3a``, and '##[' as ``##\x5b``.
    Ordinary text is returned as it is.
    """
    line = str(text)
    if line.isprintable() and _OLD_COMMAND not in line and not line.lstrip().startswith("::"):
        return line
    line = _CONTROL.sub(_escape, line)
    start = len(line) - len(line.lstrip())
    if line.startswith("::", start):
        line = f"{line[:start]}\\x3a{line[start + 1 :]}"
    return line.replace(_OLD_COMMAND, "##\\x5b")


def width(text: str) -> int:
    """Display width: East Asian wide characters take two columns, combining marks none.
    ASCII (tag grammar, dates, numbers: every cell of a 1,000-row history) is ``len``."""
    if text.isascii():
        return len(text)
    total = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        total += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return total


# A word that reads as a number ("-0.005", "1,234", "(-65.42%)", "1.978e+05;"): never broken.
_NUMBER = re.compile(r"[-+]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?%?", re.IGNORECASE)
_AROUND_NUMBER = "()[]{},;:"
NARROWEST = 6  # cells a wrapping column keeps when it can (its header reads whole)


@functools.lru_cache(maxsize=1)
def _console() -> Any:
    from rich.console import Console

    # only for Text.wrap's signature: nothing is printed through it, nothing styled
    return Console(
        file=io.StringIO(), color_system=None, highlight=False, markup=False, emoji=False
    )


def wrapped(text: str, cells: int) -> list[str]:
    """``text`` as lines of at most ``cells`` display cells, broken at spaces; only a word
    longer than a whole line is folded."""
    if width(text) <= cells:
        return [text]
    return list(_wrap(text, max(cells, 1)))


# A history's cells repeat (its stages, its notes): 1,000 rows wrapped at 80 columns took
# 0.41 s with rich wrapping every cell, 0.12 s (rich imported) with each distinct one once.
@functools.lru_cache(maxsize=4096)
def _wrap(text: str, cells: int) -> tuple[str, ...]:
    from rich.text import Text

    lines = Text(text).wrap(_console(), cells, overflow="fold")
    return tuple(line.plain.rstrip() for line in lines) or ("",)


def fill(line: str, columns: int | None) -> list[str]:
    """A line of fields set apart by two spaces (``show``'s, a verdict) in lines of at most
    ``columns`` cells: a field moves to the next line whole, indented two more than the line;
    a field longer than a line wraps at its spaces."""
    if columns is None or width(line) <= columns:
        return [line]
    stripped = line.lstrip(" ")
    hang = " " * (len(line) - len(stripped) + 2)
    lines: list[str] = []
    current = line[: len(line) - len(stripped)]
    for field in filter(None, (part.strip(" ") for part in stripped.split("  "))):
        if current.strip() and width(f"{current}  {field}") <= columns:
            current = f"{current}  {field}"
            continue
        if current.strip():
            lines.append(current)
            current = hang
        pieces = wrapped(field, columns - len(hang))
        block = [current + pieces[0], *(hang + piece for piece in pieces[1:])]
        lines += block[:-1]
        current = block[-1]
    return [*lines, current]


def _floor(column: Sequence[str], natural: int) -> int:
    """How narrow a wrapping column may get: its longest number, and a few cells."""
    numbers = [
        width(word)
        for cell in column
        for word in cell.split()
        if _NUMBER.fullmatch(word.strip(_AROUND_NUMBER))
    ]
    return max([min(natural, NARROWEST), *numbers])


def _fit(natural: Sequence[int], floors: Sequence[int], room: int) -> list[int]:
    """Column widths summing to at most ``room`` where the floors allow: the widest column
    above its floor gives one cell at a time, so the wrapping columns end up alike."""
    widths = list(natural)
    excess = sum(widths) - room
    while excess > 0:
        shrinkable = [
            i for i, (w, floor) in enumerate(zip(widths, floors, strict=True)) if w > floor
        ]
        if not shrinkable:
            break
        widths[max(shrinkable, key=widths.__getitem__)] -= 1
        excess -= 1
    return widths


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    colours: Sequence[str | None] = (),
    columns: int | None = None,
    wrapping: Sequence[int] = (),
) -> str:
    """Columns padded to their widest cell; ``colours[i]`` (a click colour) tints row ``i``.
    Wider than ``columns``, the columns at the indexes in ``wrapping`` narrow and their
    cells wrap (module docstring)."""
    heads = [escaped(header) for header in headers]
    cells = [[escaped(cell) for cell in row] for row in rows]
    widths = [width(h) for h in heads]
    for row in cells:
        widths = [max(w, width(cell)) for w, cell in zip(widths, row, strict=True)]
    gaps = 2 * (len(widths) - 1)
    if columns is not None and sum(widths) + gaps > columns:
        by_column = list(zip(heads, *cells, strict=True))
        floors = [_floor(by_column[i], w) if i in wrapping else w for i, w in enumerate(widths)]
        widths = _fit(widths, floors, columns - gaps)

    def joined(row: Sequence[str]) -> str:
        padded = [cell + " " * (w - width(cell)) for cell, w in zip(row, widths, strict=True)]
        return "  ".join(padded).rstrip()

    def lines(row: Sequence[str]) -> list[str]:
        if all(width(cell) <= w for cell, w in zip(row, widths, strict=True)):
            return [joined(row)]
        parts = [wrapped(cell, w) for cell, w in zip(row, widths, strict=True)]
        height = max(map(len, parts))
        return [joined([p[k] if k < len(p) else "" for p in parts]) for k in range(height)]

    out = [*lines(heads), joined(["-" * w for w in widths])]
    for i, row in enumerate(cells):
        colour = colours[i] if i < len(colours) else None
        out += [click.style(text, fg=colour) if colour else text for text in lines(row)]
    return "\n".join(out)


_COLOUR = {"PASS": "green", "FAIL": "red", "WARN": "yellow", "SKIP": "cyan"}


def change_text(value: float | None, baseline: float | None) -> str:
    if value is None or baseline is None:
        return "–"
    return f"{value - baseline:+.4g}"


def check(result: CheckResult, colour: bool = False, columns: int | None = None) -> str:
    """The check as an aligned table plus a verdict line (ANSI colours only when ``colour``),
    at most ``columns`` wide when given."""
    headers = ["status", "metric", "value", "baseline", "change", "rule", "reason"]
    rows = []
    colours: list[str | None] = []
    for rule_result in result.rules:
        word = status_word(rule_result)
        rows.append(
            [
                word,
                rule_result.metric,
                fmt(rule_result.value),
                fmt(rule_result.baseline),
                change_text(rule_result.value, rule_result.baseline),
                rule_result.rule.describe(),
                rule_result.reason,
            ]
        )
        colours.append(_COLOUR[word] if colour else None)
    if result.baseline is not None:
        against = f"baseline {result.baseline.ref} ({result.baseline.sha[:8]})"
    else:
        against = f"no baseline: {result.baseline_note}"
    failed = sum(1 for r in result.rules if r.failed)
    warned = sum(1 for r in result.rules if not r.passed and not r.failed)
    if result.passed:
        summary = f"PASSED: {len(result.rules)} gate(s) on {result.rev_label}, {against}"
    else:
        summary = (
            f"FAILED: {failed} of {len(result.rules)} gate(s) on {result.rev_label}, {against}"
        )
    if warned:
        summary += f"; {warned} warning(s)"
    verdict = fill(escaped(summary), columns)
    if colour:
        tint = "green" if result.passed else "red"
        verdict = [click.style(line, fg=tint, bold=True) for line in verdict]
    # metric, rule and reason wrap; status, value, baseline and change stay on the first line
    gates = table(headers, rows, colours, columns, wrapping=(1, 5, 6))
    return _stale_lines(result, colour, columns) + gates + "\n\n" + "\n".join(verdict)


def _stale_lines(result: CheckResult, colour: bool, columns: int | None) -> str:
    """The warning above a check of a commit whose dvc.lock does not match it ('' if none)."""
    if not result.stale:
        return ""
    line = f"STALE: {STALE}; dvc.lock does not match {result.rev_label}: "
    lines = fill(escaped(line + stale_text(result.stale)), columns)
    if colour:
        lines = [click.style(text, fg="yellow", bold=True) for text in lines]
    return "\n".join(lines) + "\n\n"


# --- reproduce -----------------------------------------------------------------------------

DIFFERENCE_WIDTH = 60  # a value longer than this (a list, a long string) is cut


def _values(difference: Difference) -> tuple[str, str]:
    from mlgate.api import ABSENT

    old, new = difference.committed, difference.reproduced
    if as_number(old) is not None and as_number(new) is not None:
        return fmt_apart(float(old), float(new))

    def shown(value: object) -> str:
        if value is ABSENT:
            return "(absent)"
        text = escaped(json.dumps(value, ensure_ascii=False, default=str))
        return text if len(text) <= DIFFERENCE_WIDTH else text[: DIFFERENCE_WIDTH - 1] + "…"

    return shown(old), shown(new)


def reproduce(result: ReproduceResult, colour: bool = False, columns: int | None = None) -> str:
    """What ``mlgate reproduce`` prints after DVC's own lines: the stages it reran, then
    either the table of what differs or that the committed metrics reproduce."""
    ran = ", ".join(map(escaped, result.ran)) or "no stage (all up to date)"
    lines = ["", f"dvc repro ran: {ran}"]
    if result.forced:
        lines.append(
            f"rerun although DVC would have skipped them (they write gated metrics): "
            f"{', '.join(map(escaped, result.forced))}"
        )
    if result.volatile:
        lines.append(
            f"volatile, judged as measured in this run: {', '.join(map(escaped, result.volatile))}"
        )
    lines = [short for line in lines for short in fill(line, columns)]
    if result.reproduces:
        verdict = f"committed metrics reproduce: {', '.join(map(escaped, result.compared))} "
        verdict += f"at {result.head}"
        shown = fill(verdict, columns)
        return "\n".join([*lines, *(click.style(v, fg="green") if colour else v for v in shown)])
    rows = [[escaped(d.path), escaped(d.key), *_values(d)] for d in result.differences]
    heading = f"committed metrics do not reproduce at {result.head}:"
    return "\n".join(
        [
            *lines,
            "",
            click.style(heading, fg="red", bold=True) if colour else heading,
            table(["file", "key", "committed", "reproduced"], rows, (), columns, (0, 1, 2, 3)),
        ]
    )


# --- registry ------------------------------------------------------------------------------


def release(outcome: ReleaseOutcome, remote: str, columns: int | None = None) -> list[str]:
    """What ``mlgate release`` prints; the last line is the tag name (none when gates failed).
    Only the gates' table, when they failed, is fitted to ``columns``: a script reads the
    tag from the last line, whole."""
    from mlgate.release import ReleaseStatus

    lines = list(outcome.notes)
    short_sha = outcome.sha[:8]
    verdict = outcome.check
    if outcome.status is ReleaseStatus.ALREADY_RELEASED:
        if not outcome.pushed:
            done = "nothing to do"
        elif outcome.dry_run:
            done = f"dry run: would publish the existing local tag {outcome.tag} to {remote}"
        else:
            done = f"pushed it to {remote}"
        lines += [f"{short_sha} is already released as {outcome.tag}; {done}", outcome.tag or ""]
        return [escaped(line) for line in lines]
    if outcome.status is ReleaseStatus.GATES_FAILED and verdict is not None:
        failed = f"no release: the gates failed for {short_sha}"
        return [*map(escaped, lines), check(verdict, columns=columns), failed]
    against = verdict.baseline.ref if verdict and verdict.baseline else "no baseline"
    rules = len(verdict.rules) if verdict else 0
    lines.append(f"gates passed against {against} ({rules} rules)")
    if outcome.status is ReleaseStatus.DRY_RUN:
        where = f" and push it to {remote}" if outcome.pushed else " (not pushed)"
        lines.append(f"dry run: would create {outcome.tag} on {short_sha}{where}")
    else:
        where = f" and pushed it to {remote}" if outcome.pushed else " (not pushed)"
        lines.append(f"created {outcome.tag} on {short_sha}{where}")
    return [escaped(line) for line in [*lines, outcome.tag or ""]]


def stage(outcome: StageOutcome) -> list[str]:
    """What ``promote`` and ``rollback`` print; the last line is the new tag, if any."""
    from mlgate.assign import StageStatus

    if outcome.status is StageStatus.ALREADY_ASSIGNED:
        done = [f"{outcome.version} already holds {outcome.stage}; nothing to do"]
    else:
        was = f" (was {outcome.previous})" if outcome.previous else ""
        done = [f"{outcome.stage}: {outcome.version}{was}", outcome.tag or ""]
    return [escaped(line) for line in [*outcome.notes, *done]]


def history_remarks(listing: History) -> list[str]:
    """A tag named like a release or stage but on no commit is said, so that nobody wonders
    where the version went; so is a shallow clone, whose tags may not all be here."""
    remarks = [f"ignored {name}: {why}" for name, why in listing.ignored]
    return [escaped(line) for line in ([*remarks, listing.note] if listing.note else remarks)]


_NOTES = {MISSING: "no lineage: metrics from files", CORRUPT: "lineage corrupt"}


def history(listing: History, metric_names: Sequence[str] = (), columns: int | None = None) -> str:
    """The releases as a table (newest first), then the remarks; with releases of several
    artifacts, one table per artifact under its name (their metrics differ)."""
    entries = listing.entries
    remarks = [short for line in history_remarks(listing) for short in fill(line, columns)]
    if not entries:
        return "\n".join(["no releases found" if listing.note else "no releases yet", *remarks])
    by_artifact: dict[str, list[HistoryEntry]] = {}
    for entry in entries:
        by_artifact.setdefault(entry.artifact, []).append(entry)
    if len(by_artifact) == 1:
        return "\n".join([_history_table(entries, metric_names, columns), *remarks])
    tables = [
        "\n".join([*fill(escaped(name), columns), _history_table(rows, metric_names, columns)])
        for name, rows in by_artifact.items()
    ]
    return "\n".join(["\n\n".join(tables), *remarks])


def _history_table(
    entries: Sequence[HistoryEntry], metric_names: Sequence[str], columns: int | None
) -> str:
    shown = (
        list(metric_names)
        or [k for k in ("accuracy", "f1", "roc_auc") if any(k in e.metrics for e in entries)]
        or _first_keys(entries, 3)
    )
    rows = [
        [
            str(entry.version),
            _minute(entry.date),
            entry.sha[:8],
            ",".join(entry.stages),
            *(fmt(entry.metrics.get(k)) for k in shown),
            _NOTES.get(entry.lineage, ""),
        ]
        for entry in entries
    ]
    headers = ["version", "date", "commit", "stages", *shown, "note"]
    # stages, the metrics' names (their numbers never break) and the note wrap
    return table(headers, rows, (), columns, wrapping=range(3, len(headers)))


def _first_keys(entries: Sequence[HistoryEntry], count: int) -> list[str]:
    """The first ``count`` metric names, in the order the entries list them."""
    found: dict[str, None] = {}
    for entry in entries:
        found.update(dict.fromkeys(entry.metrics))
        if len(found) >= count:
            break
    return list(found)[:count]


def _minute(date: str) -> str:
    return date[:16].replace("T", " ")


def _metrics(metrics: dict[str, float]) -> str:
    return "  ".join(f"{k} {fmt(v)}" for k, v in metrics.items())


def show(shown: Shown, columns: int | None = None) -> str:
    """One release and what produced it, as ``mlgate show`` prints it (lines at most
    ``columns`` wide when given: fields move to the next line whole)."""
    entry, record = shown.entry, shown.record
    stages = f"  stages: {', '.join(entry.stages)}" if entry.stages else ""
    lines = [f"{entry.tag}  commit {entry.sha[:12]}  {_minute(entry.date)}{stages}"]
    if record is None:
        why = (
            "no lineage block (a tag mlgate did not make)"
            if entry.lineage == MISSING
            else f"lineage corrupt: {entry.problem}"
        )
        metrics = _metrics(entry.metrics)
        lines += [why, f"metrics (from the files at its commit): {metrics or 'none'}"]
        return _lines(lines, columns)
    verdict = "passed" if record.gates_passed else "failed"
    against = (
        f"against {record.baseline_ref}"
        if record.baseline_ref is not None
        else f"with no baseline ({record.baseline_note or 'none recorded'})"
    )
    lines.append(f"gates: {verdict} {against}, {record.rule_count} rules")
    lines.append(f"model: {record.model_path or '?'}  {record.model_hash or 'no hash'}")
    if record.card_path is not None:
        card = f"{record.card_path}  {record.card_hash or 'no hash'}"
        lines.append(f"model card: {card} (--format md prints it)")
    lines.append(f"metrics: {_metrics(entry.metrics) or 'none'}")
    if record.inputs:
        lines.append("inputs (dvc.lock):")
        lines += [f"  {i.path}  {i.hash}  ({i.stage})" for i in record.inputs]
    for path, count in record.params:
        lines.append(f"params: {path} ({count} values; --format json lists them)")
    return _lines(lines, columns)


def _lines(lines: Sequence[str], columns: int | None) -> str:
    return "\n".join(short for line in lines for short in fill(escaped(line), columns))
