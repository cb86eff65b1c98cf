"""monitor: judge a scored batch without re-scoring it (issue 18, docs/monitoring.md).

Reads what `make score` wrote for the batch (its summary in `monitoring/batches/`, the
prediction log, the validated inputs) and the release that scored it (the model and its
reference split, through `stages.released`), and writes the batch's metrics:

- `quality`: quarantined share and per-column violations, as scoring counted them;
- `drift`: per-column tests of the inputs against the release's reference split, by
  `stages.drift.drift_report` (the same tests and thresholds as the drift stage);
- `prediction_drift`: PSI of the batch's scores against the release's scores on its
  reference split, over bins at the reference's score quantiles;
- `estimated`: NannyML's confidence-based performance estimation (CBPE): the scores are
  calibrated on the reference split (isotonic regression, when it lowers the calibration
  error as NannyML decides it), then the expected confusion matrix gives accuracy and the
  expected true and false positives over the score ranking give ROC AUC;
- `realized`: accuracy and ROC AUC on the rows whose labels arrived
  (`monitoring/labels/<batch>.parquet`), the share of rows labelled and the labels for ids
  the log does not have (counted, never dropped silently).

Two commands: `prepare` (before `dvc`: check the batch id, merge a labels file into the
batch's labels, record the batch id for the stage) and `run` (the stage's command).
"""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.common import (
    Progress,
    StageError,
    read_yaml,
    removed_on_failure,
    rounded,
    run_stage,
    write_json,
    writing,
)
from stages.drift import psi
from stages.params import DriftParams, MonitorParams, SchemaParams, load

SECTION = "monitor"
ID = "id"  # the prediction log's and the labels' key column (the interface of issue 18)
MAX_LABEL_ROWS = 50_000_000  # a labels file is untrusted input: bounded
BATCH_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


# --- prediction drift ------------------------------------------------------------------------


def score_psi(reference: np.ndarray, current: np.ndarray, bins: int) -> float:
    """PSI of two score samples over bins at the reference's quantiles (as drift's numeric
    PSI bins a column)."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    counts = [
        np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
        for values in (reference, current)
    ]
    return psi(counts[0], counts[1])


# --- CBPE (NannyML's confidence-based performance estimation) ---------------------------------


def calibration_error(y: np.ndarray, proba: np.ndarray, bins: int) -> float:
    """Expected calibration error over equal-frequency bins of ``proba`` (NannyML's measure
    when it decides whether to calibrate)."""
    order = np.argsort(proba, kind="stable")
    error = 0.0
    for part in np.array_split(order, bins):
        if len(part):
            error += len(part) * abs(float(y[part].mean()) - float(proba[part].mean()))
    return error / len(y)


def fit_calibrator(scores: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.isotonic import IsotonicRegression

    return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores, y)


def needs_calibration(
    y: np.ndarray, scores: np.ndarray, bins: int, splits: int = 10, seed: int = 42
) -> bool:
    """NannyML's test: calibrate when isotonic calibration, fitted and applied across
    shuffled splits of the reference (10 splits, a tenth held out each), lowers the
    expected calibration error of the held-out scores."""
    if len(np.unique(y)) < 2 or len(np.unique(scores)) < 2:
        return False
    from sklearn.model_selection import ShuffleSplit

    held_y, held_raw, held_calibrated = [], [], []
    for train, test in ShuffleSplit(splits, test_size=0.1, random_state=seed).split(scores):
        calibrator = fit_calibrator(scores[train], y[train])
        held_y.append(y[test])
        held_raw.append(scores[test])
        held_calibrated.append(calibrator.predict(scores[test]))
    ys = np.concatenate(held_y)
    before = calibration_error(ys, np.concatenate(held_raw), bins)
    after = calibration_error(ys, np.concatenate(held_calibrated), bins)
    return after < before


def estimated_accuracy(calibrated: np.ndarray, predicted: np.ndarray) -> float:
    """Expected accuracy: a positive prediction is right with probability p, a negative one
    with 1 - p (the expected confusion matrix's diagonal over all rows)."""
    right = np.where(predicted == 1, calibrated, 1.0 - calibrated)
    return float(right.mean())


def estimated_roc_auc(calibrated: np.ndarray, scores: np.ndarray) -> float | None:
    """Expected ROC AUC: rows ranked by the model's own scores, each counting p of a true
    and 1 - p of a false positive (NannyML's estimate_roc_auc; rows with equal scores are
    one threshold here, as in sklearn's roc_curve). None when no positive or no negative
    is expected."""
    order = np.argsort(-scores, kind="stable")
    ranked, proba = scores[order], calibrated[order]
    last_of_ties = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]
    true_pos = np.r_[0.0, np.cumsum(proba)[last_of_ties]]
    false_pos = np.r_[0.0, np.cumsum(1.0 - proba)[last_of_ties]]
    if true_pos[-1] <= 0 or false_pos[-1] <= 0:
        return None
    tpr, fpr = true_pos / true_pos[-1], false_pos / false_pos[-1]
    return float(np.trapezoid(tpr, fpr))


