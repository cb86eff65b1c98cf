"""``mlgate reproduce``: run the pipeline, rerun every stage that writes gated metrics, and
check that the numbers the commit holds are the ones it produces.

Why: ``dvc repro`` skips a stage whose dependencies and outputs match ``dvc.lock``, so a
commit that pairs a weaker model's params with the previous ``metrics.json`` (and that
file's md5 and size patched into ``dvc.lock``) rebuilds the model byte for byte, skips
``evaluate``, and ``mlgate check`` then judges forged numbers. Here the committed metrics of
every gated file are read from git before anything runs; the pipeline runs as ``dvc repro``
would, except that each stage producing a gated file runs its command even where DVC would
skip it; then the files it wrote are compared with the committed ones key by key. Outputs
``dvc.yaml`` marks ``meta: {volatile: true}`` (timings) are not compared: ``check`` judges
them as measured in this run, and ``release`` accepts a tree that differs from its commit
only there (``require_commit``).
"""

from __future__ import annotations

import math
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate import dvcadapter, gitio
from mlgate.api import ABSENT, load_gates, locate
from mlgate.dvcadapter import DVC_LOCK, DVC_YAML, PARAMS_YAML, norm_path
from mlgate.dvcdata import HASH_KEYS
from mlgate.errors import ConfigError, MlgateError, RefusedError
from mlgate.gates import Gates
from mlgate.loaders import parse_yaml
from mlgate.metrics import (
    MetricsAt,
    StageOutput,
    has_pipeline,
    metrics_files,
    read_dvc_yaml,
    read_metrics,
    stage_outputs,
)
from mlgate.publish import head_commit, hidden_paths, some

# `git status --porcelain` codes of a tracked file whose content changed (staged or not).
MODIFIED = frozenset({" M", "M ", "MM"})


# --- the tree a commit may differ from: volatile outputs and their dvc.lock entries -------


def _lock_of(dvcfile: str) -> str:
    return posixpath.join(posixpath.dirname(dvcfile), DVC_LOCK)


def without_volatile(lock: Any, volatile: list[StageOutput]) -> Any:
    """A parsed ``dvc.lock`` with the hash and size of the ``volatile`` outputs left out
    (only outputs of the stages it records; ``volatile`` all from its ``dvc.yaml``)."""
    if not isinstance(lock, dict) or not isinstance(lock.get("stages"), dict):
        return lock
    stages: dict[Any, Any] = {}
    for name, stage in lock["stages"].items():
        mine = [out for out in volatile if out.stage == name]
        if mine and isinstance(stage, dict) and isinstance(stage.get("outs"), list):
            outs = [
                {k: v for k, v in entry.items() if k not in (*HASH_KEYS, "size")}
                if isinstance(entry, dict)
                and any(norm_path(str(entry.get("path")), out.wdir) == out.path for out in mine)
                else entry
                for entry in stage["outs"]
            ]
            stage = {**stage, "outs": outs}
        stages[name] = stage
    return {**lock, "stages": stages}


def _lock_differs_beyond(
    head: gitio.Snapshot, worktree: gitio.Snapshot, lock: str, volatile: list[StageOutput]
) -> bool:
    try:
        committed = parse_yaml(head.read_text(lock) or "", head.where(lock))
        current = parse_yaml(worktree.read_text(lock) or "", worktree.where(lock))
    except MlgateError:
        return True  # a lock that cannot be read is not one that differs only in timings
    return bool(without_volatile(committed, volatile) != without_volatile(current, volatile))


def changes_beyond_volatile(
    head: gitio.Snapshot, outputs: list[StageOutput] | None = None
) -> list[str]:
    """Paths (as ``git status`` shows them) where the working tree differs from the commit
    ``head``, leaving out outputs its ``dvc.yaml`` marks volatile and a ``dvc.lock`` whose
    only differences are those outputs' hashes and sizes. Untracked files count.
    ``outputs``: ``stage_outputs`` of ``head``, when the caller has them already."""
    lines = gitio.status_lines(head.repo_root)
    if not lines:
        return []
    shown = [line[3:] for line in lines]
    if outputs is None:
        if not has_pipeline(head):
            return shown
        outputs = stage_outputs(head, read_dvc_yaml(head))
    volatile = [out for out in outputs if out.volatile]
    locks = {_lock_of(out.dvcfile) for out in volatile}
    worktree = gitio.Snapshot(head.repo_root, None, gitio.WORKTREE, head.prefix)
    beyond = []
    for line, path in zip(lines, shown, strict=True):
        inside = path[len(head.prefix) :] if path.startswith(head.prefix) else None
        if line[:2] in MODIFIED and inside is not None:
            if any(out.holds(inside) for out in volatile):
                continue
            if inside in locks:
                mine = [out for out in volatile if _lock_of(out.dvcfile) == inside]
                if not _lock_differs_beyond(head, worktree, inside, mine):
                    continue
        beyond.append(path)
    return beyond


