"""Benchmark `mlgate sweep` and `mlgate experiments` (issue 20) on the embedded data.

Every figure is measured in a scratch clone of the repository (``--prepare DIR``: ``git
clone``, a fixed git identity, one ``dvc repro`` so the stages upstream of ``train`` are in
DVC's cache and their lock entries match), never in the working tree. Run it with the venv's
``dvc`` first on PATH (DVC's queue workers are ``dvc`` processes found there) and HOME set
to a scratch directory.

1. ``--grid DIR``: one 12-point grid (learning_rate x max_leaf_nodes) three ways per round,
   alternated so load hits all alike: ``mlgate sweep`` with 2 workers, the same with 1
   worker (the 12 configurations one after another), and plain DVC (``dvc exp run --queue
   -n NAME -S ...`` per trial, then ``dvc exp run --run-all -j 2``). Before each run (not
   timed) the experiment refs and DVC's run cache (``.dvc/cache/runs``) are removed, so
   every run trains all 12 models again under fresh names; the stages upstream of
   ``train`` are skipped as unchanged. Each run is checked to leave its 12 experiments.
2. ``--build-exps DIR --count 200``: 200 experiments of HEAD for ``--rank``, made from one
   real experiment (run here when HEAD has none) with ``git fast-import``: each is a copy
   of the real experiment's commit (parent HEAD, DVC's ref layout and message) with its own
   ``learning_rate`` in ``params.yaml``, its own metrics in ``metrics/metrics.json``, and a
   ``dvc.lock`` whose params and the metrics file's md5 and size agree with both, as DVC
   would have written them; the model and plots are the real experiment's. Checks that
   ``dvc exp show --json`` lists them all and ``mlgate experiments`` judges them all.
3. ``--rank DIR``: ``mlgate experiments`` against ``dvc exp show --json`` on those refs,
   with ``benchmarks/alternate.py``: each as a repeat run finds it (what each keeps of an
   experiment commit it read: mlgate's verdicts in ``.git/mlgate/experiments``, DVC's
   readings in ``.dvc/tmp/exps/cache``), and each with that deleted first (``--warm-only``
   skips these two).
4. ``--tpe DIR``: a seeded 20-trial Optuna TPE sweep judged against HEAD (the default
   params' model), and the default's and the best trial's figures.

    python benchmarks/bench_sweep.py --prepare /tmp/sb
    python benchmarks/bench_sweep.py --grid /tmp/sb --runs 3   # --sides 0,1: 2 vs 1 worker only
    cp -a /tmp/sb /tmp/sb-rank   # any clone with (or without) one real experiment
    python benchmarks/bench_sweep.py --build-exps /tmp/sb-rank --count 200
    python benchmarks/bench_sweep.py --rank /tmp/sb-rank --runs 5
    python benchmarks/bench_sweep.py --tpe /tmp/sb --trials 20
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
DVC = str(BIN / "dvc")
MLGATE = str(BIN / "mlgate")
ROOT = Path(__file__).resolve().parents[1]
ALTERNATE = ROOT / "benchmarks" / "alternate.py"

LR = "train.hist_gradient_boosting.learning_rate"
LEAVES = "train.hist_gradient_boosting.max_leaf_nodes"
GRID = f"""\
name: {{name}}
sampler: grid
trials: 12
jobs: {{jobs}}
params:
  {LR}: {{{{low: 0.03, high: 0.3, log: true, steps: 4}}}}
  {LEAVES}: {{{{low: 7, high: 63, type: int, steps: 3}}}}
"""
TPE = f"""\
name: {{name}}
sampler: tpe
trials: {{trials}}
seed: 42
jobs: 2
params:
  {LR}: {{{{low: 0.02, high: 0.3, log: true}}}}
  {LEAVES}: {{{{low: 7, high: 127, type: int}}}}
  train.hist_gradient_boosting.min_samples_leaf: {{{{low: 5, high: 200, type: int}}}}
  train.hist_gradient_boosting.l2_regularization: {{{{low: 0.0, high: 10.0}}}}
