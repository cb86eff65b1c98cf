"""Operations behind ``mlgate check`` and ``mlgate report``.

Each operation reads what it needs (git objects through ``gitio``, DVC declarations
through ``metrics``), calls the pure modules (``gates`` for the decision) and returns a
typed result (``CheckResult``, ``ReportData``); ``mlgate.render`` turns it into text.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate import __version__, dvcadapter, gitio
from mlgate.dvcadapter import DVC_LOCK, DVC_YAML, PARAMS_YAML
from mlgate.dvcfiles import choose_artifact, read_text_file
from mlgate.errors import (
    FETCH_HISTORY,
    ConfigError,
    IncompleteCloneError,
    InputError,
    MlgateError,
    RefusedError,
    no_release_found,
)
from mlgate.freshness import StaleStage, stale_stages_at
from mlgate.gates import (
    LATEST_RELEASE,
    MISSING,
    NO_BASELINE,
    STAGE_BASELINE,
    Gates,
    PolicyChange,
    Rule,
    RuleResult,
    as_number,
    evaluate,
    gates_from_document,
    policy_changes,
    stage_of,
    verdict,
)
from mlgate.loaders import parse_structured, parse_yaml
from mlgate.metrics import (
    LockedFile,
    MetricsAt,
    declared_artifacts,
    flatten,
    has_pipeline,
    metrics_files,
    params_files,
    pipeline_numbers,
    read_dvc_yaml,
    read_lock,
    read_locks,
    read_metrics,
    read_params,
    verify_produced,
)
from mlgate.stages import assignments, current_holders, load_stages
from mlgate.tags import active_releases, latest_release, list_tags, tag_artifact_name


@dataclass(frozen=True)
class BaselineRef:
    """What a check compared against: the ref as named (tag, branch, sha) and its commit."""

    ref: str
    sha: str

    def as_dict(self) -> dict[str, str]:
        return {"ref": self.ref, "sha": self.sha}


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    baseline: BaselineRef | None
    rules: list[RuleResult]
    # every number the pipeline's metrics files hold (a release records them), but a frozen
    # stage's that no rule judged: `dvc repro` does not make them (metrics.pipeline_numbers)
    metrics: dict[str, float]
    rev: str | None = None  # the judged commit, None for the working tree
    rev_label: str = gitio.WORKTREE
    baseline_note: str | None = None  # why there is no baseline, when there is none
    gates: Gates | None = field(default=None, compare=False)
    # stages whose dvc.lock record does not match the judged commit: its metrics are not what
    # its params and code would produce. Checked for a commit; the working tree is refused
    # when stale instead (unless --allow-stale, which skips the check), so it is always empty.
    stale: tuple[StaleStage, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Exactly the JSON contract of ``mlgate check --format json``."""
        return {
            "passed": self.passed,
            "baseline": self.baseline.as_dict() if self.baseline else None,
            "rules": [result.as_dict() for result in self.rules],
        }


# --- reading the inputs --------------------------------------------------------------------


def _open(
    repo_root: Path, rev: str | None, label: str | None = None, prefix: str | None = None
) -> gitio.Snapshot:
    root = Path(repo_root)
    return gitio.snapshot(root, rev, gitio.git_prefix(root) if prefix is None else prefix, label)


def load_gates(snap: gitio.Snapshot, gates_file: Path | None) -> Gates:
    """Gates from ``--gates FILE`` (on disk) or from ``params.yaml`` at the snapshot."""
    if gates_file is not None:
        file_text = read_text_file(Path(gates_file))
        if file_text is None:
            raise InputError(f"{gates_file}: gates file not found")
        return gates_from_document(parse_yaml(file_text, str(gates_file)), str(gates_file))
    text = snap.read_text(PARAMS_YAML)
    where = snap.where(PARAMS_YAML)
    if text is None:
        raise ConfigError(f"{where}: not found; declare 'gates:' there or pass --gates FILE")
    return gates_from_document(parse_yaml(text, where), where)


