"""Operation behind ``mlgate experiments``: DVC experiments ranked by the release gates.

DVC keeps each experiment as a commit under ``refs/exps/<sha[:2]>/<sha[2:]>/<name>``, where
``sha`` is the commit it was run from (``dvc exp show`` reads the same refs; experiments
pulled with ``dvc exp pull`` land there too). Each experiment is judged as ``mlgate check
--rev`` judges a commit, straight from git objects (metrics in git or in DVC's cache, bound
to the experiment's own ``dvc.lock``), but with one policy for all: the gates of the
checked-out commit (or ``--gates``), not the ones an experiment's ``params.yaml`` may carry.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate import gitio
from mlgate.api import (
    Against,
    BaselineRef,
    CheckResult,
    ParamRow,
    check,
    load_gates,
    param_changes,
)
from mlgate.dvcadapter import DVC_LOCK, DVC_YAML, PARAMS_YAML
from mlgate.errors import MlgateError
from mlgate.expcache import ExpCache
from mlgate.gates import HIGHER, LOWER, Gates
from mlgate.metrics import params_files, read_dvc_yaml, read_params

EXPS = "refs/exps"
# refs/exps/<2 hex>/<38 hex>/<name>: DVC's own namespaces (exec, celery, apply, temp, stash)
# have other shapes and are not experiments.
_EXP_REF = re.compile(r"^refs/exps/([0-9a-f]{2})/([0-9a-f]{38})/([^/]+)$")


@dataclass(frozen=True)
class Experiment:
    """One DVC experiment: its name, its commit, and the commit it was run from."""

    name: str
    sha: str
    parent: str


@dataclass(frozen=True)
class Ranked:
    """An experiment with its verdict: ``result`` None when it could not be judged (``error``
    says why, in one line)."""

    experiment: Experiment
    result: CheckResult | None
    params: list[ParamRow]
    main_value: float | None
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.result is not None and self.result.passed

    @property
    def failing(self) -> list[str]:
        """The metrics of the rules that fail (blocking ones), in gate order."""
        if self.result is None:
            return []
        return [rule.metric for rule in self.result.rules if rule.failed]


@dataclass(frozen=True)
class Ranking:
    """Experiments best first: passing ones by the main metric, then failing, then errors."""

    experiments: list[Ranked]
    main_metric: str | None
    direction: str
    baseline: BaselineRef | None
    baseline_note: str | None
    gates_source: str
    scope: str  # which experiments: "run from HEAD (abc1234)" or "of all commits"
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return any(ranked.passed for ranked in self.experiments)


def list_experiments(repo_root: Path) -> list[Experiment]:
    """Every experiment ref DVC would list (``dvc exp show -A``), by name then commit."""
    found = []
    listing = gitio.git_text(repo_root, "for-each-ref", "--format=%(objectname) %(refname)", EXPS)
    for line in listing.splitlines():
        sha, _, ref = line.partition(" ")
        match = _EXP_REF.match(ref)
        if match:
            found.append(Experiment(match[3], sha, match[1] + match[2]))
    return sorted(found, key=lambda exp: (exp.name, exp.sha))


def direction(gates: Gates) -> str:
    """Better is higher unless the main metric's rule says lower."""
    for rule in gates.rules:
        if rule.metric == gates.main:
            return LOWER if rule.direction == LOWER else HIGHER
    return HIGHER


def _sort_key(ranked: Ranked, better: str) -> tuple[int, float, str]:
    group = 0 if ranked.passed else 1 if ranked.result is not None else 2
    value = ranked.main_value
    order = float("inf") if value is None else -value if better == HIGHER else value
    return group, order, ranked.experiment.name


def _head(repo_root: Path) -> tuple[str, gitio.Snapshot]:
    head_sha = gitio.resolve(repo_root, "HEAD")
    head = gitio.snapshot(repo_root, head_sha, gitio.git_prefix(repo_root), "HEAD")
    head.prefetch([DVC_YAML, PARAMS_YAML, DVC_LOCK])
    return head_sha, head


def head_gates(repo_root: Path, gates_file: Path | None = None) -> Gates:
    """The gates experiments are judged by: ``gates_file``, else HEAD's params.yaml."""
    return load_gates(_head(repo_root)[1], gates_file)


def rank(
    repo_root: Path,
    baseline: str | None = None,
    gates_file: Path | None = None,
    all_commits: bool = False,
    names: Collection[str] | None = None,
) -> Ranking:
    """Judge the experiments run from HEAD (every experiment with ``all_commits``; only
    those called ``names`` when given, as a sweep ranks its own trials) against the gates of
    the checked-out commit and rank them."""
    head_sha, head = _head(repo_root)
    gates = load_gates(head, gates_file)
    choice = gates.baseline if baseline is None else baseline
    judged_against = Against(repo_root, head, choice, gates)  # one baseline for all
    chosen = judged_against.chosen
    every = list_experiments(repo_root)
    experiments = every
    scope = "of all commits"
    if not all_commits:
        experiments = [exp for exp in experiments if exp.parent == head_sha]
        scope = f"run from HEAD ({gitio.short(head_sha)})"
    if names is not None:
        wanted = set(names)
        experiments = [exp for exp in experiments if exp.name in wanted]
    compared_params: dict[str, dict[str, dict[str, Any]]] = {}

    def params_at(sha: str) -> dict[str, dict[str, Any]]:
        if sha not in compared_params:
            snap = gitio.Snapshot(repo_root, sha, gitio.short(sha), head.prefix)
            compared_params[sha] = read_params(snap, params_files(snap, read_dvc_yaml(snap)))
        return compared_params[sha]

    # A verdict depends only on ids (the experiment's commit, the one its params are compared
    # with, the gates and the baseline's commit): kept under .git, as DVC keeps its readings
    kept = ExpCache(repo_root, gates, (choice, chosen.ref, chosen.note))
    ranked = []

    def compared_with(exp: Experiment) -> str:
        # the params an experiment changed: against the release it is judged against, else
        # against the commit it was run from (what `dvc exp show` compares with)
        return chosen.ref.sha if chosen.ref else exp.parent

    found_kept = {exp: kept.get(exp.sha, compared_with(exp)) for exp in experiments}
    to_judge = [exp.sha for exp, found in found_kept.items() if found is None]
    for exp in experiments:
        compared = compared_with(exp)
        found = found_kept[exp]
        if found is not None:
            result, params = found
        else:
            if len(to_judge) > 2 and exp.sha == to_judge[1]:
                # what the first one's judging read, read at all the others at once
                gitio.prefetch_like(repo_root, head.prefix, to_judge[0], to_judge[1:])
            try:
                result = check(
                    repo_root,
                    exp.sha,
                    choice,
                    gates_file,
                    allow_stale=False,
                    gates=gates,
                    judged_against=judged_against,
                )
                params = param_changes(params_at(compared), params_at(exp.sha))
            except MlgateError as exc:
                ranked.append(Ranked(exp, None, [], None, " ".join(str(exc).split())))
                continue
            kept.put(exp.sha, compared, result, params)
        value = result.metrics.get(gates.main) if gates.main else None
        ranked.append(Ranked(exp, result, params, value))
    kept.save({exp.sha for exp in every})
    better = direction(gates)
    ranked.sort(key=lambda item: _sort_key(item, better))
    notes = []
    if not experiments:
        notes.append(
            f"no DVC experiments {scope} (dvc exp run; dvc exp pull to fetch them"
            + ("" if all_commits else "; --all for experiments of other commits")
            + ")"
        )
    return Ranking(ranked, gates.main, better, chosen.ref, chosen.note, gates.source, scope, notes)
