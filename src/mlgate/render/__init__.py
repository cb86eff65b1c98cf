"""Renderers: the only modules that turn an operation's typed result into text.

``text`` (terminal tables and lines), ``markdown`` (``check --format md`` and the
pull-request report) and ``json`` (the machine contracts). A new output format is a new
module here; the operations in ``mlgate.api``, ``release``, ``assign`` and ``history`` stay
as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from mlgate.gates import WARN, RuleResult

if TYPE_CHECKING:
    from mlgate.freshness import StaleStage

STALE = "metrics are stale: run `dvc repro`"
STALE_SHOWN = 5  # stages named, and changes named per stage; the rest are counted


def status_word(result: RuleResult) -> str:
    """PASS, FAIL, WARN (a failed warn-severity rule) or SKIP: the word every format shows."""
    if result.skipped:
        return "SKIP"
    if result.passed:
        return "PASS"
    return "WARN" if result.severity == WARN else "FAIL"


def stale_stages(stale: Sequence[StaleStage], name: Callable[[str], str] = str) -> str:
    """What differs from dvc.lock, for a person: ``train (train.seed, stages/train.py)``
    per stage, each name passed through ``name`` (a code span in Markdown)."""

    def listed(items: Sequence[str]) -> str:
        more = len(items) - STALE_SHOWN
        return ", ".join(map(name, items[:STALE_SHOWN])) + (f", {more} more" if more > 0 else "")

    parts = [f"{name(stage.stage)} ({listed(stage.changed)})" for stage in stale[:STALE_SHOWN]]
    more = len(stale) - STALE_SHOWN
    return "; ".join(parts) + (f"; {more} more stage(s)" if more > 0 else "")
