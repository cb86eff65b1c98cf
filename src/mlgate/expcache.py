"""How ``mlgate experiments`` judged each experiment commit, kept under ``.git``.

Judging one experiment reads its commit (``dvc.yaml`` resolved by DVC, ``dvc.lock``,
params, metrics from git or DVC's cache, the freshness of every stage): about a third of a
second each, a minute for 200. Everything that verdict depends on is fixed by ids: the
experiment's commit, the commit its params are compared with, and the gates and baseline it
is judged by (the baseline's commit among them). So the verdict is kept by those, as DVC
keeps ``dvc exp show``'s reading of each experiment commit (``.dvc/tmp/exps/cache``), and a
repeat ranking, as a sweep makes after every batch of trials, reads only this file.

Never wrong, never in the way (as ``tagcache``):
- kept only for an experiment that could be judged; an error (a metrics file not fetched
  from the DVC remote yet, say) is judged again next time;
- other gates, another baseline or a moved ``HEAD`` is another key; other code (an upgrade)
  or a damaged file reads as nothing kept (``kept``); a record that does not round-trip
  through JSON exactly (a param holding a date, a NaN) is not kept;
- experiments that no longer exist are dropped when the file is written; when ``.git`` is
  read-only or the disk full, the command goes on without it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from mlgate import gitio, kept
from mlgate.api import ABSENT, BaselineRef, CheckResult, ParamRow
from mlgate.errors import InputError
from mlgate.freshness import StaleStage
from mlgate.gates import Gates, RuleResult

FORMAT = "mlgate experiments cache 1"
FILE = "experiments"


def _encode_value(value: Any) -> list[Any]:
    return [0] if value is ABSENT else [1, value]


def _decode_value(encoded: list[Any]) -> Any:
    return ABSENT if encoded[0] == 0 else encoded[1]


class ExpCache:
    """The verdicts kept for one ranking: ``context`` is everything the verdict depends on
    besides the experiment's commit and the commit its params are compared with (the gates,
    the baseline as chosen and as resolved), whose ``repr`` names it exactly."""

    def __init__(self, repo_root: Path, gates: Gates, context: tuple[Any, ...]) -> None:
        self._gates = gates
        self._context = hashlib.sha256(repr((gates, *context)).encode()).hexdigest()[:32]
        self._code = kept.code_key()
        self._path: Path | None = None
        self._stored: dict[str, Any] = {}
        self._added: dict[str, Any] = {}
        if self._code is None:
            return
        try:
            self._path = gitio.git_dir(repo_root) / kept.DIRECTORY / FILE
        except InputError:  # no repository
            return
        body = kept.read(self._path, FORMAT, self._code)
        try:
            data = json.loads(body) if body is not None else {}
        except ValueError:  # pragma: no cover - the CRC-32 vouched for it
            data = {}
        self._stored = data if isinstance(data, dict) else {}

    def _key(self, sha: str, against: str) -> str:
        return f"{sha} {against} {self._context}"

    def get(self, sha: str, against: str) -> tuple[CheckResult, list[ParamRow]] | None:
        """The verdict and changed params kept for experiment ``sha``, or None."""
        record = self._stored.get(self._key(sha, against))
        if not isinstance(record, dict):
            return None
        try:
            rules = self._gates.rules
            results = [
                RuleResult(rules[index], value, base, passed, skipped, reason)
                for index, value, base, passed, skipped, reason in record["rules"]
            ]
            baseline = BaselineRef(*record["baseline"]) if record["baseline"] else None
            result = CheckResult(
                passed=record["passed"],
                baseline=baseline,
                rules=results,
                metrics=record["metrics"],
                rev=record["rev"],
                rev_label=record["label"],
                baseline_note=record["note"],
                gates=self._gates,
                stale=tuple(
                    StaleStage(stage, tuple(changed)) for stage, changed in record["stale"]
                ),
            )
            params = [
                ParamRow(key, _decode_value(base), _decode_value(head))
                for key, base, head in record["params"]
            ]
        except (KeyError, TypeError, ValueError, IndexError):
            return None
        return result, params

    def put(self, sha: str, against: str, result: CheckResult, params: list[ParamRow]) -> None:
        """Keep a verdict, when its record reads back exactly as it was."""
        if self._path is None:
            return
        rules = list(self._gates.rules)
        try:
            record = {
                "rules": [
                    [rules.index(r.rule), r.value, r.baseline, r.passed, r.skipped, r.reason]
                    for r in result.rules
                ],
                "passed": result.passed,
                "baseline": [result.baseline.ref, result.baseline.sha] if result.baseline else None,
                "metrics": result.metrics,
                "rev": result.rev,
                "label": result.rev_label,
                "note": result.baseline_note,
                "stale": [[stale.stage, list(stale.changed)] for stale in result.stale],
                "params": [
                    [row.key, _encode_value(row.base), _encode_value(row.head)] for row in params
                ],
            }
            text = json.dumps(record, allow_nan=False)
        except (ValueError, TypeError):  # a rule not among the gates, a date, a NaN
            return
        if json.loads(text) != record:  # a mapping with keys that are not text, say
            return
        self._added[self._key(sha, against)] = record

    def save(self, experiments: set[str]) -> None:
        """Write what was added, keeping only records of ``experiments`` (those that exist)."""
        if self._path is None or self._code is None:
            return
        merged = {**self._stored, **self._added}
        records = {key: value for key, value in merged.items() if key.split(" ")[0] in experiments}
        if not self._added and len(records) == len(self._stored):
            return
        body = json.dumps(records, separators=(",", ":"), allow_nan=False).encode()
        kept.write(self._path, FORMAT, self._code, body)