class CBPE:
    """CBPE fitted on a reference split: its labels (0/1) and the model's scores."""

    def __init__(self, y: np.ndarray, scores: np.ndarray, bins: int) -> None:
        self.calibrator = fit_calibrator(scores, y) if needs_calibration(y, scores, bins) else None

    def calibrated(self, scores: np.ndarray) -> np.ndarray:
        if self.calibrator is None:
            return scores
        return np.asarray(self.calibrator.predict(scores), dtype=float)

    def estimate(self, scores: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
        calibrated = self.calibrated(scores)
        return {
            "roc_auc": estimated_roc_auc(calibrated, scores),
            "accuracy": estimated_accuracy(calibrated, predicted),
            "calibrated": self.calibrator is not None,
        }


# --- labels --------------------------------------------------------------------------------


def read_labels(path: str | Path, target: str) -> pd.DataFrame:
    """A labels file (CSV, optionally gzipped, or parquet) as (id, target) rows, or a
    StageError naming the file and what is wrong with it."""
    import pyarrow

    source = str(path)
    try:
        if source.endswith(".parquet"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype=str, nrows=MAX_LABEL_ROWS + 1)
    except FileNotFoundError as exc:
        raise StageError(f"{source}: labels file not found") from exc
    except (OSError, ValueError, pyarrow.ArrowException) as exc:
        raise StageError(f"{source}: not a readable CSV or parquet file ({exc})") from exc
    missing = [column for column in (ID, target) if column not in frame.columns]
    if missing:
        raise StageError(
            f"{source}: missing column(s) {', '.join(missing)} (a labels file has '{ID}' and "
            f"the target column '{target}')"
        )
    if len(frame) > MAX_LABEL_ROWS:
        raise StageError(f"{source}: more than {MAX_LABEL_ROWS} rows")
    labels = frame[[ID, target]].astype({ID: "string", target: "string"})
    blank = labels[ID].isna() | labels[target].isna()
    if blank.any():
        row = int(np.flatnonzero(blank.to_numpy())[0])
        raise StageError(f"{source}: row {row + 1} has no '{ID}' or no '{target}'")
    return labels


def check_label_values(labels: pd.DataFrame, target: str, allowed: Sequence[str], source: str):
    unknown = sorted(set(labels[target].str.strip()) - set(allowed))
    if unknown:
        raise StageError(
            f"{source}: column '{target}' has value(s) {', '.join(map(repr, unknown[:5]))} "
            f"outside the schema's labels {list(allowed)}"
        )


def merge_labels(earlier: pd.DataFrame | None, later: pd.DataFrame) -> pd.DataFrame:
    """Labels accumulated so far with a later file's: for an id labelled again, the later
    label replaces the earlier one (a correction); within one file, its last row wins."""
    frames = [later] if earlier is None else [earlier, later]
    merged = pd.concat(frames, ignore_index=True)
    return merged.drop_duplicates(subset=[ID], keep="last").reset_index(drop=True)


# --- realized performance ----------------------------------------------------------------------


def realized(
    log: pd.DataFrame, labels: pd.DataFrame | None, target: str, positive: str
) -> dict[str, Any]:
    """Accuracy and ROC AUC on the logged rows that have a label; null without labels (or
    ROC AUC null while the labelled rows hold one class)."""
    from sklearn.metrics import accuracy_score, roc_auc_score

    empty: dict[str, Any] = {
        "roc_auc": None,
        "accuracy": None,
        "labelled_share": 0.0,
        "labelled_rows": 0,
        "unknown_ids": 0,
    }
    if labels is None or labels.empty:
        return empty
    ids = log[ID].astype("string")
    known = labels[ID].isin(ids)
    joined = log.assign(**{ID: ids}).merge(labels[known], on=ID, how="inner")
    result = {
        **empty,
        "labelled_rows": len(joined),
        "labelled_share": len(joined) / len(log),
        "unknown_ids": int((~known).sum()),
    }
    if joined.empty:
        return result
    y = (joined[target].str.strip() == positive).to_numpy(dtype=np.int8)
    predicted = (joined["prediction"].astype("string") == positive).to_numpy(dtype=np.int8)
    result["accuracy"] = float(accuracy_score(y, predicted))
    if len(np.unique(y)) == 2:
        result["roc_auc"] = float(roc_auc_score(y, joined["score"].to_numpy(dtype=float)))
    return result


# --- the batch's metrics ------------------------------------------------------------------


def quality(summary: dict[str, Any], source: str) -> dict[str, Any]:
    try:
        return {
            "quarantine_share": float(summary["quarantine_share"]),
            "rows": int(summary["rows"]),
            "scored": int(summary["scored"]),
            "quarantined": int(summary["quarantined"]),
            "violations": {str(k): int(v) for k, v in dict(summary["violations"]).items()},
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise StageError(f"{source}: not a batch summary of make score ({exc!r})") from exc


def batch_metrics(
    summary: dict[str, Any],
    log: pd.DataFrame,
    inputs: pd.DataFrame,
    reference: pd.DataFrame,
    reference_scores: np.ndarray,
    labels: pd.DataFrame | None,
    schema: SchemaParams,
    drift: DriftParams,
    params: MonitorParams,
    sources: tuple[str, str, str],
) -> dict[str, Any]:
    """Every metric of one batch (see the module's docstring)."""
    from stages.drift import drift_report

    summary_source, inputs_source, reference_source = sources
    target, positive = schema.target, schema.positive_label
    features = reference.drop(columns=[target])
    report = drift_report(features, inputs, schema, drift, (reference_source, inputs_source))
    y_reference = (reference[target] == positive).to_numpy(dtype=np.int8)
    scores = log["score"].to_numpy(dtype=float)
    predicted = (log["prediction"].astype("string") == positive).to_numpy(dtype=np.int8)
    cbpe = CBPE(y_reference, reference_scores, params.calibration_bins)
    drifted = sorted(name for name, column in report["columns"].items() if column["drifted"])
    return {
        "batch": summary.get("batch"),
        "model_version": summary.get("model_version"),
        "quality": quality(summary, summary_source),
        "drift": {
            "share_drifted": report["share_drifted"],
            "n_drifted": report["n_drifted"],
            "drifted": drifted,
            "columns": report["columns"],
        },
        "prediction_drift": {
            "psi": score_psi(reference_scores, scores, params.psi_bins),
            "mean_score": float(scores.mean()),
            "reference_mean_score": float(reference_scores.mean()),
        },
        "estimated": cbpe.estimate(scores, predicted),
        "realized": realized(log, labels, target, positive),
    }


HISTORY_KEYS = (
    "quality.quarantine_share",
    "drift.share_drifted",
    "prediction_drift.psi",
    "estimated.roc_auc",
    "estimated.accuracy",
    "realized.roc_auc",
    "realized.accuracy",
    "realized.labelled_share",
)


def history_row(metrics: dict[str, Any]) -> dict[str, Any]:
    """One point per metric of a batch, under flat names dvc plots can draw."""
    row: dict[str, Any] = {"batch": metrics["batch"], "model_version": metrics["model_version"]}
    for dotted in HISTORY_KEYS:
        section, key = dotted.split(".")
        row[f"{section}_{key}"] = metrics[section][key]
    return row


def updated_history(history: list[dict[str, Any]], row: dict[str, Any]) -> list[dict[str, Any]]:
    """The history with this batch's point replaced (a batch monitored again, e.g. when its
    labels arrive) or added, in batch order."""
    kept = [point for point in history if point.get("batch") != row["batch"]]
    return sorted([*kept, row], key=lambda point: str(point.get("batch")))


# --- I/O -----------------------------------------------------------------------------------


def check_batch_id(batch: str) -> str:
    if not batch or len(batch) > 200 or not set(batch) <= BATCH_ID_CHARS or batch[0] == ".":
        raise StageError(
            f"batch id {batch!r}: expected letters, digits, '-', '_' and '.' (as make score "
            "prints it)"
        )
    return batch


def read_summary(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise StageError(
            f"{path}: no such batch (scored batches: {', '.join(known_batches(path.parent))})"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise StageError(f"{path}: cannot read ({exc})") from exc
    if len(text) > 1_000_000:
        raise StageError(f"{path}: larger than a batch summary can be")
    try:
        summary = json.loads(text)
    except ValueError as exc:
        raise StageError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(summary, dict):
        raise StageError(f"{path}: expected a JSON object")
    return summary


def known_batches(directory: Path) -> list[str]:
    names = sorted(p.name[: -len(".json")] for p in directory.glob("*.json"))
    return names[-5:] or ["none"]


def prepare(argv: Sequence[str]) -> None:
    """Check the batch id, merge a labels file, record the batch for the stage: a failure
    leaves every file as it was."""
    parser = argparse.ArgumentParser(prog="python -m stages.monitor prepare")
    parser.add_argument("--batch", required=True)
    parser.add_argument("--labels")
    parser.add_argument("--batches", required=True, help="monitoring/batches")
    parser.add_argument("--labels-dir", required=True, help="monitoring/labels")
    parser.add_argument("--record", required=True, help="monitoring/batch.yaml")
    args = parser.parse_args(argv)
    batch = check_batch_id(args.batch)
    read_summary(Path(args.batches) / f"{batch}.json")
    if args.labels:
        schema = load(SchemaParams)
        labels = read_labels(args.labels, schema.target)
        check_label_values(labels, schema.target, schema.labels, args.labels)
        store = Path(args.labels_dir) / f"{batch}.parquet"
        earlier = pd.read_parquet(store) if store.exists() else None
        merged = merge_labels(earlier, labels)
        partial = store.with_name(f".{store.name}.partial")
        with writing(partial) as target:
            merged.to_parquet(target, index=False)
        partial.replace(store)  # atomic: the old labels stay whole until the new ones are
        Progress(SECTION)(f"{len(labels)} labels merged: {len(merged)} labelled ids in {store}")
    record = Path(args.record)
    with writing(record.with_name(f".{record.name}.partial")) as target:
        target.write_text(
            "# Written by `make monitor BATCH=<id>`: the batch monitoring/dvc.yaml judges.\n"
            f"batch: {json.dumps(batch)}\n",
            encoding="utf-8",
        )
        target.replace(record)


def read_history(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    try:
        data = read_yaml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise StageError(f"{path}: cannot read ({exc})") from exc
    if not isinstance(data, list) or not all(isinstance(point, dict) for point in data):
        raise StageError(f"{path}: expected a JSON list of points, one per batch")
    return data


def scores_of_reference(
    model_path: Path,
    reference_path: Path,
    reference: pd.DataFrame,
    schema: SchemaParams,
    cache: Path,
) -> np.ndarray:
    """The released model's scores on its reference split, kept in ``cache`` under the md5
    of the model and reference files: loading the model (skops) costs more than everything
    else a monitoring run does, and every batch a release scores shares these scores."""
    import hashlib

    digest = hashlib.md5(usedforsecurity=False)
    for path in (model_path, reference_path):
        digest.update(Path(path).read_bytes())
    kept = cache / f"{digest.hexdigest()}.npy"
    if kept.is_file():
        try:
            scores = np.load(kept, allow_pickle=False)
            if scores.shape == (len(reference),) and np.isfinite(scores).all():
                return np.asarray(scores, dtype=float)
        except (OSError, ValueError):
            pass  # unreadable: scored again and replaced below
    from stages.modelio import load_model

    model = load_model(model_path)
    features = reference.drop(columns=[schema.target])
    scores = np.asarray(model.predict_proba(features), dtype=float)[:, 1]
    partial = kept.with_name(f".{kept.name}.partial")
    with writing(partial) as target, target.open("wb") as handle:
        np.save(handle, scores, allow_pickle=False)
    partial.replace(kept)
    return scores


def run(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m stages.monitor run")
    for name in ("batch", "batches", "predictions", "inputs", "labels-dir", "metrics"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--history", required=True)
    parser.add_argument("--cache", required=True, help="reference scores by release files")
    args = parser.parse_args(argv)
    # The registry's view of a release (stages/released.py, the scoring side of issue 18),
    # imported by name: it lands on this branch at the merge, and tests stand in for it.
    released = importlib.import_module("stages.released")
    from stages.splits import read_split

    progress = Progress(SECTION)
    batch = check_batch_id(args.batch)
    with removed_on_failure([args.metrics]):
        schema, drift, params = load(SchemaParams), load(DriftParams), load(MonitorParams)
        summary_path = Path(args.batches) / f"{batch}.json"
        summary = read_summary(summary_path)
        log_path = Path(args.predictions) / f"{batch}.parquet"
        inputs_path = Path(args.inputs) / f"{batch}.parquet"
        log, inputs = read_split(log_path), read_split(inputs_path)
        versions = sorted(set(log["model_version"].astype(str)))
        if len(versions) != 1:
            raise StageError(f"{log_path}: expected one model_version, found {versions}")
        release = released.resolve(version=versions[0])
        reference_path = released.fetch_reference(release)
        reference = read_split(reference_path)
        reference_scores = scores_of_reference(
            released.fetch_model(release), reference_path, reference, schema, Path(args.cache)
        )
        labels_path = Path(args.labels_dir) / f"{batch}.parquet"
        labels = pd.read_parquet(labels_path) if labels_path.exists() else None
        progress(f"batch {batch}: {len(log)} scored rows, model {release.version}")
        metrics = batch_metrics(
            summary,
            log,
            inputs.drop(columns=[ID], errors="ignore"),
            reference,
            reference_scores,
            labels,
            schema,
            drift,
            params,
            (str(summary_path), str(inputs_path), str(reference_path)),
        )
        history = updated_history(read_history(Path(args.history)), history_row(metrics))
        write_json(args.metrics, metrics)
        write_history(Path(args.history), history)
    shown = metrics["estimated"]["roc_auc"]
    progress(f"estimated ROC AUC {shown if shown is None else round(shown, 4)}")


def write_history(path: Path, history: list[dict[str, Any]]) -> None:
    """The history, replaced whole only once it is written (a failed run keeps the old)."""
    partial = path.with_name(f".{path.name}.partial")
    text = json.dumps(rounded(history), indent=2, sort_keys=True, allow_nan=False)
    with writing(partial) as target:
        target.write_text(text + "\n", encoding="utf-8")
        target.replace(path)


COMMANDS = {"prepare": prepare, "run": run}


def main(argv: Sequence[str]) -> None:
    if not argv or argv[0] not in COMMANDS:
        raise StageError(f"usage: python -m stages.monitor {{{','.join(COMMANDS)}}} ...")
    COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    run_stage(SECTION, main)