"""
GRID_SIDES = ("mlgate sweep -j 2", "mlgate sweep -j 1", "dvc exp run queue + run-all -j 2")
IDENTITY = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def _env() -> dict[str, str]:
    path = os.pathsep.join([str(BIN), os.environ.get("PATH", "")])
    env = {**os.environ, **IDENTITY, "PATH": path, "DVC_NO_ANALYTICS": "1"}
    # Both tools run as installed, with their bytecode written (pip compiled DVC's): with
    # PYTHONDONTWRITEBYTECODE set, mlgate's modules (an editable install) were compiled
    # again on every run, 0.15 s of a 0.37 s ranking.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run(repo: Path, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=repo, env=_env(), capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-800:]}")
    return done


def git(repo: Path, *args: str) -> str:
    return run(repo, "git", *args).stdout


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def prepare(repo: Path, source: Path = ROOT) -> None:
    subprocess.run(["git", "clone", "-q", str(source), str(repo)], check=True)
    git(repo, "config", "user.name", "bench")
    git(repo, "config", "user.email", "bench@example.com")
    run(repo, DVC, "repro")
    if git(repo, "status", "--porcelain").strip():
        raise SystemExit(f"{repo}: dvc repro changed tracked files; the lock should match")


def experiment_refs(repo: Path) -> dict[str, str]:
    """Experiment name -> ref, for DVC's experiment refs (refs/exps/<2>/<38>/<name>)."""
    listing = git(repo, "for-each-ref", "--format=%(refname)", "refs/exps")
    refs = {}
    for ref in listing.split():
        parts = ref.split("/")
        if len(parts) == 5 and len(parts[2]) == 2 and len(parts[3]) == 38:
            refs[parts[4]] = ref
    return refs


def reset(repo: Path) -> None:
    """No experiments and no run cache: the next run trains every configuration again."""
    refs = experiment_refs(repo)
    if refs:
        commands = "".join(f"delete {ref}\n" for ref in refs.values())
        subprocess.run(
            ["git", "update-ref", "--stdin"], cwd=repo, input=commands, text=True, check=True
        )
    subprocess.run(["rm", "-rf", str(repo / ".dvc" / "cache" / "runs")], check=True)


