"""How close CBPE's estimate (stages/monitor.py) comes to the realized metrics on shifted
batches of the published Adult test split (issue 18, "Estimation is accurate").

A small gradient-boosting model is trained on adult.data. The test split (adult.test) is cut
in two halves at random: the reference half (the release's reference split: calibration and
reference scores) and the pool the batches are drawn from. Each covariate-shift batch
resamples the pool with replacement, weighting rows by age, sex and hours per week; the
concept-change batches keep the inputs and flip the labels of a subgroup, which no input
statistic can reveal. For every batch: estimated and realized ROC AUC and accuracy.

    python -m benchmarks.monitor_estimation [--data data/raw] [--rows 5000]

prints a Markdown table (benchmarks/results/monitoring.md); tests/stages/test_monitor.py
runs the same batches and fails when a covariate-shift batch's error exceeds 0.02.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.monitor import CBPE

DATA = Path(__file__).resolve().parents[1] / "data" / "raw"  # the Adult files, in git
COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
    "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
    "hours-per-week", "native-country", "income",
]  # fmt: skip
TARGET, POSITIVE = "income", ">50K"
SEED = 20261202


def read_adult(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(
        path, names=COLUMNS, na_values="?", skipinitialspace=True, comment="|", header=None
    )
    frame[TARGET] = frame[TARGET].str.rstrip(".")
    for column in frame.columns:
        if frame[column].dtype == object or str(frame[column].dtype).startswith("str"):
            frame[column] = frame[column].astype("category")
    return frame


def train(frame: pd.DataFrame) -> object:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(
        categorical_features="from_dtype", max_iter=50, random_state=SEED
    )
    return model.fit(frame.drop(columns=[TARGET]), (frame[TARGET] == POSITIVE).to_numpy())


Shift = Callable[[pd.DataFrame], np.ndarray]  # row weights of the pool

SHIFTS: dict[str, Shift] = {
    "none": lambda f: np.ones(len(f)),
    "older (age > 45 x4)": lambda f: np.where(f["age"] > 45, 4.0, 1.0),
    "younger (age < 30 x4)": lambda f: np.where(f["age"] < 30, 4.0, 1.0),
    "female x3": lambda f: np.where(f["sex"] == "Female", 3.0, 1.0),
    "long hours (> 45 h x4)": lambda f: np.where(f["hours-per-week"] > 45, 4.0, 1.0),
    "part time (< 35 h x4)": lambda f: np.where(f["hours-per-week"] < 35, 4.0, 1.0),
    "young women, long hours": lambda f: (
        np.where(f["age"] < 35, 2.0, 1.0)
        * np.where(f["sex"] == "Female", 2.0, 1.0)
        * np.where(f["hours-per-week"] > 40, 2.0, 1.0)
    ),
}
# concept changes: the inputs as drawn, the labels of a subgroup flipped
CONCEPTS: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {
    "labels flipped: married": lambda f: (
        f["marital-status"].astype(str).str.startswith("Married").to_numpy()
    ),
    "labels flipped: age > 50": lambda f: (f["age"] > 50).to_numpy(),
}


@dataclass(frozen=True)
class BatchResult:
    name: str
    kind: str  # covariate | concept
    rows: int
    estimated_roc_auc: float
    realized_roc_auc: float
    estimated_accuracy: float
    realized_accuracy: float
    other_roc_auc: float = float("nan")  # another estimator's (--nannyml), for comparison
    other_accuracy: float = float("nan")

    @property
    def auc_error(self) -> float:
        return abs(self.estimated_roc_auc - self.realized_roc_auc)

    @property
    def accuracy_error(self) -> float:
        return abs(self.estimated_accuracy - self.realized_accuracy)


# another estimator: (reference labels, reference scores) -> (scores, predicted) -> (auc, acc)
Estimator = Callable[
    [np.ndarray, np.ndarray], Callable[[np.ndarray, np.ndarray], tuple[float, float]]
]


def run_batches(
    data: Path = DATA, rows: int = 5000, other: Estimator | None = None
) -> list[BatchResult]:
    from sklearn.metrics import accuracy_score, roc_auc_score

    rng = np.random.default_rng(SEED)
    model = train(read_adult(data / "adult.data.gz"))
    test = read_adult(data / "adult.test.gz")
    half = rng.permutation(len(test)) < len(test) // 2
    reference, pool = test[half].reset_index(drop=True), test[~half].reset_index(drop=True)

    def scores(frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(model.predict_proba(frame.drop(columns=[TARGET])))[:, 1]  # type: ignore[attr-defined]

    reference_y, reference_scores = (
        (reference[TARGET] == POSITIVE).to_numpy(np.int8),
        scores(reference),
    )
    cbpe = CBPE(reference_y, reference_scores, 10)
    second = other(reference_y, reference_scores) if other else None
    pool_scores = scores(pool)
    pool_y = (pool[TARGET] == POSITIVE).to_numpy(np.int8)
    results = []
    batches: list[tuple[str, str, np.ndarray, np.ndarray | None]] = []
    for name, weights_of in SHIFTS.items():
        weights = weights_of(pool)
        drawn = rng.choice(len(pool), size=rows, replace=True, p=weights / weights.sum())
        batches.append((name, "covariate", drawn, None))
    for name, subgroup in CONCEPTS.items():
        drawn = rng.choice(len(pool), size=rows, replace=True)
        batches.append((name, "concept", drawn, subgroup(pool)[drawn]))
    for name, kind, drawn, flipped in batches:
        batch_scores = pool_scores[drawn]
        predicted = (batch_scores >= 0.5).astype(np.int8)
        y = (
            pool_y[drawn]
            if flipped is None
            else np.where(flipped, 1 - pool_y[drawn], pool_y[drawn])
        )
        estimate = cbpe.estimate(batch_scores, predicted)
        extra = second(batch_scores, predicted) if second else (float("nan"), float("nan"))
        results.append(
            BatchResult(
                name,
                kind,
                rows,
                float(estimate["roc_auc"]),
                float(roc_auc_score(y, batch_scores)),
                float(estimate["accuracy"]),
                float(accuracy_score(y, predicted)),
                *extra,
            )
        )
    return results


def table(results: list[BatchResult], other: str = "") -> str:
    head = "| batch | kind | rows | est. ROC AUC | real. ROC AUC | abs. error | est. accuracy "
    head += "| real. accuracy | abs. error |"
    rule = "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    if other:
        head += f" {other} ROC AUC | {other} accuracy |"
        rule += "---:|---:|"
    lines = [head, rule]
    for r in results:
        line = (
            f"| {r.name} | {r.kind} | {r.rows} | {r.estimated_roc_auc:.4f} "
            f"| {r.realized_roc_auc:.4f} | {r.auc_error:.4f} | {r.estimated_accuracy:.4f} "
            f"| {r.realized_accuracy:.4f} | {r.accuracy_error:.4f} |"
        )
        if other:
            line += f" {r.other_roc_auc:.4f} | {r.other_accuracy:.4f} |"
        lines.append(line)
    return "\n".join(lines)


def nannyml_estimator(reference_y: np.ndarray, reference_scores: np.ndarray) -> Any:
    """NannyML's own CBPE (needs nannyml in the running venv), fitted on the same reference."""
    import nannyml

    def frame(scores: np.ndarray, predicted: np.ndarray, y: np.ndarray | None) -> pd.DataFrame:
        columns = {"score": scores, "predicted": predicted}
        return pd.DataFrame(columns if y is None else {**columns, "y": y})

    estimator = nannyml.CBPE(
        problem_type="classification_binary",
        y_pred_proba="score",
        y_pred="predicted",
        y_true="y",
        metrics=["roc_auc", "accuracy"],
        chunk_number=1,
    )
    estimator.fit(frame(reference_scores, (reference_scores >= 0.5).astype(int), reference_y))

    def estimate(scores: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
        result = estimator.estimate(frame(scores, predicted, None)).to_df()
        return (
            float(result[("roc_auc", "value")].iloc[-1]),
            float(result[("accuracy", "value")].iloc[-1]),
        )

    return estimate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--nannyml", action="store_true", help="also NannyML's CBPE")
    args = parser.parse_args()
    other = nannyml_estimator if args.nannyml else None
    print(table(run_batches(args.data, args.rows, other), "NannyML" if other else ""))


if __name__ == "__main__":
    main()
