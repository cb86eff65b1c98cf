"""Renderers: the only modules that turn an operation's typed result into text.

``text`` (terminal tables and lines), ``markdown`` (``check --format md`` and the
pull-request report) and ``json`` (the machine contracts). A new output format is a new
module here; the operations in ``mlgate.api``, ``release``, ``assign`` and ``history`` stay
as they are.
"""

from __future__ import annotations

from mlgate.gates import WARN, RuleResult


def status_word(result: RuleResult) -> str:
    """PASS, FAIL, WARN (a failed warn-severity rule) or SKIP: the word every format shows."""
    if result.skipped:
        return "SKIP"
    if result.passed:
        return "PASS"
    return "WARN" if result.severity == WARN else "FAIL"