def grid_trials(scratch: Path, name: str) -> list[tuple[str, list[str]]]:
    """The grid's trials as ``mlgate sweep --dry-run`` lists them: (name, overrides)."""
    spec = scratch / f"{name}.yaml"
    spec.write_text(GRID.format(name=name, jobs=2))
    out = subprocess.run(
        [MLGATE, "sweep", str(spec), "--dry-run"],
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    trials = []
    for line in out.splitlines():
        trial, *overrides = line.split()
        trials.append((trial, overrides))
    return trials


def grid_once(repo: Path, scratch: Path, side: str, name: str) -> dict[str, float | str]:
    reset(repo)
    trials = grid_trials(scratch, name)
    spec = scratch / f"{name}.yaml"
    spec.write_text(GRID.format(name=name, jobs=1 if side == GRID_SIDES[1] else 2))
    figures: dict[str, float | str] = {"load": load()}
    start = time.perf_counter()
    if side == GRID_SIDES[2]:
        for trial, overrides in trials:
            sets = [arg for override in overrides for arg in ("-S", override)]
            run(repo, DVC, "exp", "run", "--queue", "-n", trial, *sets)
        figures["queue"] = time.perf_counter() - start
        run(repo, DVC, "exp", "run", "--run-all", "-j", "2")
    else:
        run(repo, MLGATE, "sweep", str(spec), "--no-color", check=False)
    figures["wall"] = time.perf_counter() - start
    done = set(experiment_refs(repo))
    missing = [trial for trial, _ in trials if trial not in done]
    if missing:
        raise SystemExit(f"{side} {name}: no experiment for {', '.join(missing)}")
    if side == GRID_SIDES[0]:  # what ranking the 12 costs inside the sweep
        start = time.perf_counter()
        run(repo, MLGATE, "experiments", "--format", "json", check=False)
        figures["rank"] = time.perf_counter() - start
    return figures


def grid(repo: Path, runs: int, sides: tuple[str, ...] = GRID_SIDES) -> None:
    scratch = repo.parent / f"{repo.name}-sweeps"
    scratch.mkdir(exist_ok=True)
    results: dict[str, list[dict[str, float | str]]] = {side: [] for side in sides}
    for round_number in range(1, runs + 1):
        for side in sides:
            number = GRID_SIDES.index(side)
            name = f"g{number}r{round_number}-{int(time.time())}"
            figures = grid_once(repo, scratch, side, name)
            results[side].append(figures)
            extra = "".join(
                f", {key} {value:.1f} s"
                for key, value in figures.items()
                if key not in ("wall", "load") and isinstance(value, float)
            )
            print(
                f"round {round_number} {side}: {figures['wall']:.1f} s{extra} "
                f"(load {figures['load']})",
                flush=True,
            )
    reset(repo)
    medians = {
        side: statistics.median(float(f["wall"]) for f in runs_) for side, runs_ in results.items()
    }
    print("\n| side | median (s) | runs (s) |\n|---|---:|---|")
    for side, runs_ in results.items():
        listed = ", ".join(f"{float(f['wall']):.1f}" for f in runs_)
        print(f"| {side} | {medians[side]:.1f} | {listed} |")
    two, one, plain = (medians.get(side) for side in GRID_SIDES)
    if one and two:
        print(f"\nspeed-up of 2 workers over 1: {one / two:.2f}x")
    if two and plain:
        print(f"mlgate sweep over plain DVC, per trial: {(two - plain) / 12:+.2f} s")
    print(json.dumps(results))


def _metrics_text(base: dict[str, object], roc_auc: float, accuracy: float) -> str:
    metrics = {**base, "roc_auc": roc_auc, "accuracy": accuracy}
    return json.dumps(metrics, indent=2) + "\n"


def build_experiments(repo: Path, count: int) -> None:
    """``count`` experiments of HEAD, each a copy of one real experiment's commit with its
    own learning_rate, metrics and a dvc.lock that agrees with both (see the module doc)."""
    head = git(repo, "rev-parse", "HEAD").strip()
    prefix = f"refs/exps/{head[:2]}/{head[2:]}/"
    real = [ref for ref in experiment_refs(repo).values() if ref.startswith(prefix)]
    if not real:
        run(repo, DVC, "exp", "run", "-n", "real", "-S", f"{LR}=0.05")
        real = [ref for ref in experiment_refs(repo).values() if ref.startswith(prefix)]
    if any(ref.startswith(f"{prefix}bench-") for ref in real):
        raise SystemExit(f"{repo}: has bench-NNN experiments already; build in a fresh copy")
    template = real[0]
    params = git(repo, "show", f"{template}:params.yaml")
    lock = git(repo, "show", f"{template}:dvc.lock")
    metrics_text = git(repo, "show", f"{template}:metrics/metrics.json")
    metrics = json.loads(metrics_text)
    old_lr = next(line for line in params.splitlines() if "learning_rate:" in line)
    old_md5 = hashlib.md5(metrics_text.encode()).hexdigest()
    old_entry = f"md5: {old_md5}\n      size: {len(metrics_text.encode())}"
    if lock.count(old_entry) != 2 or lock.count(old_lr.strip()) != 2:
        raise SystemExit("the real experiment's dvc.lock is not laid out as expected")
    # the files the real experiment changed besides these three keep its blobs
    kept = []
    for line in git(repo, "diff", "--raw", "--no-abbrev", head, template).splitlines():
        meta, path = line.split("\t")
        if path not in ("params.yaml", "dvc.lock", "metrics/metrics.json"):
            kept.append(f"M {meta.split()[1]} {meta.split()[3]} {path}\n")
    stream = []
    stamp = int(time.time())
    for index in range(count):
        learning_rate = round(0.02 + 0.0013 * index, 6)
        roc_auc = round(0.915 + 0.015 * ((index * 37) % count) / count, 6)
        accuracy = round(0.86 + 0.02 * ((index * 53) % count) / count, 6)
        new_metrics = _metrics_text(metrics, roc_auc, accuracy)
        md5 = hashlib.md5(new_metrics.encode()).hexdigest()
        new_lr = old_lr.replace(old_lr.split(":")[1], f" {learning_rate}")
        new_params = params.replace(old_lr, new_lr)
        new_lock = lock.replace(old_lr.strip(), new_lr.strip()).replace(
            old_entry, f"md5: {md5}\n      size: {len(new_metrics.encode())}"
        )
        message = f"dvc: commit experiment {hashlib.sha256(str(index).encode()).hexdigest()}\n"
        stream.append(f"commit {prefix}bench-{index:03d}\n")
        stream.append(f"committer bench <bench@example.com> {stamp + index} +0000\n")
        stream.append(f"data {len(message.encode())}\n{message}from {head}\n")
        stream.extend(kept)
        for path, text in (
            ("params.yaml", new_params),
            ("dvc.lock", new_lock),
            ("metrics/metrics.json", new_metrics),
        ):
            stream.append(f"M 100644 inline {path}\ndata {len(text.encode())}\n{text}\n")
        stream.append("\n")
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=repo, input="".join(stream), text=True, check=True
    )