def ensure_fresh(snap: gitio.Snapshot, dvc_yaml: dict[str, Any]) -> None:
    """Refuse to judge a working tree whose pipeline is stale or whose dvc.lock is unreadable."""
    hint = "run 'dvc repro' (or pass --allow-stale to judge it anyway)"
    lock = read_lock(snap)  # raises InputError when the lock is unreadable
    if lock is None and dvc_yaml.get("stages"):
        raise RefusedError(f"{DVC_LOCK}: not found, the pipeline has never run; {hint}")
    status = dvcadapter.stale_stages(snap.repo_root)
    if status:
        names = ", ".join(sorted(status)[:5]) + (" ..." if len(status) > 5 else "")
        raise RefusedError(f"the pipeline is stale (dvc status: {names} changed); {hint}")


@dataclass(frozen=True)
class _Baseline:
    ref: BaselineRef | None
    note: str | None  # why there is no baseline


NONE_CHOSEN = "baseline is 'none'"


def resolve_baseline(
    snap: gitio.Snapshot,
    choice: str,
    gates: Gates,
    dvc_yaml: dict[str, Any],
    why_none: str = NONE_CHOSEN,
) -> _Baseline:
    if choice == NO_BASELINE:
        return _Baseline(None, why_none)
    if choice.startswith(STAGE_BASELINE):
        return _stage_baseline(snap, stage_of(choice).strip(), gates, dvc_yaml)
    if choice != LATEST_RELEASE:
        return _Baseline(BaselineRef(choice, gitio.resolve(snap.repo_root, choice)), None)
    artifact = _baseline_artifact(snap, gates, dvc_yaml)
    if artifact is None:
        return _Baseline(None, "dvc.yaml declares no artifact, so there is no release yet")
    release = latest_release(list_tags(snap.repo_root), artifact)
    if release is None:
        clone = gitio.unfetched_tags(snap.repo_root)
        if clone is not None:
            return _unfetched_release(artifact, gates, clone)
        tag = f"{tag_artifact_name(artifact)}@vX.Y.Z"
        return _Baseline(None, f"no release of '{artifact}' yet (no {tag} tag)")
    return _Baseline(BaselineRef(release.name, release.sha), None)


def _baseline_artifact(snap: gitio.Snapshot, gates: Gates, dvc_yaml: dict[str, Any]) -> str | None:
    """The artifact whose releases a baseline names (None: dvc.yaml declares none)."""
    declared = declared_artifacts(snap, dvc_yaml)
    if gates.artifact is None and not declared:
        return None
    try:
        return choose_artifact(declared, gates.artifact)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (or set gates.artifact in {gates.source})") from None


def _stage_baseline(
    snap: gitio.Snapshot, stage: str, gates: Gates, dvc_yaml: dict[str, Any]
) -> _Baseline:
    """``baseline: stage:<name>``: the release that registry stage holds now, decided as
    ``mlgate history`` and GTO decide it. A stage nobody holds is an error, not a skipped
    rule: the gate was written against that model, and without it nothing is judged."""
    load_stages(snap.repo_root).check(stage)
    artifact = _baseline_artifact(snap, gates, dvc_yaml)
    if artifact is None:
        raise ConfigError(
            f"{gates.source}: gates.baseline 'stage:{stage}': dvc.yaml declares no artifact "
            "(or set gates.artifact)"
        )
    tags = list_tags(snap.repo_root)
    releases = active_releases(tags, artifact)
    holder = current_holders(assignments(tags, artifact, releases)).get(stage)
    release = next((rel for rel in releases if rel.version == holder), None)
    if release is None:
        clone = gitio.unfetched_tags(snap.repo_root)
        if clone is not None:
            raise IncompleteCloneError(no_release_found(artifact, clone))
        raise InputError(
            f"{gates.source}: gates.baseline 'stage:{stage}': no version of '{artifact}' "
            f"holds stage '{stage}'"
        )
    return _Baseline(BaselineRef(release.name, release.sha), None)


