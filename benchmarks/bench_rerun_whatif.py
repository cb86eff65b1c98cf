"""What-if for issue 2's "train-param rerun <= half the full repro": the pipeline as it is,
against the same pipeline with train and evaluate run by one Python process.

The rerun after a train hyperparameter change is train + evaluate. On the embedded data most
of each of those stages is the import of scikit-learn (with scipy.stats and pandas, which it
imports) and skops, paid once per process. The "fused" copy answers how much of the missed
target that per-process cost is: its dvc.yaml has one `train` stage whose command runs
stages.train's and stages.evaluate's main() one after the other (same arguments, deps,
params and outputs as the two stages), so the work is identical and only one process
imports. The script checks that both copies produce the same model md5 and metrics.

It is a measurement, not a proposal: a fused stage would retrain the model whenever an
evaluate param (say `evaluate.threshold`) changes, which is what separate stages avoid.

    python benchmarks/bench_rerun_whatif.py --runs 7 --work /tmp/mlgate-whatif

Rounds interleave the copies (alternating which goes first), each round timing a forced
full run (`dvc repro -f`) then a train-param rerun, as bench_pipeline.py does.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

import yaml
from bench_pipeline import dvc, environment, run, scratch_copy, set_param

SEPARATE, FUSED = "separate", "fused"
THIS = Path(__file__).name


def fuse(root: Path) -> None:
    """Rewrite root/dvc.yaml: evaluate's command, deps, params and outs move into train."""
    shutil.copy2(__file__, root / "benchmarks" / THIS)  # the command below runs it
    path = root / "dvc.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    stages = config["stages"]
    train, evaluate = stages["train"], stages.pop("evaluate")
    train_args = train["cmd"].split("python -m stages.train", 1)[1]
    evaluate_args = evaluate["cmd"].split("python -m stages.evaluate", 1)[1]
    train["cmd"] = f"python benchmarks/{THIS} fused-stage{train_args} --{evaluate_args}"
    model_path = "${paths.model}"  # train's output: not a dependency of the fused stage
    deps = [dep for dep in evaluate["deps"] if dep != model_path]
    train["deps"] = list(dict.fromkeys([*train["deps"], *deps]))
    train["params"] = list(dict.fromkeys([*train["params"], *evaluate["params"]]))
    train["outs"] = [*train["outs"], *evaluate["outs"]]
    path.write_text(yaml.safe_dump(config, sort_keys=False, width=10_000), encoding="utf-8")


def fused_stage(argv: list[str]) -> None:
    """The fused stage's command: stages.train's main(), then stages.evaluate's."""
    sys.path.insert(0, os.getcwd())
    from stages import evaluate, train
    from stages.common import run_stage

    cut = argv.index("--")

    def both(_: Any) -> None:
        train.main(argv[:cut])
        evaluate.main(argv[cut + 1 :])

    run_stage("train+evaluate", both)


def outputs(root: Path) -> tuple[str, str]:
    """(md5 of the model dvc.yaml declares as an artifact, metrics.json's text) of a copy."""
    config = yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8"))
    model = next(iter(config["artifacts"].values()))["path"]
    lock = yaml.safe_load((root / "dvc.lock").read_text(encoding="utf-8"))
    md5 = next(
        out["md5"]
        for stage in lock["stages"].values()
        for out in stage.get("outs", [])
        if out["path"] == model
    )
    return md5, (root / "metrics" / "metrics.json").read_text(encoding="utf-8")


def main(argv: list[str]) -> int:
    if argv[:1] == ["fused-stage"]:
        fused_stage(argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds (median)")
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    env = environment(args.work / "home")
    roots = {name: scratch_copy(args.work / name, env) for name in (SEPARATE, FUSED)}
    fuse(roots[FUSED])
    for root in roots.values():
        run(dvc("repro"), root, env)  # warm-up: caches, page cache, compiled bytecode
    if outputs(roots[SEPARATE]) != outputs(roots[FUSED]):
        raise SystemExit("the fused copy's model md5 or metrics differ: not the same work")
    times: dict[str, list[float]] = {
        f"{name} {kind}": [] for name in roots for kind in ("full", "train_param")
    }
    for index in range(args.runs):
        order = list(roots) if index % 2 == 0 else list(reversed(roots))
        for name in order:
            root = roots[name]
            times[f"{name} full"].append(run(dvc("repro", "-f"), root, env)[0])
            set_param(root, "train", "learning_rate", f"{0.1 + 0.001 * (index + 1):.3f}")
            times[f"{name} train_param"].append(run(dvc("repro"), root, env)[0])
            set_param(root, "train", "learning_rate", "0.1")
        print(f"round {index + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in times.items()))
    print("| pipeline | full median (s) | train-param rerun median (s) | ratio | per round |")
    print("|---|---:|---:|---:|---|")
    for name in roots:
        full, rerun = times[f"{name} full"], times[f"{name} train_param"]
        rounds = ", ".join(f"{r / f:.2f}" for r, f in zip(rerun, full, strict=True))
        ratio = statistics.median(rerun) / statistics.median(full)
        print(
            f"| {name} | {statistics.median(full):.2f} | {statistics.median(rerun):.2f} "
            f"| {ratio:.2f} | {rounds} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
