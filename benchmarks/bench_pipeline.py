"""Pipeline benchmarks (issue 2): full `dvc repro`, no-op `dvc repro`, a train-param rerun,
and full runs on synthetic 10x/100x enlargements of the embedded data.

Every scenario runs in a scratch copy of the repository's tracked files (`git ls-files`), so
the working tree is never touched. Wall time is measured around the `dvc` process; peak
memory is the largest resident set of any process in its tree (os.wait4's ru_maxrss: the
stages run one after another, so this is the largest stage; the dvc process itself holds
about 150 MB beside it). Scenarios are interleaved run by run, so that the load of a shared
machine falls on all of them alike and their ratio stays meaningful. After the dvc rounds,
each stage's command is timed alone (as dvc.lock records it), to show where a run goes and
what dvc adds around the stages.

    python benchmarks/bench_pipeline.py --runs 5 --work /tmp/mlgate-bench
    python benchmarks/bench_pipeline.py --runs 1 --scales 10 100 --skip-embedded --work ...
    python benchmarks/bench_pipeline.py --scales 10 --scale-rerun --skip-embedded --work ...
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SYNTHETIC = REPO / "benchmarks" / "make_synthetic.py"


def environment(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="mlgate bench",
        GIT_AUTHOR_EMAIL="bench@mlgate.invalid",
        GIT_COMMITTER_NAME="mlgate bench",
        GIT_COMMITTER_EMAIL="bench@mlgate.invalid",
        DVC_NO_ANALYTICS="1",
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    return env


def run(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB of the process tree) of a command that must succeed."""
    start = time.perf_counter()
    process = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.stderr.write(output.decode(errors="replace"))
        raise SystemExit(f"{' '.join(args)} failed in {cwd} (exit {process.returncode})")
    return seconds, usage.ru_maxrss / 1024


def scratch_copy(target: Path, env: dict[str, str]) -> Path:
    if target.exists():
        shutil.rmtree(target)
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, names.split("\0")):
        if (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    for command in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "copy"]):
        subprocess.run(command, cwd=target, env=env, check=True)
    return target


def set_param(root: Path, section: str, key: str, value: str) -> None:
    """Change one `key: value` line inside a top-level section of params.yaml, in place."""
    path = root / "params.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index(f"\n{section}:\n")
    end_match = re.search(r"\n\S", text[start + 1 :])
    end = start + 1 + end_match.start() if end_match else len(text)
    line = re.compile(rf"^(\s+{re.escape(key)}:)[^\n#]*", flags=re.M)
    block, count = line.subn(rf"\g<1> {value}  ", text[start:end], count=1)
    if count != 1:
        raise SystemExit(f"params.yaml: no '{section}.{key}' to set")
    path.write_text(text[:start] + block + text[end:], encoding="utf-8")


def dvc(*args: str) -> list[str]:
    return [sys.executable, "-m", "dvc", *args]


def embedded(work: Path, runs: int, env: dict[str, str]) -> dict[str, list[float]]:
    root = scratch_copy(work / "embedded", env)
    run(dvc("repro"), root, env)  # warm-up: caches, page cache, compiled bytecode
    times: dict[str, list[float]] = {"full": [], "noop": [], "train_param": []}
    for index in range(runs):
        times["full"].append(run(dvc("repro", "-f"), root, env)[0])
        times["noop"].append(run(dvc("repro"), root, env)[0])
        # a value never used before, so the run cache cannot answer for train
        set_param(root, "train", "learning_rate", f"{0.1 + 0.001 * (index + 1):.3f}")
        times["train_param"].append(run(dvc("repro"), root, env)[0])
        set_param(root, "train", "learning_rate", "0.1")
    times.update(stage_times(root, runs, env))
    return times