def _unfetched_release(artifact: str, gates: Gates, clone: str) -> _Baseline:
    """No release tag in a clone that may not have fetched its tags proves nothing: CI's
    default checkout (shallow) fetches none, nor does ``git clone --no-tags``.

    Change rules would be skipped and a regression would pass, so the check is refused: a green
    run is all most people read. A brand-new project's first CI run pays with one red run
    fixed by ``fetch-depth: 0`` (or an explicit ``--baseline none``). Gates without change
    rules judge the same either way: they run, and the note says why there is no baseline.
    """
    why = no_release_found(artifact, clone)
    if any(rule.has_change_bound for rule in gates.rules):
        raise IncompleteCloneError(
            f"{why}; before the first release, pass --baseline none to check (or set "
            f"baseline: none under gates in {gates.source})"
        )
    return _Baseline(None, why)


@dataclass(frozen=True)
class Judged:
    """One revision's metrics with what they are checked against: its dvc.yaml and locks."""

    snap: gitio.Snapshot
    dvc_yaml: dict[str, Any]
    locks: dict[str, LockedFile]
    metrics: MetricsAt

    def verify(self, paths: list[str], source: str) -> None:
        """``metrics.verify_produced`` for the gated ``paths`` this revision has."""
        files = self.metrics.files
        present = [path for path in dict.fromkeys(paths) if files.get(path) is not None]
        verify_produced(self.snap, self.dvc_yaml, present, self.locks, source)


def read_baseline_metrics(
    repo_root: Path, baseline: BaselineRef, prefix: str, likely_files: list[str]
) -> Judged:
    """Metrics at the baseline commit, declared by the baseline's own dvc.yaml."""
    snap = gitio.Snapshot(
        repo_root, baseline.sha, f"{baseline.ref} ({gitio.short(baseline.sha)})", prefix
    )
    snap.prefetch([DVC_YAML, PARAMS_YAML, DVC_LOCK, *likely_files])  # usually one git call
    if not has_pipeline(snap):
        return Judged(snap, {}, {}, MetricsAt(snap.label, {}))
    dvc_yaml = read_dvc_yaml(snap)
    locks = read_locks(snap, dvc_yaml)
    return Judged(snap, dvc_yaml, locks, read_metrics(snap, metrics_files(snap, dvc_yaml), locks))


def locate(
    metric: str, head: MetricsAt, base: MetricsAt | None, source: str, key: str | None = None
) -> tuple[str, str]:
    """The (file, key) a rule's metric names; unknown or ambiguous names are ConfigErrors.

    ``key``: the gates key naming the metric in messages (default: its rule).
    """
    name = f"{key} '{metric}'" if key else f"gates rule '{metric}'"
    declared = list(head.files)
    if ":" in metric:
        for path in sorted(head.files, key=len, reverse=True):
            if metric.startswith(f"{path}:"):
                key_in_file = metric[len(path) + 1 :]
                _refuse_mapping(key_in_file, {path: head.files[path]}, source, name)
                return path, key_in_file
        path = metric.split(":", 1)[0]
        raise ConfigError(
            f"{source}: {name}: '{path}' is not a metrics file declared in "
            f"dvc.yaml (declared: {', '.join(declared) or 'none'})"
        )
    holders = [path for path, values in head.files.items() if values and metric in values]
    if len(holders) > 1:
        raise ConfigError(
            f"{source}: {name} is ambiguous, found in {', '.join(holders)}; "
            f"write it as '{holders[0]}:{metric}'"
        )
    if holders:
        return holders[0], metric
    _refuse_mapping(metric, head.files, source, name)
    # Absent at the judged revision but known at the baseline: the metric went missing.
    if base is not None:
        for path, values in base.files.items():
            if values and metric in values and path in head.files:
                return path, metric
    raise ConfigError(
        f"{source}: {name}: no metrics file declared in dvc.yaml has this key "
        f"(declared: {', '.join(declared) or 'none'})"
    )