def verify(repo: Path, count: int) -> None:
    """Both tools see every experiment; mlgate judges every one (no ERROR)."""
    shown = json.loads(run(repo, DVC, "exp", "show", "--json").stdout)
    names = {exp["name"] for baseline in shown for exp in baseline.get("experiments") or []}
    ranked = json.loads(run(repo, MLGATE, "experiments", "--format", "json", check=False).stdout)
    judged = ranked["experiments"]
    errors = [exp for exp in judged if exp.get("error")]
    passed = sum(1 for exp in judged if exp["verdict"] == "pass")
    print(
        f"dvc exp show --json: {len(names)} experiments; mlgate experiments: {len(judged)} "
        f"judged, {passed} pass, {len(errors)} errors"
    )
    if len(names) < count or len(judged) < count or errors:
        raise SystemExit("not every experiment is listed and judged")


def rank_bench(repo: Path, runs: int, warmup: int = 1, cold: bool = True) -> None:
    """Each tool as a repeat run finds it (mlgate's kept verdicts in ``.git/mlgate``, DVC's
    kept readings in ``.dvc/tmp/exps/cache``), and, with ``cold``, with those deleted first."""
    mlgate = f"PATH={BIN}:$PATH {MLGATE} experiments --format json >/dev/null"
    dvc = f"PATH={BIN}:$PATH {DVC} exp show --json >/dev/null"
    commands = [
        f"mlgate experiments, verdicts kept={mlgate}",
        f"dvc exp show --json, readings kept={dvc}",
    ]
    if cold:
        commands += [
            f"mlgate experiments, nothing kept=rm -f .git/mlgate/experiments && {mlgate}",
            f"dvc exp show --json, nothing kept=rm -rf .dvc/tmp/exps/cache && {dvc}",
        ]
    print(f"load before: {load()}")
    subprocess.run(
        [
            sys.executable,
            str(ALTERNATE),
            "--runs",
            str(runs),
            "--warmup",
            str(warmup),
            "--cwd",
            str(repo),
            *commands,
        ],
        env=_env(),
        check=True,
    )
    print(f"load after: {load()}")


def tpe(repo: Path, trials: int) -> None:
    reset(repo)
    scratch = repo.parent / f"{repo.name}-sweeps"
    scratch.mkdir(exist_ok=True)
    spec = scratch / "tpe.yaml"
    spec.write_text(TPE.format(name="tpe", trials=trials))
    print(f"load before: {load()}", flush=True)
    start = time.perf_counter()
    swept = run(repo, MLGATE, "sweep", str(spec), "--baseline", "HEAD", "--no-color", check=False)
    print(swept.stdout, swept.stderr[-2000:], sep="\n")
    print(f"{trials} trials in {time.perf_counter() - start:.0f} s; load after: {load()}")
    ranked = json.loads(
        run(
            repo, MLGATE, "experiments", "--baseline", "HEAD", "--format", "json", check=False
        ).stdout
    )
    default = json.loads((repo / "metrics" / "metrics.json").read_text())
    print(f"default params (HEAD): roc_auc {default['roc_auc']}, accuracy {default['accuracy']}")
    print(json.dumps(ranked["experiments"][:3], indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--prepare", type=Path, metavar="DIR")
    action.add_argument("--grid", type=Path, metavar="DIR")
    action.add_argument("--build-exps", type=Path, metavar="DIR")
    action.add_argument("--rank", type=Path, metavar="DIR")
    action.add_argument("--tpe", type=Path, metavar="DIR")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--sides", default="0,1,2", help="--grid: which sides, by index in GRID_SIDES"
    )
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=1, help="--rank: uncounted rounds")
    parser.add_argument(
        "--warm-only", action="store_true", help="--rank: skip the sides with nothing kept"
    )
    args = parser.parse_args()
    if args.prepare:
        prepare(args.prepare)
    elif args.grid:
        grid(args.grid, args.runs, tuple(GRID_SIDES[int(i)] for i in args.sides.split(",")))
    elif args.build_exps:
        build_experiments(args.build_exps, args.count)
        verify(args.build_exps, args.count)
    elif args.rank:
        rank_bench(args.rank, args.runs, args.warmup, cold=not args.warm_only)
    else:
        tpe(args.tpe, args.trials)


if __name__ == "__main__":
    main()
