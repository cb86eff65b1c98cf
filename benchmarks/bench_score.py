"""Scoring a batch (stages/score.py) against bare `model.predict_proba`, and its peak memory.

Batches are the published test split resampled with replacement (data/interim/test.parquet,
labels dropped, an `id` column added), written as parquet in row groups of
`monitoring.chunk_rows`. Needs the pipeline's outputs (`dvc repro`): the model is
models/model.skops. Run from the repository root:

    python -m benchmarks.bench_score --rows 1000000 --runs 5     # (a) throughput
    python -m benchmarks.bench_score --rss-rows 10000000 --rss-runs 5  # (b) peak RSS

(a) times, alternately in one process, `predict_proba` on the batch's rows already in
memory with the model's dtypes in one call (bare), the same in `chunk_rows` calls
(chunked: the model calls scoring made before `monitoring.model_rows`) and `score_file`
on the file (read, normalise, check against the contract, score, write the log, inputs
and quarantine):
median of `--runs` each after one warm-up, and the ratios of score to both. (b) runs the
scorer on the file in a child process (`--child`) and reads the child's peak RSS from
`getrusage(RUSAGE_CHILDREN)`.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "data" / "interim" / "test.parquet"
MODEL = ROOT / "models" / "model.skops"
WORK = ROOT / "benchmarks" / ".work" / "score"


def make_batch(rows: int, path: Path, row_group: int, seed: int = 0) -> Path:
    """`rows` rows resampled from the test split into `path`, written piece by piece."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    base = pa.Table.from_pandas(
        __import__("pandas").read_parquet(SOURCE).drop(columns=["income"]), preserve_index=False
    ).replace_schema_metadata(None)
    generator = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([("id", pa.int64()), *base.schema])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, row_group):
            size = min(row_group, rows - start)
            piece = base.take(generator.integers(0, base.num_rows, size))
            ids = pa.array(np.arange(start, start + size, dtype=np.int64))
            writer.write_table(piece.add_column(0, "id", ids).cast(schema))
    return path


def _scoring(model: Any) -> Any:
    import pandas as pd

    from stages.params import EvaluateParams, SchemaParams, ValidateParams, load
    from stages.score import Scoring

    limits = load(ValidateParams).model_copy(update={"max_duplicate_share": 1.0})
    threshold = load(EvaluateParams).threshold
    now = pd.Timestamp.now(tz="UTC")
    return Scoring(model, load(SchemaParams), limits, threshold, "v0.0.0", "bench", now)


def score_once(batch: Path, model: Any, chunk_rows: int | None = None) -> float:
    """Seconds `score_file` takes on `batch`, into a scratch folder."""
    from stages.params import IngestParams, MonitoringParams, load
    from stages.score import score_file

    settings = load(MonitoringParams)
    if chunk_rows is not None:
        settings = settings.model_copy(update={"chunk_rows": chunk_rows})
    with tempfile.TemporaryDirectory(dir=WORK) as folder:
        start = time.perf_counter()
        score_file(str(batch), load(IngestParams), settings, _scoring(model), Path(folder))
        return time.perf_counter() - start


def throughput(batch: Path, runs: int, chunk_rows: int) -> dict[str, Any]:
    import pandas as pd

    from stages.modelio import load_model
    from stages.score import scores_of

    model = load_model(MODEL)
    frame = pd.read_parquet(batch)
    for column in frame.columns:  # the dtypes validate hands the model
        if pd.api.types.is_integer_dtype(frame[column]) and column != "id":
            frame[column] = frame[column].astype("float64")
    pieces = [frame.iloc[start : start + chunk_rows] for start in range(0, len(frame), chunk_rows)]
    times: dict[str, list[float]] = {"bare": [], "chunked": [], "score": []}
    for round_number in range(runs + 1):  # round 0 warms up
        start = time.perf_counter()
        scores_of(model, frame)
        bare_seconds = time.perf_counter() - start
        start = time.perf_counter()
        for piece in pieces:
            scores_of(model, piece)
        chunked_seconds = time.perf_counter() - start
        score_seconds = score_once(batch, model)
        if round_number:
            times["bare"].append(bare_seconds)
            times["chunked"].append(chunked_seconds)
            times["score"].append(score_seconds)
    result: dict[str, Any] = {"rows": len(frame)}
    for side, seconds in times.items():
        result[f"{side}_s"] = statistics.median(seconds)
        result[f"{side}_all"] = seconds
    result["ratio"] = result["bare_s"] / result["score_s"]  # throughput of score / bare
    # against the chunk-sized predict_proba calls scoring made before monitoring.model_rows
    result["ratio_chunked"] = result["chunked_s"] / result["score_s"]
    return result


def _child(batch: Path) -> None:
    """Score `batch` in this process, then print the peak RSS (MiB) of this process."""
    from stages.modelio import load_model

    seconds = score_once(batch, load_model(MODEL))
    print(f"scored in {seconds:.1f} s", file=sys.stderr)
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(maxrss / 1024 if platform.system() != "Darwin" else maxrss / 2**20)


def _measured_child(batch: Path) -> float:
    """Peak RSS (MiB) of one child process, read from RUSAGE_CHILDREN in a fresh parent."""
    code = (
        "import resource, subprocess, sys;"
        f"subprocess.run([sys.executable, '-m', 'benchmarks.bench_score', '--child', "
        f"{str(batch)!r}], check=True, stdout=subprocess.DEVNULL);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"child failed: {done.stderr[-800:]}")
    return float(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for (a)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of (a), each")
    parser.add_argument("--rss-rows", type=int, default=0, help="rows for (b); 0: skip")
    parser.add_argument("--rss-runs", type=int, default=5, help="child runs of (b)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        _child(args.child)
        return
    from stages.params import MonitoringParams, load

    chunk_rows = load(MonitoringParams).chunk_rows
    WORK.mkdir(parents=True, exist_ok=True)
    if args.rows:
        batch = make_batch(args.rows, WORK / f"batch-{args.rows}.parquet", chunk_rows)
        result = throughput(batch, args.runs, chunk_rows)
        print(
            f"(a) {result['rows']:,} rows, chunk_rows {chunk_rows:,}: bare predict_proba "
            f"{result['bare_s']:.2f} s, in chunks {result['chunked_s']:.2f} s, score "
            f"{result['score_s']:.2f} s (medians of {args.runs}); score throughput = "
            f"{result['ratio']:.2f} x bare, {result['ratio_chunked']:.2f} x bare in chunks"
        )
        for side in ("bare", "chunked", "score"):
            print(f"    {side:<7} {[round(s, 2) for s in result[side + '_all']]}")
    if args.rss_rows:
        batch = make_batch(args.rss_rows, WORK / f"batch-{args.rss_rows}.parquet", chunk_rows)
        peaks = [_measured_child(batch) for _ in range(args.rss_runs)]
        print(
            f"(b) {args.rss_rows:,} rows: peak RSS median {statistics.median(peaks):.0f} MiB "
            f"(runs: {[round(p) for p in peaks]})"
        )


if __name__ == "__main__":
    main()
