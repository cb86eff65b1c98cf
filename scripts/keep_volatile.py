"""After `dvc repro`, keep the committed copy of outputs marked `meta: {volatile: true}`.

Inference timings (metrics/inference.json) never reproduce byte for byte, so whenever CI
reruns the evaluate stage (a forced run, a lost plots folder, a runner without the DVC cache
where evaluate's committed outputs do not all match) that file and its hash in dvc.lock change,
the working tree is dirty, and `mlgate release` refuses the commit. When the rebuild changed
nothing but volatile outputs (every other output hash in dvc.lock is the committed one), this
restores the committed copies of those outputs and of dvc.lock: the tree is then exactly the
commit, whose deterministic outputs the rebuild has just verified, and `dvc status` is clean.
When anything else changed, it restores nothing and says so: the commit does not reproduce.

Usage: python -m scripts.keep_volatile   (from the repository root, after `dvc repro`)
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from stages.common import read_yaml  # YAML 1.2, as DVC and the stages read it

LOCK = "dvc.lock"


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def volatile_outputs() -> set[str]:
    """Paths of the outputs dvc.yaml marks volatile (DVC resolves the ${...} templates)."""
    from dvc.repo import Repo

    with Repo(".") as repo:
        return {
            str(out.def_path)
            for out in repo.index.outs
            if isinstance(out.annot.meta, Mapping) and out.annot.meta.get("volatile") is True
        }


def without(lock: Mapping[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    """The lock's stages with the entries of `paths` dropped from every stage's outs."""
    skip = set(paths)
    stages = {}
    for name, stage in (lock.get("stages") or {}).items():
        outs = [out for out in stage.get("outs", []) if out.get("path") not in skip]
        stages[name] = {**stage, "outs": outs}
    return stages


def plan(changed: set[str], volatile: set[str], committed: Any, current: Any) -> list[str]:
    """The files to restore from HEAD, or [] when the rebuild changed anything else."""
    touched = changed & volatile
    if not touched or not changed <= volatile | {LOCK}:
        return []
    if LOCK in changed and without(committed, volatile) != without(current, volatile):
        return []
    return sorted(touched | (changed & {LOCK}))


def main() -> int:
    changed = set(filter(None, git("diff", "--name-only", "HEAD").splitlines()))
    volatile = volatile_outputs()
    committed = read_yaml(git("show", f"HEAD:{LOCK}"), f"HEAD:{LOCK}") if LOCK in changed else None
    with open(LOCK, encoding="utf-8") as handle:
        current = read_yaml(handle.read(), LOCK)
    restore = plan(changed, volatile, committed, current)
    if restore:
        git("checkout", "HEAD", "--", *restore)
        print(
            f"keep_volatile: kept the committed {', '.join(restore)}: only volatile outputs changed"
        )
    elif changed & volatile:
        others = sorted(changed - volatile - {LOCK}) or [LOCK]
        print(
            f"keep_volatile: not restoring: the rebuild also changed {', '.join(others)}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
