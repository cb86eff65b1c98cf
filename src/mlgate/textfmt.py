"""Terminal rendering: an aligned table, coloured only when asked (i.e. attached to a terminal)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from mlgate.gates import WARN, RuleResult, fmt

if TYPE_CHECKING:
    from mlgate.api import CheckResult


def width(text: str) -> int:
    """Display width: East Asian wide characters take two columns, combining marks none."""
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


def status_word(result: RuleResult) -> str:
    if result.skipped:
        return "SKIP"
    if result.passed:
        return "PASS"
    return "WARN" if result.severity == WARN else "FAIL"


_COLOUR = {"PASS": "green", "FAIL": "red", "WARN": "yellow", "SKIP": "cyan"}


def change_text(value: float | None, baseline: float | None) -> str:
    if value is None or baseline is None:
        return "–"
    return f"{value - baseline:+.4g}"


def render_check(result: CheckResult, colour: bool = False) -> str:
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
