"""Benchmark `mlgate check --rev` on a dvclive-style project whose metrics sit in DVC's cache.

Target (issue 16): `mlgate check --rev HEAD --baseline HEAD~1` (both revisions' metrics read
from the cache through the lock's `.dir` manifest, each object checked with hashlib) takes
at most 0.5x the time of `dvc metrics diff HEAD~1 HEAD` on the same revisions.

The project: one stage logs with dvclive into `eval/` (a cached directory output, ignored
by git) with nested keys (`test.roc_auc`); the top-level `metrics:` names
`eval/metrics.json`, as dvclive's own dvc.yaml does. Two commits, both in the local cache.

Each round runs both commands once, alternating which goes first, so machine load hits
them alike; medians over ``--runs`` rounds are printed with their ratio.

    python benchmarks/bench_cached_metrics.py --prepare /tmp/bench-dvclive
    python benchmarks/bench_cached_metrics.py --repo /tmp/bench-dvclive --runs 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
DVC = str(BIN / "dvc")
MLGATE = str(BIN / "mlgate")

TRAIN = """\
import yaml
from dvclive import Live

p = yaml.safe_load(open("params.yaml"))["train"]
with Live(dir="eval", save_dvc_exp=False, dvcyaml=None) as live:
    live.log_metric("test/roc_auc", p["auc"])
    live.log_metric("test/acc", round(p["auc"] - 0.1, 4))
    live.log_metric("train/roc_auc", round(p["auc"] + 0.05, 4))
    live.log_metric("loss", round(1 - p["auc"], 4))
open("model.pkl", "w").write(f"model {p['auc']}")
"""

DVC_YAML = f"""\
stages:
  train:
    cmd: {sys.executable} train.py
    deps: [train.py]
    params: [train.auc]
    outs: [eval, model.pkl]
metrics:
  - eval/metrics.json
artifacts:
  model: {{path: model.pkl, type: model}}
"""

PARAMS = """\
train:
  auc: {auc}
gates:
  baseline: latest-release
  rules:
    - metric: test.roc_auc
      direction: higher
      min: 0.5
      max_regression: 0.2
    - metric: test.acc
      direction: higher
      min: 0.5
"""


def env() -> dict[str, str]:
    return {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": f"{BIN}:{os.environ['PATH']}"}


def sh(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env(), capture_output=True, text=True, check=True)


def prepare(target: Path) -> None:
    if target.exists():
        raise SystemExit(f"{target} exists; remove it or pick another directory")
    target.mkdir(parents=True)
    sh(["git", "init", "-q", "-b", "main"], target)
    sh([DVC, "init", "-q"], target)
    sh(["git", "add", "-A"], target)
    sh(["git", "commit", "-q", "-m", "dvc init"], target)  # dvclive needs a commit
    (target / "train.py").write_text(TRAIN)
    (target / "dvc.yaml").write_text(DVC_YAML)
    for auc in (0.9, 0.8):
        (target / "params.yaml").write_text(PARAMS.format(auc=auc))
        sh([DVC, "repro", "-q"], target)
        sh(["git", "add", "-A"], target)
        sh(["git", "commit", "-q", "-m", f"auc {auc}"], target)
    if sh(["git", "ls-files", "eval"], target).stdout.strip():
        raise SystemExit("eval/ is in git: the benchmark needs the metrics in DVC's cache")


COMMANDS = {
    "mlgate check --rev HEAD --baseline HEAD~1": [
        MLGATE, "check", "--rev", "HEAD", "--baseline", "HEAD~1", "--format", "json",
    ],
    "dvc metrics diff HEAD~1 HEAD": [DVC, "metrics", "diff", "HEAD~1", "HEAD", "--json"],
}  # fmt: skip


def timed(args: list[str], repo: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, cwd=repo, env=env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prepare", type=Path)
    parser.add_argument("--repo", type=Path)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if args.prepare:
        prepare(args.prepare)
        return 0
    if not args.repo:
        parser.error("give --prepare DIR or --repo DIR")
    names = list(COMMANDS)
    times: dict[str, list[float]] = {name: [] for name in names}
    for command in COMMANDS.values():
        timed(command, args.repo)  # warm the page cache once
    for round_ in range(args.runs):
        for name in names if round_ % 2 == 0 else reversed(names):
            times[name].append(timed(COMMANDS[name], args.repo))
    medians = {name: statistics.median(values) for name, values in times.items()}
    print("| command | median s | runs |")
    print("|---|---:|---|")
    for name in names:
        runs = " ".join(f"{value:.2f}" for value in times[name])
        print(f"| `{name}` | {medians[name]:.3f} | {runs} |")
    ratio = medians[names[0]] / medians[names[1]]
    print(f"\nratio mlgate / dvc = {ratio:.2f} (target <= 0.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
