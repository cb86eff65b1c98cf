"""stages/monitor.py: CBPE against known answers and shifted Adult batches, labels arriving
late and for part of a batch, the batch's metrics, and one-line errors that write nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from stages import monitor
from stages.common import StageError
from stages.params import DriftParams, MonitorParams, SchemaParams, parse
from tests.stages.conftest import SCHEMA_PARAMS

ADULT = Path(__file__).resolve().parents[2] / "data" / "raw"  # the Adult files, in git
MONITOR = {"psi_bins": 10, "calibration_bins": 10}
DRIFT = {"p_value": 0.01, "psi": 0.1, "psi_bins": 10}


# --- CBPE ------------------------------------------------------------------------------------


def test_estimated_roc_auc_is_the_expected_pair_ordering() -> None:
    # p = (0.9, 0.6, 0.3) taken as calibrated: sum over ranked pairs p_i (1 - p_j), plus half
    # of each row's p (1 - p) for itself, over P * N = 1.8 * 1.2 -> 1.68 / 2.16 = 7/9
    p = np.array([0.3, 0.9, 0.6])
    assert monitor.estimated_roc_auc(p, p) == pytest.approx(7 / 9)


def test_estimated_roc_auc_of_certain_probabilities_is_the_realized_one() -> None:
    from sklearn.metrics import roc_auc_score

    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.7, 0.2])
    y = np.array([0, 0, 1, 1, 1, 0])
    assert monitor.estimated_roc_auc(y.astype(float), scores) == pytest.approx(
        roc_auc_score(y, scores)
    )


def test_ties_in_the_scores_are_one_threshold() -> None:
    scores = np.array([0.5, 0.5, 0.5, 0.5])
    assert monitor.estimated_roc_auc(np.array([0.2, 0.9, 0.4, 0.7]), scores) == 0.5


def test_no_expected_negative_gives_no_auc() -> None:
    assert monitor.estimated_roc_auc(np.ones(3), np.array([0.1, 0.2, 0.3])) is None


def test_estimated_accuracy_is_the_expected_confusion_diagonal() -> None:
    calibrated = np.array([0.9, 0.2, 0.6, 0.4])
    predicted = np.array([1, 0, 0, 1])
    assert monitor.estimated_accuracy(calibrated, predicted) == pytest.approx(
        (0.9 + 0.8 + 0.4 + 0.4) / 4
    )


def test_a_calibrated_model_is_left_as_is_and_a_skewed_one_calibrated() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(size=20_000)
    y = (rng.uniform(size=p.size) < p).astype(np.int8)
    assert not monitor.needs_calibration(y, p, 10)
    assert monitor.needs_calibration(y, p**3, 10)  # over-confident negatives
    cbpe = monitor.CBPE(y, p**3, 10)
    assert cbpe.calibrator is not None
    assert np.abs(cbpe.calibrated(np.array([0.125])) - 0.5) < 0.05  # 0.5 ** 3


@pytest.mark.slow
def test_estimates_within_002_under_covariate_shift_and_blind_to_a_concept_change() -> None:
    from benchmarks.monitor_estimation import run_batches

    results = run_batches(ADULT, rows=5000)
    covariate = [r for r in results if r.kind == "covariate"]
    concept = [r for r in results if r.kind == "concept"]
    assert len(covariate) >= 6 and len(concept) >= 2
    for r in covariate:
        assert r.auc_error <= 0.02, r
        assert r.accuracy_error <= 0.02, r
    for r in concept:  # the estimate stays where it was, the realized metrics fall
        assert r.realized_accuracy < r.estimated_accuracy - 0.05, r
        assert r.realized_roc_auc < r.estimated_roc_auc - 0.05, r


# --- prediction drift ------------------------------------------------------------------------


def test_score_psi_is_zero_for_the_same_scores_and_grows_with_a_shift() -> None:
    rng = np.random.default_rng(1)
    reference = rng.beta(2, 5, 5000)
    assert monitor.score_psi(reference, reference, 10) == pytest.approx(0.0, abs=1e-12)
    assert monitor.score_psi(reference, rng.beta(5, 2, 5000), 10) > 1.0


# --- labels ----------------------------------------------------------------------------------


def frame(**columns: Any) -> pd.DataFrame:
    return pd.DataFrame(columns).astype("string")


def test_later_labels_replace_earlier_ones_for_the_same_id() -> None:
    earlier = frame(id=["1", "2"], income=["<=50K", "<=50K"])
    later = frame(id=["2", "3"], income=[">50K", ">50K"])
    merged = monitor.merge_labels(earlier, later)
    assert dict(zip(merged["id"], merged["income"], strict=True)) == {
        "1": "<=50K",
        "2": ">50K",
        "3": ">50K",
    }
    assert list(earlier["income"]) == ["<=50K", "<=50K"]  # inputs untouched


def log_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "score": [0.9, 0.2, 0.7, 0.4],
            "prediction": [">50K", "<=50K", ">50K", "<=50K"],
            "model_version": "v1.0.0",
        }
    )


def test_realized_metrics_on_part_of_a_batch_count_unknown_ids() -> None:
    labels = frame(
        id=["a", "b", "c", "zz", "yy"], income=[">50K", "<=50K", "<=50K", ">50K", ">50K"]
    )
    result = monitor.realized(log_frame(), labels, "income", ">50K")
    assert result["labelled_rows"] == 3 and result["labelled_share"] == 0.75
    assert result["unknown_ids"] == 2
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert result["roc_auc"] == pytest.approx(1.0)  # a (0.9) above b (0.2) and c (0.7)


def test_realized_metrics_without_labels_are_null() -> None:
    result = monitor.realized(log_frame(), None, "income", ">50K")
    assert result["roc_auc"] is None and result["accuracy"] is None
    assert result["labelled_share"] == 0.0 and result["unknown_ids"] == 0


def test_a_labels_file_without_the_target_names_file_and_column(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("id,label\n1,>50K\n", encoding="utf-8")
    with pytest.raises(StageError, match=r"labels.csv: missing column\(s\) income"):
        monitor.read_labels(path, "income")


def test_label_values_outside_the_schema_are_refused() -> None:
    labels = frame(id=["1"], income=["maybe"])
    with pytest.raises(StageError, match="'maybe' outside the schema's labels"):
        monitor.check_label_values(labels, "income", ("<=50K", ">50K"), "l.csv")


# --- the batch's metrics ----------------------------------------------------------------------


def summary() -> dict[str, Any]:
    return {
        "batch": "2026-11",
        "model_version": "v1.0.0",
        "rows": 5,
        "scored": 4,
        "quarantined": 1,
        "quarantine_share": 0.2,
        "violations": {"age": 1},
    }


def inputs_frame(n: int = 4, age: float = 40.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": np.full(n, age),
            "hours_per_week": np.full(n, 40.0),
            "sex": pd.array(["Female", "Male"] * (n // 2), dtype="string"),
            "workclass": pd.array(["Private"] * n, dtype="string"),
        }
    )


def test_batch_metrics_have_the_keys_gates_and_plots_read() -> None:
    reference = inputs_frame(8).assign(income=["<=50K", ">50K"] * 4)
    metrics = monitor.batch_metrics(
        summary(),
        log_frame(),
        inputs_frame(),
        reference,
        np.array([0.1, 0.8, 0.2, 0.9, 0.3, 0.7, 0.4, 0.6]),
        None,
        parse(SchemaParams, SCHEMA_PARAMS),
        parse(DriftParams, DRIFT),
        parse(MonitorParams, MONITOR),
        ("s.json", "i.parquet", "r.parquet"),
    )
    for dotted in monitor.HISTORY_KEYS:
        section, key = dotted.split(".")
        assert key in metrics[section], dotted
    assert metrics["quality"]["quarantine_share"] == 0.2
    assert metrics["realized"]["roc_auc"] is None
    row = monitor.history_row(metrics)
    assert row["batch"] == "2026-11" and row["realized_roc_auc"] is None
    history = monitor.updated_history([{"batch": "2026-11", "x": 1}, {"batch": "2026-10"}], row)
    assert [point["batch"] for point in history] == ["2026-10", "2026-11"]
    assert "x" not in history[1]


# --- the command: one line, non-zero, nothing written ----------------------------------------


def write_params(root: Path) -> None:
    import yaml

    params = {"schema": SCHEMA_PARAMS, "drift": DRIFT, "monitor": MONITOR}
    (root / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")


def prepare(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "stages.monitor",
            "prepare",
            "--batches",
            "batches",
            "--labels-dir",
            "labels",
            "--record",
            "batch.yaml",
            *args,
        ],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": ":".join(sys.path), "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_params(tmp_path)
    (tmp_path / "batches").mkdir()
    (tmp_path / "batches" / "2026-11.json").write_text(json.dumps(summary()), encoding="utf-8")
    return tmp_path


def test_prepare_merges_labels_and_records_the_batch(project: Path) -> None:
    (project / "l1.csv").write_text("id,income\na,>50K\nb,<=50K\n", encoding="utf-8")
    (project / "l2.csv").write_text("id,income\nb,>50K\n", encoding="utf-8")
    for labels in ("l1.csv", "l2.csv"):
        result = prepare(project, "--batch", "2026-11", "--labels", labels)
        assert result.returncode == 0, result.stderr
    stored = pd.read_parquet(project / "labels" / "2026-11.parquet")
    assert dict(zip(stored["id"], stored["income"], strict=True)) == {"a": ">50K", "b": ">50K"}
    assert 'batch: "2026-11"' in (project / "batch.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("--batch", "2026-12"), "batches/2026-12.json: no such batch (scored batches: 2026-11)"),
        (("--batch", "../x"), "batch id '../x': expected letters"),
        (("--batch", "2026-11", "--labels", "bad.csv"), "bad.csv: missing column(s) income"),
    ],
)
def test_bad_input_is_one_line_nonzero_and_writes_nothing(
    project: Path, args: tuple[str, ...], problem: str
) -> None:
    (project / "bad.csv").write_text("id,label\na,>50K\n", encoding="utf-8")
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    result = prepare(project, *args)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"monitor: error: {problem}"), result.stderr
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before


def test_run_reads_the_release_that_scored_the_batch(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run` end to end on tiny files, with `stages.released` standing in for the registry."""
    monkeypatch.chdir(project)
    reference = inputs_frame(8).assign(income=["<=50K", ">50K"] * 4)
    reference.to_parquet("reference.parquet")

    class Model:  # what stages.modelio.load_model returns for the release's model file
        def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
            assert "income" not in frame.columns
            p = np.linspace(0.1, 0.9, len(frame))
            return np.c_[1 - p, p]

    loads: list[Path] = []
    monkeypatch.setattr("stages.modelio.load_model", lambda path: loads.append(path) or Model())
    Path("model.skops").write_bytes(b"the release's model")
    for folder in ("predictions", "inputs"):
        (project / folder).mkdir()
    log_frame().to_parquet("predictions/2026-11.parquet")
    inputs_frame().assign(id=["a", "b", "c", "d"]).to_parquet("inputs/2026-11.parquet")
    seen: list[Any] = []
    fake = SimpleNamespace(
        resolve=lambda version: seen.append(version) or SimpleNamespace(version=version),
        fetch_model=lambda release: Path("model.skops"),  # hashed, loaded by the fake
        fetch_reference=lambda release: Path("reference.parquet"),
    )
    monkeypatch.setitem(sys.modules, "stages.released", fake)
    monkeypatch.setattr(sys.modules["stages"], "released", fake, raising=False)
    args = ["--batch", "2026-11", "--batches", "batches", "--predictions", "predictions"]
    args += ["--inputs", "inputs", "--labels-dir", "labels", "--metrics", "metrics.json"]
    args += ["--history", "history.json", "--cache", "cache"]
    monitor.run(args)
    monitor.run(args)  # again: still one point per batch, the reference scores from the cache
    metrics = json.loads((project / "metrics.json").read_text(encoding="utf-8"))
    assert seen == ["v1.0.0", "v1.0.0"]
    assert loads == [Path("model.skops")]  # the second run read the cached reference scores
    assert metrics["model_version"] == "v1.0.0" and metrics["realized"]["accuracy"] is None
    history = json.loads((project / "history.json").read_text(encoding="utf-8"))
    assert [point["batch"] for point in history] == ["2026-11"]
