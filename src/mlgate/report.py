"""Markdown rendering of a check (``mlgate check --format md``) and of the pull-request report.

Pure functions from already-read data to text; nothing here touches git or files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mlgate.gates import WARN, RuleResult, fmt

if TYPE_CHECKING:
    from mlgate.api import CheckResult

ICON = {"PASS": "✅", "FAIL": "❌", "WARN": "⚠️", "SKIP": "⏭️"}


def status(result: RuleResult) -> str:
    if result.skipped:
        return "SKIP"
    if result.passed:
        return "PASS"
    return "WARN" if result.severity == WARN else "FAIL"


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [
        "| " + " | ".join(cell(h) for h in headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in rows)
    return "\n".join(lines)


def delta(value: float | None, baseline: float | None) -> str:
    if value is None or baseline is None:
        return "–"
    diff = value - baseline
    if baseline != 0:
        return f"{diff:+.4g} ({diff / abs(baseline) * 100:+.2f}%)"
    return f"{diff:+.4g}"


def verdict_line(result: CheckResult) -> str:
    failed = [r for r in result.rules if r.failed]
    warned = [r for r in result.rules if not r.passed and not r.failed]
    if result.passed:
        text = f"✅ **All {len(result.rules)} gates pass**"
    else:
        text = f"❌ **{len(failed)} of {len(result.rules)} gates fail**"
    if warned:
        text += f", ⚠️ {len(warned)} warning(s)"
    if result.baseline is not None:
        text += f" — baseline `{result.baseline.ref}` (`{result.baseline.sha[:8]}`)"
    else:
        text += f" — no baseline: {result.baseline_note}"
    return text


def render_check_md(result: CheckResult) -> str:
    rows = [
        [
            r.metric,
            fmt(r.baseline),
            fmt(r.value),
            delta(r.value, r.baseline),
            r.rule.describe(),
            f"{ICON[status(r)]} {r.reason}",
        ]
        for r in result.rules
    ]
    headers = ["Metric", "Baseline", result.rev_label, "Change", "Rule", "Status"]
    return verdict_line(result) + "\n\n" + md_table(headers, rows) + "\n"
