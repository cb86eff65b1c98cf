"""What the model card costs: the model_card stage as `dvc repro` runs it, and the card's
rendering alone, on the repository's own outputs (run `dvc repro` first).

    python -m benchmarks.bench_model_card [--runs 5]

Prints the median wall time of `--runs` stage processes (python start-up, params, md5 of the
model and both validated splits, writing the card) and of rendering the card in process.
The card goes to a temporary file; the repository's is left alone.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INPUTS = {
    "--model": "models/model.skops",
    "--train": "data/validated/train.parquet",
    "--test": "data/validated/test.parquet",
    "--metrics": "metrics/metrics.json",
    "--validation": "reports/validation.json",
    "--drift": "metrics/drift.json",
}


def stage_seconds(card: Path) -> float:
    args = [arg for pair in INPUTS.items() for arg in pair]
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "stages.model_card", *args, "--card", str(card)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def render_seconds(repeats: int = 100) -> float:
    """Seconds per render_card call, everything read once beforehand."""
    from stages.model_card import CardFacts, DataFile, read_report, render_card
    from stages.params import ModelCardParams, load_optional

    facts = CardFacts(
        load_optional(ModelCardParams, ROOT / "params.yaml"),
        INPUTS["--model"],
        "0" * 32,
        "hist_gradient_boosting",
        "income",
        ("<=50K", ">50K"),
        ">50K",
        0.5,
        DataFile("train", INPUTS["--train"], "1" * 32),
        DataFile("test", INPUTS["--test"], "2" * 32),
        read_report(ROOT / INPUTS["--metrics"]),
        read_report(ROOT / INPUTS["--validation"]),
        read_report(ROOT / INPUTS["--drift"]),
    )
    start = time.perf_counter()
    for _ in range(repeats):
        render_card(facts)
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as scratch:
        card = Path(scratch) / "model_card.md"
        stage = [stage_seconds(card) for _ in range(runs)]
    render = [render_seconds() for _ in range(runs)]
    print(
        f"model_card stage: median {statistics.median(stage):.3f} s of {runs} runs "
        f"(min {min(stage):.3f}, max {max(stage):.3f})"
    )
    print(f"render_card: median {statistics.median(render) * 1000:.3f} ms of {runs} runs")


if __name__ == "__main__":
    main()