def stage_times(root: Path, runs: int, env: dict[str, str]) -> dict[str, list[float]]:
    """Wall time of each stage's own command (from dvc.lock), run outside dvc, interleaved.

    Runs last: the commands rewrite outputs in place (timings differ), which would make the
    next `dvc repro` rerun evaluate. The sum against the full repro shows what dvc adds.
    """
    lock = yaml.safe_load((root / "dvc.lock").read_text(encoding="utf-8"))
    commands = {name: stage["cmd"] for name, stage in lock["stages"].items()}
    times: dict[str, list[float]] = {f"stage {name}": [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            times[f"stage {name}"].append(run(["sh", "-c", command], root, env)[0])
    return times


def scaled(
    work: Path, factor: int, runs: int, env: dict[str, str], rerun: bool = False
) -> dict[str, Any]:
    data = work / f"data-{factor}x"
    if not (data / f"adult-test-{factor}x.csv.gz").exists():
        subprocess.run(
            [sys.executable, str(SYNTHETIC), "--factor", str(factor), "--out", str(data)],
            check=True,
        )
    root = scratch_copy(work / f"scale-{factor}x", env)
    train, test = data / f"adult-train-{factor}x.csv.gz", data / f"adult-test-{factor}x.csv.gz"
    for key, source in (("train_source", train), ("test_source", test), ("current_source", test)):
        set_param(root, "ingest", key, str(source))
    seconds, peaks, reruns = [], [], []
    for index in range(runs):
        elapsed, peak = run(dvc("repro", "-f"), root, env)
        seconds.append(elapsed)
        peaks.append(peak)
        if rerun:  # the embedded scenario's train-param rerun, at this scale
            set_param(root, "train", "learning_rate", f"{0.1 + 0.001 * (index + 1):.3f}")
            reruns.append(run(dvc("repro"), root, env)[0])
            set_param(root, "train", "learning_rate", "0.1")
    metrics = json.loads((root / "metrics" / "metrics.json").read_text(encoding="utf-8"))
    return {
        "seconds": seconds,
        "train_param_seconds": reruns,
        "peak_mb": max(peaks),
        "roc_auc": metrics["roc_auc"],
        "accuracy": metrics["accuracy"],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per scenario (median)")
    parser.add_argument("--scale-runs", type=int, default=None, help="runs per scale factor")
    parser.add_argument("--scales", type=int, nargs="*", default=[10, 100])
    parser.add_argument("--skip-embedded", action="store_true")
    parser.add_argument(
        "--scale-rerun",
        action="store_true",
        help="after each scale run, also time a train-param rerun at that scale",
    )
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / ".work")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    env = environment(args.work / "home")
    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "python": platform.python_version(),
    }
    if not args.skip_embedded:
        results["embedded"] = embedded(args.work, args.runs, env)
    for factor in args.scales:
        results[f"{factor}x"] = scaled(
            args.work, factor, args.scale_runs or args.runs, env, args.scale_rerun
        )
    print(f"machine: {results['machine']}")
    print("| scenario | runs | median s | min s | max s | peak MB |\n|---|---|---|---|---|---|")
    for name, values in results.get("embedded", {}).items():
        print(
            f"| {name} | {len(values)} | {statistics.median(values):.2f} | {min(values):.2f} "
            f"| {max(values):.2f} | |"
        )
    for factor in args.scales:
        entry = results[f"{factor}x"]
        values = entry["seconds"]
        print(
            f"| {factor}x full | {len(values)} | {statistics.median(values):.2f} "
            f"| {min(values):.2f} | {max(values):.2f} | {entry['peak_mb']:.0f} |"
        )
        if reruns := entry["train_param_seconds"]:
            print(
                f"| {factor}x train_param | {len(reruns)} | {statistics.median(reruns):.2f} "
                f"| {min(reruns):.2f} | {max(reruns):.2f} | |"
            )
    for factor in args.scales:
        if reruns := results[f"{factor}x"]["train_param_seconds"]:
            ratio = statistics.median(reruns) / statistics.median(results[f"{factor}x"]["seconds"])
            print(f"{factor}x train-param rerun / full repro: {ratio:.2f}")
    if "embedded" in results:
        times = results["embedded"]
        ratio = statistics.median(times["train_param"]) / statistics.median(times["full"])
        print(f"train-param rerun / full repro: {ratio:.2f} (target <= 0.5)")
        stages = {k: statistics.median(v) for k, v in times.items() if k.startswith("stage ")}
        rerun = stages.get("stage train", 0.0) + stages.get("stage evaluate", 0.0)
        print(
            f"stage commands alone: {sum(stages.values()):.2f} s, of which train + evaluate "
            f"{rerun:.2f} s ({rerun / sum(stages.values()):.0%})"
        )
    if {"10x", "100x"} <= set(results):
        growth = statistics.median(results["100x"]["seconds"]) / statistics.median(
            results["10x"]["seconds"]
        )
        print(f"100x / 10x time: {growth:.2f} (target <= 12, i.e. 1.2 x linear)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