def require_commit(
    head: gitio.Snapshot, why: str, outputs: list[StageOutput] | None = None
) -> None:
    """Refuse a working tree that is not the commit ``head`` (volatile outputs aside):
    uncommitted or untracked changes, or tracked files git is told not to compare."""
    root = head.repo_root
    hidden = hidden_paths(root)
    if hidden:
        raise RefusedError(
            f"git is told to ignore changes to {some(hidden)} (assume-unchanged or "
            "skip-worktree), so a clean status proves nothing; clear it with "
            f"'git update-index --no-assume-unchanged --no-skip-worktree {hidden[0]}'"
        )
    dirty = changes_beyond_volatile(head, outputs)
    if dirty:
        raise RefusedError(
            f"the working tree has uncommitted changes ({some(dirty)}); "
            f"commit or remove them first: {why}"
        )


# --- reproduce -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """A key whose reproduced value is not the committed one (``ABSENT`` on one side: the
    key, or the whole file, exists on the other side only)."""

    path: str
    key: str
    committed: Any
    reproduced: Any


@dataclass(frozen=True)
class ReproduceResult:
    head: str  # the commit whose metrics were compared, labelled 'HEAD (abc1234)'
    ran: tuple[str, ...]  # stages DVC reproduced, in order
    forced: tuple[str, ...]  # stages writing gated metrics that DVC would have skipped
    compared: tuple[str, ...]  # gated metrics files compared with the commit
    volatile: tuple[str, ...]  # gated metrics files left as measured in this run
    differences: tuple[Difference, ...]

    @property
    def reproduces(self) -> bool:
        return not self.differences


def gated_files(gates: Gates, committed: MetricsAt) -> list[str]:
    """The metrics files that hold a gated metric or ``main_metric``, in rule order."""
    files = [locate(rule.metric, committed, None, gates.source)[0] for rule in gates.rules]
    if gates.main_metric:
        named_by = "gates.main_metric"
        files.append(locate(gates.main_metric, committed, None, gates.source, named_by)[0])
    return list(dict.fromkeys(files))


def _same(committed: Any, reproduced: Any) -> bool:
    """Equal as values, NaN equal to NaN; ``true`` is not ``1``."""
    if isinstance(committed, bool) or isinstance(reproduced, bool):
        return type(committed) is type(reproduced) and committed == reproduced
    if isinstance(committed, float) and isinstance(reproduced, float):
        both_nan = math.isnan(committed) and math.isnan(reproduced)
        return committed == reproduced or both_nan
    return bool(committed == reproduced)


def differences(
    committed: dict[str, Any] | None, reproduced: dict[str, Any] | None, path: str
) -> list[Difference]:
    """Key by key (flattened dotted keys), committed keys first; an absent file is a file
    without keys, so every key of the other side differs."""
    before, after = committed or {}, reproduced or {}
    found = []
    for key in dict.fromkeys([*before, *after]):
        old, new = before.get(key, ABSENT), after.get(key, ABSENT)
        if old is ABSENT or new is ABSENT or not _same(old, new):
            found.append(Difference(path, key, old, new))
    return found


def reproduce(repo_root: Path, gates_file: Path | None = None) -> ReproduceResult:
    """Reproduce the checked-out commit and compare its gated metrics with what it holds.

    Refused (exit 2) when the working tree is not the commit (volatile outputs aside) or a
    gated metrics file is written by no stage (nothing could verify it). The gates come from
    ``params.yaml`` at the commit, or ``gates_file``.
    """
    root = Path(repo_root)
    sha = head_commit(root)
    head = gitio.Snapshot(root, sha, f"HEAD ({gitio.short(sha)})", gitio.git_prefix(root))
    head.prefetch([DVC_YAML, PARAMS_YAML, DVC_LOCK])
    dvc_yaml = read_dvc_yaml(head)
    outputs = stage_outputs(head, dvc_yaml)
    require_commit(head, "mlgate reproduce checks the metrics a commit holds", outputs)
    gates = load_gates(head, gates_file)
    committed = read_metrics(head, metrics_files(head, dvc_yaml))
    gated = gated_files(gates, committed)
    producers = {path: [out for out in outputs if out.holds(path)] for path in gated}
    for path, producing in producers.items():
        if not producing:
            raise ConfigError(
                f"{head.where(path)}: a gated metrics file that no stage writes (no stage "
                "lists it, or a directory holding it, under outs, metrics or plots), so its "
                "numbers cannot be reproduced"
            )
    volatile = [path for path in gated if any(out.volatile for out in producers[path])]
    stages = dict.fromkeys(out.address for path in gated for out in producers[path])
    run = dvcadapter.reproduce(root, list(stages))
    compared = [path for path in gated if path not in volatile]
    reproduced = read_metrics(gitio.snapshot(root, None, head.prefix), compared)
    found = [
        difference
        for path in compared
        for difference in differences(committed.files.get(path), reproduced.files.get(path), path)
    ]
    return ReproduceResult(
        head.label, run.ran, run.forced, tuple(compared), tuple(volatile), tuple(found)
    )
