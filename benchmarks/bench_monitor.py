"""One monitoring run on a 50,000-row batch (issue 18, "Performance"): the time of
`python -m stages.monitor run` end to end, as `make monitor` starts it (the DVC bookkeeping of
run_frozen aside), median of --runs.

It builds, in a scratch directory, what `make score` leaves for a batch: a model trained on
adult.data (the project's own stage code is not needed for that; a HistGradientBoosting
model saved with skops as train does), the reference split (half of adult.test), a batch of
--rows rows drawn with a covariate shift from the other half with its prediction log and
validated inputs, the batch summary and half the labels. `stages.released` is replaced by a
stand-in that returns those files (the scoring side's cache is what a real run reads).

    python -m benchmarks.bench_monitor [--rows 50000] [--runs 5] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.monitor_estimation import DATA, POSITIVE, SEED, TARGET, read_adult, train

STAND_IN = '''"""stages.released for the benchmark: the files bench_monitor.py wrote."""
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Release:
    artifact: str
    version: str
    commit: str
    tag: str


def resolve(stage=None, version=None, root=Path(".")):
    return Release("income-model", version or "v1.0.0", "0" * 40, "income-model@v1.0.0")


def fetch_model(release, root=Path(".")):
    return Path("model.skops")


def fetch_reference(release, root=Path(".")):
    return Path("reference.parquet")
'''


def snake(frame: pd.DataFrame) -> pd.DataFrame:
    """Column names as validate writes them (education-num -> education_num)."""
    return frame.rename(columns=lambda name: name.replace("-", "_"))


def build(workdir: Path, rows: int, project: Path, train_rows: int | None = None) -> None:
    """The batch's files in ``workdir``; ``train_rows``: train on that many rows (tests)."""
    from stages.modelio import save_model

    rng = np.random.default_rng(SEED)
    train_frame = snake(read_adult(DATA / "adult.data.gz"))
    if train_rows is not None:
        train_frame = train_frame.sample(train_rows, random_state=SEED)
    test = snake(read_adult(DATA / "adult.test.gz"))
    half = rng.permutation(len(test)) < len(test) // 2
    reference, pool = test[half].reset_index(drop=True), test[~half].reset_index(drop=True)
    model = train(train_frame)
    save_model(model, workdir / "model.skops")
    reference.to_parquet(workdir / "reference.parquet")
    weights = np.where(pool["age"] > 45, 3.0, 1.0)
    batch = pool.iloc[rng.choice(len(pool), rows, p=weights / weights.sum())]
    batch = batch.reset_index(drop=True)
    scores = np.asarray(model.predict_proba(batch.drop(columns=[TARGET])))[:, 1]  # type: ignore[attr-defined]
    ids = pd.array([f"r{i}" for i in range(rows)], dtype="string")
    for folder in ("predictions", "inputs", "labels", "batches"):
        (workdir / folder).mkdir(exist_ok=True)
    pd.DataFrame(
        {
            "id": ids,
            "score": scores,
            "prediction": np.where(scores >= 0.5, POSITIVE, "<=50K"),
            "model_version": "v1.0.0",
            "batch": "bench",
            "scored_at": pd.Timestamp("2026-12-01", tz="UTC"),
        }
    ).to_parquet(workdir / "predictions" / "bench.parquet")
    batch.drop(columns=[TARGET]).assign(id=ids).to_parquet(workdir / "inputs" / "bench.parquet")
    labelled = batch[[TARGET]].assign(id=ids).iloc[: rows // 2]
    labelled.astype("string")[["id", TARGET]].to_parquet(workdir / "labels" / "bench.parquet")
    summary = {
        "batch": "bench",
        "source": "bench.parquet",
        "model_version": "v1.0.0",
        "model_commit": "0" * 40,
        "artifact": "income-model",
        "rows": rows,
        "scored": rows,
        "quarantined": 0,
        "quarantine_share": 0.0,
        "violations": {},
        "scored_at": "2026-12-01T00:00:00Z",
    }
    (workdir / "batches" / "bench.json").write_text(json.dumps(summary), encoding="utf-8")
    shutil.copy(project / "params.yaml", workdir / "params.yaml")
    stand_in = workdir / "standin" / "stages"
    stand_in.mkdir(parents=True, exist_ok=True)
    (stand_in / "released.py").write_text(STAND_IN, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/.work/monitor"))
    args = parser.parse_args()
    project = Path.cwd()
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    build(workdir, args.rows, project)
    # the stand-in module is found through a copy of the stages package that has it
    stages_copy = workdir / "standin" / "stages"
    for module in (project / "stages").glob("*.py"):
        shutil.copy(module, stages_copy / module.name)
    env = {"PYTHONPATH": f"{workdir / 'standin'}:{project / 'src'}:{project}", "PATH": "/usr/bin"}
    command = [sys.executable, "-m", "stages.monitor", "run", "--batch", "bench"]
    command += ["--batches", "batches", "--predictions", "predictions", "--inputs", "inputs"]
    command += ["--labels-dir", "labels", "--metrics", "metrics.json", "--history", "history.json"]
    command += ["--cache", "cache"]
    times = []
    for run in range(args.runs + 1):  # the first run warms the caches and is not counted
        start = time.perf_counter()
        subprocess.run(command, cwd=workdir, env=env, check=True, capture_output=True)
        if run:
            times.append(time.perf_counter() - start)
    metrics = json.loads((workdir / "metrics.json").read_text(encoding="utf-8"))
    print(
        f"rows {args.rows}: median {statistics.median(times):.2f} s of {args.runs} "
        f"(min {min(times):.2f}, max {max(times):.2f})"
    )
    print(
        "estimated roc_auc {:.4f} accuracy {:.4f}; realized roc_auc {:.4f} accuracy {:.4f} "
        "(labelled share {:.2f})".format(
            metrics["estimated"]["roc_auc"],
            metrics["estimated"]["accuracy"],
            metrics["realized"]["roc_auc"],
            metrics["realized"]["accuracy"],
            metrics["realized"]["labelled_share"],
        )
    )


if __name__ == "__main__":
    main()
