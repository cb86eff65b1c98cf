"""Terminal rendering: aligned tables and lines, coloured only when asked (on a terminal)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from mlgate.gates import fmt
from mlgate.lineage import CORRUPT, MISSING
from mlgate.render import status_word

if TYPE_CHECKING:
    from mlgate.api import CheckResult
    from mlgate.assign import StageOutcome
    from mlgate.history import History, HistoryEntry, Shown
    from mlgate.release import ReleaseOutcome


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


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], colours: Sequence[str | None] = ()
) -> str:
    """Columns padded to their widest cell; ``colours[i]`` (a click colour) tints row ``i``."""
    widths = [width(h) for h in headers]
    for row in rows:
        widths = [max(w, width(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [cell + " " * (w - width(cell)) for cell, w in zip(cells, widths, strict=True)]
        return "  ".join(padded).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    for i, row in enumerate(rows):
        text = line(row)
        colour = colours[i] if i < len(colours) else None
        out.append(click.style(text, fg=colour) if colour else text)
    return "\n".join(out)


_COLOUR = {"PASS": "green", "FAIL": "red", "WARN": "yellow", "SKIP": "cyan"}


def change_text(value: float | None, baseline: float | None) -> str:
    if value is None or baseline is None:
        return "–"
    return f"{value - baseline:+.4g}"


def check(result: CheckResult, colour: bool = False) -> str:
    """The check as an aligned table plus a verdict line (ANSI colours only when ``colour``)."""
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
    if colour:
        summary = click.style(summary, fg="green" if result.passed else "red", bold=True)
    return table(headers, rows, colours) + "\n\n" + summary


# --- registry ------------------------------------------------------------------------------


def release(outcome: ReleaseOutcome, remote: str) -> list[str]:
    """What ``mlgate release`` prints; the last line is the tag name (none when gates failed)."""
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
        return [
            *lines,
            f"{short_sha} is already released as {outcome.tag}; {done}",
            outcome.tag or "",
        ]
    if outcome.status is ReleaseStatus.GATES_FAILED and verdict is not None:
        return [*lines, check(verdict), f"no release: the gates failed for {short_sha}"]
    against = verdict.baseline.ref if verdict and verdict.baseline else "no baseline"
    rules = len(verdict.rules) if verdict else 0
    lines.append(f"gates passed against {against} ({rules} rules)")
    if outcome.status is ReleaseStatus.DRY_RUN:
        where = f" and push it to {remote}" if outcome.pushed else " (not pushed)"
        lines.append(f"dry run: would create {outcome.tag} on {short_sha}{where}")
    else:
        where = f" and pushed it to {remote}" if outcome.pushed else " (not pushed)"
        lines.append(f"created {outcome.tag} on {short_sha}{where}")
    return [*lines, outcome.tag or ""]


def stage(outcome: StageOutcome) -> list[str]:
    """What ``promote`` and ``rollback`` print; the last line is the new tag, if any."""
    from mlgate.assign import StageStatus

    if outcome.status is StageStatus.ALREADY_ASSIGNED:
        return [*outcome.notes, f"{outcome.version} already holds {outcome.stage}; nothing to do"]
    was = f" (was {outcome.previous})" if outcome.previous else ""
    return [*outcome.notes, f"{outcome.stage}: {outcome.version}{was}", outcome.tag or ""]


def history_remarks(listing: History) -> list[str]:
    """A tag named like a release or stage but on no commit is said, so that nobody wonders
    where the version went; so is a shallow clone, whose tags may not all be here."""
    remarks = [f"ignored {name}: {why}" for name, why in listing.ignored]
    return [*remarks, listing.note] if listing.note else remarks


_NOTES = {MISSING: "no lineage: metrics from files", CORRUPT: "lineage corrupt"}


def history(listing: History, metric_names: Sequence[str] = ()) -> str:
    """The releases as a table (newest first), then the remarks; with releases of several
    artifacts, one table per artifact under its name (their metrics differ)."""
    entries = listing.entries
    remarks = history_remarks(listing)
    if not entries:
        return "\n".join(["no releases found" if listing.note else "no releases yet", *remarks])
    by_artifact: dict[str, list[HistoryEntry]] = {}
    for entry in entries:
        by_artifact.setdefault(entry.artifact, []).append(entry)
    if len(by_artifact) == 1:
        return "\n".join([_history_table(entries, metric_names), *remarks])
    tables = [f"{name}\n{_history_table(rows, metric_names)}" for name, rows in by_artifact.items()]
    return "\n".join(["\n\n".join(tables), *remarks])


def _history_table(entries: Sequence[HistoryEntry], metric_names: Sequence[str]) -> str:
    columns = (
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
            *(fmt(entry.metrics.get(k)) for k in columns),
            _NOTES.get(entry.lineage, ""),
        ]
        for entry in entries
    ]
    return table(["version", "date", "commit", "stages", *columns, "note"], rows)


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


def show(shown: Shown) -> str:
    """One release and what produced it, as ``mlgate show`` prints it."""
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
        return "\n".join(
            [*lines, why, f"metrics (from the files at its commit): {metrics or 'none'}"]
        )
    verdict = "passed" if record.gates_passed else "failed"
    against = (
        f"against {record.baseline_ref}"
        if record.baseline_ref is not None
        else f"with no baseline ({record.baseline_note or 'none recorded'})"
    )
    lines.append(f"gates: {verdict} {against}, {record.rule_count} rules")
    lines.append(f"model: {record.model_path or '?'}  {record.model_hash or 'no hash'}")
    lines.append(f"metrics: {_metrics(entry.metrics) or 'none'}")
    if record.inputs:
        lines.append("inputs (dvc.lock):")
        lines += [f"  {i.path}  {i.hash}  ({i.stage})" for i in record.inputs]
    for path, count in record.params:
        lines.append(f"params: {path} ({count} values; --format json lists them)")
    return "\n".join(lines)
