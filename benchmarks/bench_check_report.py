"""Benchmark `mlgate check` and `mlgate report` against the DVC commands they replace.

Targets (issue 3): `mlgate check` median wall time <= 0.7x of `dvc status && dvc metrics
diff --json` run back to back; `mlgate report` <= 1.5x of `dvc metrics diff --md`.

Every round runs all commands once, interleaved, so machine load (the box is shared)
hits them alike and the ratios stay meaningful; the medians over ``--runs`` rounds are
printed as a Markdown table. It also times `dvc status` in-process (what mlgate does)
against the `dvc status` command, the measurement behind that design choice.

Usage (on a copy, never on a checkout others are working in):

    python benchmarks/bench_check_report.py --prepare /tmp/bench-gates   # clone + repro
    python benchmarks/bench_check_report.py --repo /tmp/bench-gates --runs 7

``--prepare DIR`` clones this repository to DIR, copies the DVC cache, runs ``dvc repro``,
commits the result on ``main``, tags it ``<artifact>@v1.0.0`` (annotated, as GTO does)
and adds a ``feature`` branch one commit ahead, checked out, which is what a pull
request looks like to `mlgate report --base main`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
DVC = str(BIN / "dvc")
MLGATE = str(BIN / "mlgate")
PYTHON = sys.executable
HERE = Path(__file__).resolve().parent.parent


# --prepare commits and tags: a git identity of its own, whatever HOME's git config holds
IDENTITY = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def env() -> dict[str, str]:
    path = f"{BIN}:{os.environ['PATH']}"
    return {**os.environ, **IDENTITY, "DVC_NO_ANALYTICS": "1", "PATH": path}


def sh(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env(), capture_output=True, text=True, check=check)


def prepare(target: Path, source: Path = HERE) -> None:
    if target.exists():
        raise SystemExit(f"{target} exists; remove it or pick another directory")
    sh(["git", "clone", "-q", str(source), str(target)], Path("/"))
    cache = source / ".dvc" / "cache"
    if cache.is_dir():
        shutil.copytree(cache, target / ".dvc" / "cache")
    sh([DVC, "checkout", "-q"], target, check=False)
    sh([DVC, "repro", "-q"], target)
    sh(["git", "checkout", "-q", "-B", "main"], target)
    sh(["git", "add", "-A"], target)
    sh(["git", "commit", "-q", "--allow-empty", "-m", "bench: reproduced pipeline"], target)
    artifact = sh([PYTHON, "-c", _ARTIFACT], target).stdout.strip()
    sh(["git", "tag", "-a", f"{artifact}@v1.0.0", "-m", "bench release"], target)
    sh(["git", "checkout", "-q", "-b", "feature"], target)
    (target / "BENCH.md").write_text("a pull request\n")
    sh(["git", "add", "BENCH.md"], target)
    sh(["git", "commit", "-q", "-m", "bench: feature commit"], target)


_ARTIFACT = (
    "from pathlib import Path; from mlgate.publish import artifact_in_worktree; "
    "print(artifact_in_worktree(Path('.'), None))"
)

IN_PROCESS_STATUS = "from dvc.repo import Repo; r = Repo('.'); assert r.status() == {}; r.close()"

COMMANDS: dict[str, list[list[str]]] = {
    "dvc status && dvc metrics diff --json": [
        [DVC, "status", "-q"],
        [DVC, "metrics", "diff", "--json"],
    ],
    "mlgate check": [[MLGATE, "check", "--format", "json"]],
    "dvc metrics diff --md": [[DVC, "metrics", "diff", "--md"]],
    "mlgate report --base main": [[MLGATE, "report", "--base", "main"]],
    "dvc status (command)": [[DVC, "status", "-q"]],
    "dvc status (in process, python -c)": [[PYTHON, "-c", IN_PROCESS_STATUS]],
}


def run_once(steps: list[list[str]], cwd: Path) -> float:
    start = time.perf_counter()
    for step in steps:
        done = subprocess.run(step, cwd=cwd, env=env(), capture_output=True, text=True)
        # `mlgate check` exits 1 when a gate fails: still a valid, complete run.
        if done.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(step)} failed ({done.returncode}): {done.stderr}")
    return time.perf_counter() - start


def bench(repo: Path, runs: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for steps in COMMANDS.values():  # warm-up: file caches, DVC's state database
        run_once(steps, repo)
    for _ in range(runs):
        for name, steps in COMMANDS.items():
            times[name].append(run_once(steps, repo))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, help="a reproduced copy of the repository")
    parser.add_argument("--prepare", type=Path, help="clone + repro a copy into this directory")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if args.prepare:
        prepare(args.prepare)
        print(f"prepared {args.prepare}")
        return
    if args.repo is None:
        parser.error("--repo or --prepare is required")
    times = bench(args.repo, args.runs)
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"medians of {args.runs} interleaved rounds, {os.cpu_count()} CPUs, repo {args.repo}\n")
    print("| command | median (s) | min (s) | max (s) |")
    print("|---|---|---|---|")
    for name, values in times.items():
        print(f"| `{name}` | {median[name]:.3f} | {min(values):.3f} | {max(values):.3f} |")
    check_ratio = median["mlgate check"] / median["dvc status && dvc metrics diff --json"]
    report_ratio = median["mlgate report --base main"] / median["dvc metrics diff --md"]
    print(
        f"\ncheck / (dvc status && dvc metrics diff --json) = {check_ratio:.2f}"
        " (target <= 0.7, issue 3; <= 0.5, issue 15)"
    )
    print(f"report / dvc metrics diff --md = {report_ratio:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
