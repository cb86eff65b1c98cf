"""evaluate: score the saved model on the validated test split, as a release would run it.

Writes the quality, fairness (fairlearn, per `schema.sensitive` column), permutation
importance (on a seeded subsample, so it stays fast on large data) and model-size metrics,
the timing metrics to their own file (timings never reproduce), and small, deterministic
plot data for `dvc plots`.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from stages.common import (
    PARAMS_FILE,
    Progress,
    StageError,
    removed_on_failure,
    run_stage,
    write_json,
)
from stages.modelio import load_model
from stages.params import EvaluateParams, SchemaParams, load
from stages.splits import read_split, require_columns, require_labels, require_types

SECTION = "evaluate"


def split_target(
    frame: pd.DataFrame, schema: SchemaParams, source: str
) -> tuple[pd.DataFrame, np.ndarray]:
    """(inputs, 0/1 labels) of a split that must carry the target."""
    target = schema.target
    require_columns(frame, [target], source)
    if frame[target].isna().any():
        row = int(np.flatnonzero(frame[target].isna().to_numpy())[0])
        raise StageError(f"{source}: column '{target}' is missing at row {row + 1}")
    require_labels(frame[target], list(schema.labels), source)
    y = (frame[target] == schema.positive_label).to_numpy(dtype=np.int8)
    if len(np.unique(y)) < 2:
        raise StageError(f"{source}: column '{target}' has a single class; cannot evaluate")
    return frame.drop(columns=[target]), y


def quality_metrics(y: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float]:
    """Threshold and ranking metrics of positive-class probabilities `proba`."""
    predicted = (proba >= threshold).astype(np.int8)
    return {
        "accuracy": skm.accuracy_score(y, predicted),
        "precision": skm.precision_score(y, predicted, zero_division=0),
        "recall": skm.recall_score(y, predicted, zero_division=0),
        "f1": skm.f1_score(y, predicted, zero_division=0),
        "roc_auc": skm.roc_auc_score(y, proba),
        "average_precision": skm.average_precision_score(y, proba),
        "log_loss": skm.log_loss(y, np.clip(proba, 1e-15, 1 - 1e-15), labels=[0, 1]),
        "brier": skm.brier_score_loss(y, proba),
    }


def fairness_metrics(
    y: np.ndarray, predicted: np.ndarray, groups: pd.DataFrame
) -> dict[str, dict[str, Any]]:
    """Per sensitive column: parity and equalized-odds gaps, per-group selection rate/recall.

    One fairlearn MetricFrame per column gives all of them: demographic parity difference is
    the between-group gap in selection rate, equalized odds difference the larger of the
    gaps in true and false positive rate (fairlearn's own definitions; the tests check them
    against its functions).

    Every one of these is a ratio of a group's confusion counts, so the frame is given one
    row per (group, label, prediction) weighted by its count instead of every test row: the
    same numbers (the tests check them against unweighted rows), without MetricFrame's
    per-row conversions, which cost about a tenth of a second per thousand rows.
    """
    from fairlearn.metrics import (
        MetricFrame,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )

    def recall(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray) -> float:
        # nan, not 0, for a group without positives: undefined is not "missed them all"
        return float(
            skm.recall_score(y_true, y_pred, sample_weight=sample_weight, zero_division=np.nan)
        )

    functions = {
        "selection_rate": selection_rate,
        "recall": recall,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
    }
    report: dict[str, dict[str, Any]] = {}
    for column in groups.columns:
        sensitive = groups[column].astype("object").fillna("missing").to_numpy()
        counts = (
            pd.DataFrame({"group": sensitive, "y": y, "predicted": predicted})
            .value_counts(sort=False)
            .reset_index()
        )
        weights = counts["count"].to_numpy(dtype=np.float64)
        frame = MetricFrame(
            metrics=functions,
            y_true=counts["y"].to_numpy(),
            y_pred=counts["predicted"].to_numpy(),
            sensitive_features=counts["group"].to_numpy(),
            sample_params={name: {"sample_weight": weights} for name in functions},
        )
        gaps = frame.difference(method="between_groups")
        by_group = frame.by_group
        report[column] = {
            "demographic_parity_difference": float(gaps["selection_rate"]),
            "equalized_odds_difference": float(max(gaps["tpr"], gaps["fpr"])),
            "selection_rate": {str(g): v for g, v in by_group["selection_rate"].items()},
            "recall": {str(g): v for g, v in by_group["recall"].items()},
        }
    return report


# Rows scored per predict call when permuted copies are batched. At the default sample
# (1500 rows x 13 columns x 3 repeats) every copy fits one call; the bound keeps a large
# `evaluate.importance_rows` from building one huge frame (a linear model one-hot encodes it:
# ~110 dense columns, ~180 MB at this size).
IMPORTANCE_BATCH_ROWS = 200_000


def _ranking_scores(model: Any, X: pd.DataFrame) -> np.ndarray:
    """What sklearn's roc_auc scorer ranks by: the decision function, else P(positive).

    A model fitted on an array (train.py's classifiers) is given the frame's values.
    """
    inputs = X if hasattr(model, "feature_names_in_") else X.to_numpy()
    if hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(inputs))
    return np.asarray(model.predict_proba(inputs))[:, 1]


def _feature_names(featurizer: Any) -> list[str] | None:
    """The featurizer's output column names, or None when it cannot say."""
    try:
        return [str(name) for name in featurizer.get_feature_names_out()]
    except (AttributeError, ValueError, TypeError):
        return None


def _permuted_columns(
    X: pd.DataFrame, repeats: int, seed: int
) -> Iterator[tuple[int, int, np.ndarray]]:
    """(column position, repeat, that column shuffled), in the order sklearn shuffles them.

    sklearn.inspection.permutation_importance draws one seed, gives every column a fresh
    RandomState from it and shuffles the column again (cumulatively) at each repeat; doing
    the same gives the same permutations, so the same importances (the tests check it).
    """
    column_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    for position in range(X.shape[1]):
        state = np.random.RandomState(column_seed)
        order = np.arange(len(X))
        values = X.iloc[:, position].to_numpy()
        for repeat in range(repeats):
            state.shuffle(order)
            values = values[order]
            yield position, repeat, values


def permutation_importance(
    model: Any, X: pd.DataFrame, y: np.ndarray, params: EvaluateParams
) -> pd.DataFrame:
    """Mean/std drop in roc_auc when each input column is shuffled, on a seeded subsample.

    The permutations and scores of sklearn.inspection.permutation_importance(scoring=
    "roc_auc") (the tests compare the values), but the permuted copies are stacked and go
    through the model in one call per IMPORTANCE_BATCH_ROWS rows instead of one call per
    column and repeat: a tree ensemble's fixed cost per call (input checks, one pass per
    tree) was most of the time on a small sample.
    """
    rng = np.random.default_rng(params.seed)
    rows = min(params.importance_rows, len(X))
    chosen = np.sort(rng.choice(len(X), size=rows, replace=False))
    sample_X, sample_y = X.iloc[chosen].reset_index(drop=True), y[chosen]
    if len(np.unique(sample_y)) < 2:
        raise StageError(
            f"{PARAMS_FILE}: 'evaluate.importance_rows' ({rows}) draws a single class; raise it"
        )
    # The featurizer maps each input column to one feature column, so shuffling a feature
    # column is shuffling its input column: featurize the sample once, permute after.
    has_featurizer = isinstance(model, Pipeline) and len(model.steps) > 1
    if has_featurizer and _feature_names(model[:-1]) == list(sample_X.columns):
        features = np.asarray(model[:-1].transform(sample_X))
        model, sample_X = model[-1], pd.DataFrame(features, columns=sample_X.columns)
    baseline = skm.roc_auc_score(sample_y, _ranking_scores(model, sample_X))
    repeats = params.importance_repeats
    drops = np.empty((sample_X.shape[1], repeats))
    per_call = max(1, IMPORTANCE_BATCH_ROWS // rows)
    permuted = _permuted_columns(sample_X, repeats, params.seed)
    while batch := list(itertools.islice(permuted, per_call)):
        # copies of the sample stacked, each with its one column replaced
        stacked = sample_X.iloc[np.tile(np.arange(rows), len(batch))].reset_index(drop=True)
        for block, (position, _, values) in enumerate(batch):
            stacked.iloc[block * rows : (block + 1) * rows, position] = values
        scores = _ranking_scores(model, stacked).reshape(len(batch), rows)
        for (position, repeat, _), block_scores in zip(batch, scores, strict=True):
            drops[position, repeat] = baseline - skm.roc_auc_score(sample_y, block_scores)
    table = pd.DataFrame(
        {
            "feature": list(sample_X.columns),
            "importance": drops.mean(axis=1),
            "std": drops.std(axis=1),
        }
    )
    return table.sort_values(["importance", "feature"], ascending=[False, True], kind="stable")


def _downsample(frame: pd.DataFrame, points: int) -> pd.DataFrame:
    """At most `points` rows, evenly spread, always keeping the first and the last."""
    if len(frame) <= points:
        return frame.reset_index(drop=True)
    keep = np.unique(np.linspace(0, len(frame) - 1, points).round().astype(int))
    return frame.iloc[keep].reset_index(drop=True)


def plot_data(
    y: np.ndarray,
    proba: np.ndarray,
    importance: pd.DataFrame,
    params: EvaluateParams,
    labels: Sequence[str],
) -> dict[str, list[dict[str, Any]]]:
    """Rows for each plot, small and deterministic (curves downsampled to `curve_points`)."""
    from sklearn.calibration import calibration_curve

    fpr, tpr, roc_thresholds = skm.roc_curve(y, proba)
    roc = pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": np.minimum(roc_thresholds, 1.0)})
    precision, recall, pr_thresholds = skm.precision_recall_curve(y, proba)
    pr = pd.DataFrame(
        {"recall": recall[:-1], "precision": precision[:-1], "threshold": pr_thresholds}
    ).iloc[::-1]
    fraction, predicted_mean = calibration_curve(y, proba, n_bins=params.calibration_bins)
    calibration = pd.DataFrame({"mean_predicted": predicted_mean, "fraction_positive": fraction})
    predicted = (proba >= params.threshold).astype(np.int8)
    confusion = skm.confusion_matrix(y, predicted, labels=[0, 1])
    return {
        "roc": _downsample(roc, params.curve_points).to_dict("records"),
        "precision_recall": _downsample(pr, params.curve_points).to_dict("records"),
        "calibration": calibration.to_dict("records"),
        "confusion": [
            {"actual": labels[a], "predicted": labels[p], "count": int(confusion[a, p])}
            for a in (0, 1)
            for p in (0, 1)
        ],
        "importance": importance[["feature", "importance"]].to_dict("records"),
    }


def single_worker() -> Any:
    """Timings are taken as a single-worker server would score: one OpenMP thread (a thread
    team per one-row call costs more than it saves and makes the timings erratic), and the
    batch throughput is per core, comparable between machines."""
    return threadpool_limits(1, user_api="openmp")


def timed_proba(model: Any, X: pd.DataFrame) -> tuple[np.ndarray, float]:
    """P(positive) of every row in one call, and the seconds that call took.

    The scoring pass is itself a whole-split batch prediction, so the batch throughput needs
    no second pass over the data. One small call first, so that the timed one is not the
    model's first (lazy imports, first allocations). One OpenMP thread, as every timing
    here (see single_worker).
    """
    with single_worker():
        model.predict_proba(X.iloc[:1])
        start = time.perf_counter()
        proba = np.asarray(model.predict_proba(X))[:, 1]
        return proba, time.perf_counter() - start


def inference_timing(
    model: Any, X: pd.DataFrame, params: EvaluateParams, scored_seconds: float | None = None
) -> dict[str, Any]:
    """Batch throughput (median over `batch_repeats` whole-split predictions, the scoring pass
    counting as the first when its time is given) and single-row latency percentiles."""
    with single_worker():
        return _inference_timing(model, X, params, scored_seconds)


def _inference_timing(
    model: Any, X: pd.DataFrame, params: EvaluateParams, scored_seconds: float | None
) -> dict[str, Any]:
    batch_seconds = [] if scored_seconds is None else [scored_seconds]
    while len(batch_seconds) < params.batch_repeats:
        start = time.perf_counter()
        model.predict_proba(X)
        batch_seconds.append(time.perf_counter() - start)
    single_ms = []
    for row in range(min(params.latency_rows, len(X))):
        one = X.iloc[[row]]
        start = time.perf_counter()
        model.predict_proba(one)
        single_ms.append((time.perf_counter() - start) * 1000)
    return {
        "batch_rows_per_s": len(X) / float(np.median(batch_seconds)),
        "latency": {
            "p50_ms": float(np.percentile(single_ms, 50)),
            "p95_ms": float(np.percentile(single_ms, 95)),
        },
        "rows": {"batch": len(X), "latency": len(single_ms)},
    }


class Evaluation(NamedTuple):
    metrics: dict[str, Any]
    plots: dict[str, list[dict[str, Any]]]
    scored_seconds: float  # the timed whole-split scoring pass (see timed_proba)


def evaluate(
    model: Any,
    test: pd.DataFrame,
    schema: SchemaParams,
    params: EvaluateParams,
    model_size_bytes: int,
    source: str = "test split",
) -> Evaluation:
    """Metrics and plot rows of `model` on `test`.

    Only `scored_seconds` depends on the machine. The stage runs this with one BLAS thread
    (see main): a linear model's products may change in their last bits with the thread
    count, and these metrics are tracked and gated. OpenMP threads are left to the machine
    outside the timings: gradient boosting predicts each row on its own, so the thread
    count changes its speed (permutation importance ran about 1.5x faster on two cores),
    never a number (tests/stages/test_evaluate.py runs it on 1 and 2 threads).
    """
    X, y = split_target(test, schema, source)
    require_columns(X, [*schema.sensitive, *model.feature_names_in_], source)
    used = {*model.feature_names_in_, *schema.sensitive}
    numeric = [column for column in schema.numeric if column in used]
    require_types(X, numeric, [c for c in schema.categorical if c in used], source)
    proba, scored_seconds = timed_proba(model, X[model.feature_names_in_])
    predicted = (proba >= params.threshold).astype(np.int8)
    importance = permutation_importance(model, X[model.feature_names_in_], y, params)
    top = importance.head(params.importance_top)
    metrics: dict[str, Any] = {
        **quality_metrics(y, proba, params.threshold),
        "model_size_bytes": model_size_bytes,
        "fairness": fairness_metrics(y, predicted, X[list(schema.sensitive)]),
        "importance": dict(zip(top["feature"], top["importance"], strict=True)),
    }
    plots = plot_data(y, proba, importance, params, [schema.negative_label, schema.positive_label])
    return Evaluation(metrics, plots, scored_seconds)


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m stages.evaluate")
    parser.add_argument("--model", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--inference", required=True)
    parser.add_argument("--plots", required=True, help="directory for the plot data files")
    args = parser.parse_args(argv)
    # One BLAS thread for the whole evaluation: tracked metrics must not depend on the
    # machine's core count (see evaluate; timings also limit OpenMP, see single_worker).
    with threadpool_limits(1, user_api="blas"):
        _evaluate_files(args)


def _evaluate_files(args: argparse.Namespace) -> None:
    outputs = [args.metrics, args.inference, args.plots]
    progress = Progress(SECTION)
    with removed_on_failure(outputs):
        schema, params = load(SchemaParams), load(EvaluateParams)
        model = load_model(args.model)
        test = read_split(args.test)
        progress(f"scoring {len(test)} test rows, permutation importance on a subsample")
        result = evaluate(model, test, schema, params, Path(args.model).stat().st_size, args.test)
        write_json(args.metrics, result.metrics)
        for name, rows in result.plots.items():
            write_json(Path(args.plots) / f"{name}.json", {name: rows})
        progress("timing inference")
        X = test.drop(columns=[schema.target])[model.feature_names_in_]
        write_json(args.inference, inference_timing(model, X, params, result.scored_seconds))
    progress(f"roc_auc {result.metrics['roc_auc']:.4f}, accuracy {result.metrics['accuracy']:.4f}")


if __name__ == "__main__":
    run_stage(SECTION, main)