def _baseline_key(rule: Rule, path: str, key: str, base: MetricsAt, source: str) -> tuple[str, str]:
    """Where the baseline's value of a rule is: the rule's own (file, key), or the one its
    ``baseline_metric`` names in the baseline's metrics files. A name the baseline lacks is
    returned as is, so the rule fails on a missing baseline value and says where."""
    if rule.baseline_metric is None:
        return path, key
    name = rule.baseline_metric
    try:
        return locate(name, base, None, source, f"gates rule '{rule.metric}': baseline_metric")
    except ConfigError:
        if ":" in name or any(values and name in values for values in base.files.values()):
            raise  # ambiguous, or a file the baseline does not declare
        return "", name


MAPPING_KEYS_SHOWN = 10


def _refuse_mapping(
    key: str, files: dict[str, dict[str, Any] | None], source: str, name: str
) -> None:
    """A rule on a key that holds a mapping (dvclive's ``test`` of ``test/roc_auc``) names
    the dotted keys inside it, as ``dvc metrics show`` prints them, instead of "no file has
    this key"."""
    if any(values and key in values for values in files.values()):
        return
    inside = [
        nested
        for values in files.values()
        for nested in values or {}
        if nested.startswith(f"{key}.")
    ]
    if not inside:
        return
    shown = list(dict.fromkeys(inside))
    more = f", ... ({len(shown)} in all)" if len(shown) > MAPPING_KEYS_SHOWN else ""
    raise ConfigError(
        f"{source}: {name}: '{key}' is a mapping; its keys: "
        f"{', '.join(shown[:MAPPING_KEYS_SHOWN])}{more}"
    )


class Against:
    """What many revisions are judged against, worked out once: the baseline chosen from
    ``head`` and the project's place in git (the experiments ranking judges all of them
    against HEAD's choice); the baseline's metrics are read when first needed."""

    def __init__(self, repo_root: Path, head: gitio.Snapshot, choice: str, gates: Gates):
        self._repo_root = repo_root
        self._head = head
        self.chosen = resolve_baseline(head, choice, gates, read_dvc_yaml(head))
        self.prefix = head.prefix

    @functools.cached_property
    def base(self) -> Judged | None:
        if self.chosen.ref is None:
            return None
        head = self._head
        files = metrics_files(head, read_dvc_yaml(head)) if has_pipeline(head) else []
        return read_baseline_metrics(self._repo_root, self.chosen.ref, self.prefix, files)


def check(
    repo_root: Path,
    rev: str | None = None,
    baseline: str | None = None,
    gates_file: Path | None = None,
    allow_stale: bool = False,
    why_none: str = NONE_CHOSEN,
    gates: Gates | None = None,
    judged_against: Against | None = None,
) -> CheckResult:
    """Judge the metrics of ``rev`` (None: the working tree) against the gates and baseline.

    ``why_none``: the reason a ``none`` baseline gives in the result (a caller that chose
    none for the user, like the first release, says why). ``gates``: judge by these instead
    of ``gates_file`` or the revision's own (the experiments ranking uses one policy for all),
    and ``judged_against`` against this baseline, worked out once for all."""
    head = _open(repo_root, rev, prefix=judged_against.prefix if judged_against else None)
    head.prefetch([DVC_YAML, PARAMS_YAML, DVC_LOCK])
    dvc_yaml = read_dvc_yaml(head)
    if gates is None:
        gates = load_gates(head, gates_file)
    stale: list[StaleStage] = []
    if not allow_stale:
        if head.is_worktree:
            ensure_fresh(head, dvc_yaml)
        else:
            read_lock(head)  # a committed but unreadable lock is still an error
    files = metrics_files(head, dvc_yaml)
    if not files:
        raise ConfigError(f"{head.where(DVC_YAML)}: declares no metrics files (add 'metrics:')")
    locks = read_locks(head, dvc_yaml)
    if not head.is_worktree:
        stale = stale_stages_at(head, dvc_yaml, locks)
    head_metrics = read_metrics(head, files, locks)
    absent = [path for path, values in head_metrics.files.items() if values is None]
    if absent:
        raise InputError(
            f"{head.where(absent[0])}: metrics file declared in dvc.yaml but not found"
        )
    # An empty --baseline (an unset CI variable, say) is an error, not the gates' default.
    choice = gates.baseline if baseline is None else baseline
    if judged_against is not None:
        chosen, base = judged_against.chosen, judged_against.base
    else:
        chosen = resolve_baseline(head, choice, gates, dvc_yaml, why_none)
        base = (
            read_baseline_metrics(head.repo_root, chosen.ref, head.prefix, files)
            if chosen.ref
            else None
        )
    base_metrics = base.metrics if base else None
    results = []
    gated: list[str] = []
    base_gated: list[str] = []
    for rule in gates.rules:
        path, key = locate(rule.metric, head_metrics, base_metrics, gates.source)
        gated.append(path)
        value = (head_metrics.files.get(path) or {}).get(key, MISSING)
        base_value: Any = MISSING
        if base_metrics is not None:
            base_path, base_key = _baseline_key(rule, path, key, base_metrics, gates.source)
            base_value = (base_metrics.files.get(base_path) or {}).get(base_key, MISSING)
            base_gated.append(base_path)
        results.append(
            evaluate(
                rule,
                value,
                base_value,
                chosen.note,
                where=head.label,
                baseline_where=base_metrics.label if base_metrics else "the baseline",
            )
        )
    if gates.main_metric:  # charted by `mlgate report`: a typo should fail here, not there
        locate(gates.main_metric, head_metrics, base_metrics, gates.source, "gates.main_metric")
    # The numbers judged must be the pipeline's own, here and at the baseline a change rule
    # compares with: a file no stage writes, or one that is not what dvc.lock records, is refused.
    Judged(head, dvc_yaml, locks, head_metrics).verify(gated, gates.source)
    if base is not None:
        base.verify([*gated, *base_gated], gates.source)
    return CheckResult(
        passed=verdict(results),
        baseline=chosen.ref,
        rules=results,
        metrics=pipeline_numbers(head, dvc_yaml, head_metrics, gated),
        rev=head.sha,
        rev_label=head.label,
        baseline_note=chosen.note,
        gates=gates,
        stale=tuple(stale),
    )


# --- report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One revision the report compares: a label (branch, tag) and its commit."""

    label: str
    sha: str


@dataclass(frozen=True)
class MetricRow:
    key: str
    base: float | None
    release: float | None
    head: float | None


@dataclass(frozen=True)
class ParamRow:
    key: str  # file:key
    base: Any
    head: Any


@dataclass(frozen=True)
class LockRow:
    path: str
    stage: str
    kind: str  # model | data | code | metrics
    base: str | None  # hash, None when absent
    head: str | None
    base_size: int | None
    head_size: int | None


@dataclass(frozen=True)
class ReportData:
    """Everything the pull-request report shows, as ``mlgate report`` read it."""

    check: CheckResult
    head: Side
    base: Side | None  # merge-base of --base and head
    base_ref: str
    release: Side | None  # latest release
    gate_rows: list[MetricRow]
    other_metrics: list[MetricRow]
    params: list[ParamRow]
    lock_changes: list[LockRow]
    policy: list[PolicyChange]
    policy_note: str | None  # e.g. base policy unreadable
    history_metric: str | None
    history: list[tuple[str, float]]  # (label, value), oldest first, head last
    version: str = ""
    notes: list[str] = field(default_factory=list)


class _Absent:
    """A param on one side only (``None`` is a value a param can have)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


HISTORY_RELEASES = 10
CODE_SUFFIXES = (".py", ".sh", ".r", ".R", ".ipynb", ".sql", ".jl")


def _release_artifact(gates: Gates, declared: dict[str, dict[str, Any]]) -> str | None:
    if gates.artifact is None and not declared:
        return None
    try:
        return choose_artifact(declared, gates.artifact)
    except ConfigError:
        return None


def _lock_kind(path: str, kind: str, model_paths: set[str], metric_paths: set[str]) -> str:
    if path in model_paths:
        return "model"
    if path in metric_paths:
        return "metrics"
    if kind == "dep" and path.endswith(CODE_SUFFIXES):
        return "code"
    return "data"


def _lock_changes(
    base: dict[str, LockedFile], head: dict[str, LockedFile], models: set[str], metrics: set[str]
) -> list[LockRow]:
    rows = []
    for path in [*head, *(p for p in base if p not in head)]:
        old, new = base.get(path), head.get(path)
        if old is not None and new is not None and old.hash == new.hash:
            continue
        entry = new or old
        assert entry is not None
        kind = _lock_kind(path, entry.kind, models, metrics)
        if kind == "metrics":
            continue  # shown as metrics, not as files
        rows.append(
            LockRow(
                path,
                entry.stage,
                kind,
                old.hash if old else None,
                new.hash if new else None,
                old.size if old else None,
                new.size if new else None,
            )
        )
    order = {"model": 0, "data": 1, "code": 2}
    return sorted(rows, key=lambda r: order.get(r.kind, 3))


def _same_value(before: Any, after: Any) -> bool:
    """Equal, counting NaN as equal to NaN: a `.nan` param is not a change on every PR."""
    if isinstance(before, float) and isinstance(after, float):
        return before == after or (math.isnan(before) and math.isnan(after))
    return bool(before == after)


def param_changes(
    base: dict[str, dict[str, Any]], head: dict[str, dict[str, Any]]
) -> list[ParamRow]:
    rows = []
    for path in dict.fromkeys([*head, *base]):
        old, new = base.get(path, {}), head.get(path, {})
        for key in dict.fromkeys([*new, *old]):
            if path == PARAMS_YAML and (key == "gates" or key.startswith("gates.")):
                continue  # gate policy has its own section
            before, after = old.get(key, ABSENT), new.get(key, ABSENT)
            if not _same_value(before, after):
                name = key if path == PARAMS_YAML else f"{path}:{key}"
                rows.append(ParamRow(name, before, after))
    return rows


def _numbers_by_key(metrics: MetricsAt | None) -> dict[str, float]:
    return metrics.numbers() if metrics else {}


def _value_at(metrics: MetricsAt | None, path: str, key: str) -> float | None:
    if metrics is None:
        return None
    return as_number((metrics.files.get(path) or {}).get(key))


def report(
    repo_root: Path,
    base: str,
    head: str = "HEAD",
    gates_file: Path | None = None,
    history: int = HISTORY_RELEASES,
) -> ReportData:
    """What the pull-request report shows, comparing ``head`` with its merge-base with
    ``base`` and with the latest release; gates are judged as ``mlgate check --rev head``
    would."""
    root = Path(repo_root)
    prefix = gitio.git_prefix(root)
    head_snap = gitio.snapshot(root, head, prefix)
    assert head_snap.sha is not None
    base_sha = gitio.resolve(root, base)
    notes: list[str] = []
    merge_base = gitio.merge_base(root, base_sha, head_snap.sha)
    if merge_base is None and gitio.is_shallow(root):
        # Cut-off history looks like unrelated history: comparing with the base's tip would
        # show every commit merged there since the branch point as this change's doing.
        raise IncompleteCloneError(
            f"'{base}' and '{head}' have no common commit in this shallow clone, so there is "
            f"no merge-base to compare with: {FETCH_HISTORY}"
        )
    if merge_base is None:
        notes.append(f"`{base}` and `{head}` share no history: comparing with `{base}` itself.")
    base_snap = gitio.Snapshot(
        root, merge_base or base_sha, f"merge-base ({gitio.short(merge_base or base_sha)})", prefix
    )
    result = check(root, head_snap.sha, gates_file=gates_file)
    gates = result.gates
    assert gates is not None

    head_dvc = read_dvc_yaml(head_snap)
    head_artifacts = declared_artifacts(head_snap, head_dvc)
    artifact = _release_artifact(gates, head_artifacts)
    all_releases = active_releases(list_tags(root), artifact) if artifact else []
    release = all_releases[0] if all_releases else None
    release_snap = (
        gitio.Snapshot(root, release.sha, f"{release.name} ({gitio.short(release.sha)})", prefix)
        if release
        else None
    )
    snaps = [s for s in (head_snap, base_snap, release_snap) if s is not None]
    gitio.prefetch_all(snaps, [DVC_YAML, PARAMS_YAML, DVC_LOCK])

    def declared(snap: gitio.Snapshot) -> tuple[dict[str, Any], list[str]]:
        if not has_pipeline(snap):
            return {}, []
        dvc_yaml = read_dvc_yaml(snap)
        return dvc_yaml, metrics_files(snap, dvc_yaml)

    head_files = declared(head_snap)[1]
    base_dvc, base_files = declared(base_snap)
    release_files = declared(release_snap)[1] if release_snap else []
    gitio.prefetch_all(snaps, [*head_files, *base_files, *release_files])
    head_metrics = read_metrics(head_snap, head_files)
    base_metrics = read_metrics(base_snap, base_files)
    release_metrics = read_metrics(release_snap, release_files) if release_snap else None

    gate_rows = []
    for rule in gates.rules:
        path, key = locate(rule.metric, head_metrics, base_metrics, gates.source)
        gate_rows.append(
            MetricRow(
                rule.metric,
                _value_at(base_metrics, path, key),
                _value_at(release_metrics, path, key),
                _value_at(head_metrics, path, key),
            )
        )
    gate_keys = {rule.metric for rule in gates.rules}
    head_numbers = _numbers_by_key(head_metrics)
    base_numbers = _numbers_by_key(base_metrics)
    release_numbers = _numbers_by_key(release_metrics)
    other_rows = []
    for key in dict.fromkeys([*head_numbers, *base_numbers, *release_numbers]):
        if key in gate_keys:
            continue
        row = MetricRow(key, base_numbers.get(key), release_numbers.get(key), head_numbers.get(key))
        if row.head != row.base or (release_metrics is not None and row.head != row.release):
            other_rows.append(row)

    params = param_changes(
        read_params(base_snap, params_files(base_snap, base_dvc)) if base_dvc else {},
        read_params(head_snap, params_files(head_snap, head_dvc)),
    )
    models = {str(spec["path"]) for spec in head_artifacts.values() if spec.get("path")}
    lock_rows = _lock_changes(
        read_locks(base_snap, base_dvc), read_locks(head_snap, head_dvc), models, set(head_files)
    )

    policy_note = None
    base_gates: Gates | None = None
    if gates_file is not None:
        policy_note = f"Gates read from `{gates_file}`: policy changes are not compared."
    else:
        try:
            base_gates = load_gates(base_snap, None)
        except MlgateError as exc:
            policy_note = f"No usable gates at the base ({exc}); every head rule counts as new."
    policy = [] if gates_file is not None else policy_changes(base_gates, gates)

    history_metric = gates.main
    points: list[tuple[str, float]] = []
    if history_metric and all_releases:
        named_by = "gates.main_metric" if gates.main_metric else None
        path, key = locate(history_metric, head_metrics, base_metrics, gates.source, named_by)
        shown = list(reversed(all_releases[:history]))
        blobs = gitio.read_blobs(root, [(r.sha, prefix + path) for r in shown])
        for rel in shown:
            raw = blobs.get((rel.sha, prefix + path))
            try:
                if raw is None:  # not in git: where DVC keeps it, as for the gates
                    snap = gitio.Snapshot(root, rel.sha, rel.name, prefix)
                    values = read_metrics(snap, [path]).files[path] or {}
                else:
                    values = flatten(parse_structured(raw.decode("utf-8"), path, rel.name) or {})
            except (MlgateError, UnicodeDecodeError, AttributeError):
                continue  # an unreadable old release leaves a gap, not an error
            value = as_number(values.get(key))
            if value is not None:
                points.append((str(rel.version), value))
        head_value = _value_at(head_metrics, path, key)
        if head_value is not None:
            points.append(("head", head_value))

    return ReportData(
        check=result,
        head=Side(head, head_snap.sha),
        base=Side(base, merge_base) if merge_base else None,
        base_ref=base,
        release=Side(release.name, release.sha) if release else None,
        gate_rows=gate_rows,
        other_metrics=other_rows,
        params=params,
        lock_changes=lock_rows,
        policy=policy,
        policy_note=policy_note,
        history_metric=history_metric,
        history=points,
        version=__version__,
        notes=notes,
    )
