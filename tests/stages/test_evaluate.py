import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stages.common import StageError
from stages.evaluate import (
    evaluate,
    fairness_metrics,
    inference_timing,
    permutation_importance,
    plot_data,
    quality_metrics,
    split_target,
)
from stages.featurize import fit_featurizer, transform
from stages.modelio import save_model
from stages.params import EvaluateParams, parse
from stages.train import fit_model
from tests.stages.modelling_data import (
    FEATURIZE_PARAMS,
    HGB_PARAMS,
    LOGREG_PARAMS,
    SCHEMA_SECTION,
    schema,
    validated_frame,
)
from tests.stages.stage_runner import run_stage

SECTION = {
    "threshold": 0.5,
    "seed": 3,
    "importance_rows": 200,
    "importance_repeats": 2,
    "importance_top": 2,
    "curve_points": 11,
    "calibration_bins": 5,
    "latency_rows": 5,
    "batch_repeats": 2,
}
PARAMS = parse(EvaluateParams, SECTION)


def evaluate_params(**changes: int) -> EvaluateParams:
    return parse(EvaluateParams, {**SECTION, **changes})


@pytest.fixture(scope="module")
def model():
    train = validated_frame(400)
    featurizer = fit_featurizer(train, schema(), FEATURIZE_PARAMS)
    return fit_model(featurizer, transform(featurizer, train, schema()), "income", HGB_PARAMS)


def test_quality_metrics_on_known_predictions() -> None:
    y = np.array([0, 0, 1, 1])
    proba = np.array([0.1, 0.6, 0.4, 0.9])
    metrics = quality_metrics(y, proba, 0.5)
    assert metrics["accuracy"] == 0.5 and metrics["precision"] == 0.5
    assert metrics["recall"] == 0.5 and metrics["roc_auc"] == 0.75
    assert metrics["brier"] == pytest.approx((0.01 + 0.36 + 0.36 + 0.01) / 4)
    perfect = quality_metrics(y, np.array([0.0, 0.2, 0.8, 1.0]), 0.5)
    assert perfect["accuracy"] == perfect["roc_auc"] == perfect["f1"] == 1.0
    assert np.isfinite(perfect["log_loss"])  # clipped: a certain, right guess is not -inf


def test_fairness_gaps_and_groups_by_hand() -> None:
    y = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    predicted = np.array([1, 1, 1, 0, 1, 0, 0, 0])
    groups = pd.DataFrame({"sex": ["F", "F", "F", "F", "M", "M", "M", "M"]})
    report = fairness_metrics(y, predicted, groups)["sex"]
    assert report["selection_rate"] == {"F": 0.75, "M": 0.25}
    assert report["recall"] == {"F": 1.0, "M": 0.5}
    assert report["demographic_parity_difference"] == pytest.approx(0.5)
    # TPR gap 0.5, FPR gap 0.5 - 0 = 0.5
    assert report["equalized_odds_difference"] == pytest.approx(0.5)


def test_gaps_match_fairlearns_own_functions() -> None:
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

    rng = np.random.default_rng(1)
    y, predicted = rng.integers(0, 2, 500), rng.integers(0, 2, 500)
    groups = pd.DataFrame({"race": rng.choice(["a", "b", "c"], 500)})
    report = fairness_metrics(y, predicted, groups)["race"]
    sensitive = groups["race"].to_numpy()
    assert report["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y, predicted, sensitive_features=sensitive)
    )
    assert report["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(y, predicted, sensitive_features=sensitive)
    )


def test_group_without_positives_has_undefined_recall() -> None:
    report = fairness_metrics(
        np.array([1, 0, 0, 0]), np.array([1, 0, 1, 0]), pd.DataFrame({"race": list("AABB")})
    )["race"]
    assert report["recall"]["A"] == 1.0 and np.isnan(report["recall"]["B"])


def test_split_target_errors_name_the_file() -> None:
    frame = validated_frame(20)
    with pytest.raises(StageError, match=r"t.parquet: missing column\(s\) income"):
        split_target(frame.drop(columns="income"), schema(), "t.parquet")
    with pytest.raises(StageError, match="t.parquet: column 'income' has a single class"):
        split_target(frame.assign(income=">50K"), schema(), "t.parquet")
    missing = frame.astype({"income": "object"})
    missing.loc[4, "income"] = None
    with pytest.raises(StageError, match="t.parquet: column 'income' is missing at row 5"):
        split_target(missing, schema(), "t.parquet")


def test_permutation_importance_ranks_informative_columns(model) -> None:
    test = validated_frame(400, seed=5)
    X, y = split_target(test, schema(), "test")
    noise = X.assign(workclass=X["workclass"].sample(frac=1, random_state=0).to_numpy())
    table = permutation_importance(model, noise, y, PARAMS)
    assert table.equals(permutation_importance(model, noise, y, PARAMS))  # seeded
    ranking = table["feature"].tolist()
    assert ranking.index("age") < ranking.index("workclass")
    assert set(ranking) == {"age", "hours_per_week", "sex", "workclass"}


def _pipeline(classifier: str):
    """A fitted inference pipeline: a model family of train.py, or one without a
    decision function (k-nearest neighbours: ranked by predicted probability)."""
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline

    train = validated_frame(400)
    featurizer = fit_featurizer(train, schema(), FEATURIZE_PARAMS)
    features = transform(featurizer, train, schema())
    if classifier == "knn":
        X = features.drop(columns="income").fillna(-1.0).to_numpy()  # what the featurizer gives
        knn = KNeighborsClassifier(n_neighbors=15).fit(X, features["income"])
        return Pipeline([("features", featurizer), ("classifier", knn)])
    family = {"hgb": HGB_PARAMS, "logreg": LOGREG_PARAMS}[classifier]
    return fit_model(featurizer, features, "income", family)


def _assert_sklearns_importances(table: pd.DataFrame, model, X: pd.DataFrame, y) -> None:
    """`table` holds sklearn's permutation importances of `model` on the rows evaluate's
    sample draws from `X` (same seed, same row choice)."""
    from sklearn.inspection import permutation_importance as sklearn_importance

    rows = min(PARAMS.importance_rows, len(X))
    chosen = np.sort(np.random.default_rng(PARAMS.seed).choice(len(X), rows, replace=False))
    inputs = X.iloc[chosen]
    expected = sklearn_importance(
        model,
        inputs if hasattr(model, "feature_names_in_") else inputs.to_numpy(),
        y[chosen],
        scoring="roc_auc",
        n_repeats=PARAMS.importance_repeats,
        random_state=PARAMS.seed,
    )
    by_feature = table.set_index("feature").loc[list(X.columns)]
    assert by_feature["importance"].tolist() == pytest.approx(
        list(expected.importances_mean), abs=1e-12
    )
    assert by_feature["std"].tolist() == pytest.approx(list(expected.importances_std), abs=1e-12)


@pytest.mark.parametrize("classifier", ["hgb", "logreg", "knn"])
@pytest.mark.parametrize("batch_rows", [None, 450])
def test_permutation_importance_equals_sklearns(classifier, batch_rows, monkeypatch) -> None:
    """Batched scoring is an implementation detail: the numbers are sklearn's."""
    import stages.evaluate

    if batch_rows:  # several calls of two copies each instead of one call
        monkeypatch.setattr(stages.evaluate, "IMPORTANCE_BATCH_ROWS", batch_rows)
    model = _pipeline(classifier)
    X, y = split_target(validated_frame(300, seed=5), schema(), "test")
    if classifier == "knn":  # k-NN does not take missing values
        X = X.assign(workclass=X["workclass"].fillna("Private"))
    table = permutation_importance(model, X, y, PARAMS)
    features = pd.DataFrame(model[:-1].transform(X), columns=X.columns)
    _assert_sklearns_importances(table, model[-1], features, y)


@pytest.mark.parametrize("split_rows", [151, 300])  # 151 < importance_rows: every row
def test_permutation_importance_of_a_renaming_pipeline_equals_sklearns(split_rows) -> None:
    """A featurizer that renames columns (one-hot): the raw input columns, strings and
    all, are permuted and the whole pipeline scores them."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    def inputs(frame):
        return frame.assign(workclass=frame["workclass"].fillna("missing"))

    encode = ColumnTransformer(
        [
            (
                "onehot",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ["sex", "workclass"],
            )
        ],
        remainder="passthrough",
    ).set_output(transform="pandas")
    X_train, y_train = split_target(validated_frame(400), schema(), "train")
    model = Pipeline([("encode", encode), ("classifier", LogisticRegression(max_iter=500))])
    model.fit(inputs(X_train), y_train)
    X, y = split_target(validated_frame(split_rows, seed=5), schema(), "test")
    X = inputs(X)
    table = permutation_importance(model, X, y, PARAMS)
    _assert_sklearns_importances(table, model, X, y)


def test_fairness_by_weighted_counts_equals_every_row() -> None:
    """Scoring one weighted row per (group, label, prediction) changes no number."""
    from fairlearn.metrics import (
        MetricFrame,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )

    rng = np.random.default_rng(4)
    y, predicted = rng.integers(0, 2, 3000), rng.integers(0, 2, 3000)
    race = rng.choice(["a", "b", "c", None], 3000).astype(object)
    race[:40], y[:40] = "only negatives", 0
    groups = pd.DataFrame({"race": race})
    report = fairness_metrics(y, predicted, groups)["race"]
    every_row = MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "tpr": true_positive_rate,
            "fpr": false_positive_rate,
        },
        y_true=y,
        y_pred=predicted,
        sensitive_features=groups["race"].fillna("missing").to_numpy(),
    )
    by_group = every_row.by_group
    assert report["selection_rate"] == by_group["selection_rate"].to_dict()
    assert np.isnan(report["recall"].pop("only negatives"))  # undefined, where tpr says 0
    assert report["recall"] == by_group["tpr"].drop("only negatives").to_dict()
    gaps = every_row.difference(method="between_groups")
    assert report["demographic_parity_difference"] == gaps["selection_rate"]
    assert report["equalized_odds_difference"] == max(gaps["tpr"], gaps["fpr"])


def test_plot_data_is_small_and_consistent() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 1000)
    proba = np.clip(y * 0.3 + rng.random(1000) * 0.7, 0, 1)
    importance = pd.DataFrame({"feature": ["a", "b"], "importance": [0.2, 0.1], "std": [0, 0]})
    plots = plot_data(y, proba, importance, PARAMS, ["no", "yes"])
    roc = plots["roc"]
    assert len(roc) <= 11 and (roc[0]["fpr"], roc[0]["tpr"]) == (0.0, 0.0)
    assert (roc[-1]["fpr"], roc[-1]["tpr"]) == (1.0, 1.0)
    assert len(plots["precision_recall"]) <= 11 and len(plots["calibration"]) <= 5
    assert sum(cell["count"] for cell in plots["confusion"]) == 1000
    assert {(c["actual"], c["predicted"]) for c in plots["confusion"]} == {
        ("no", "no"),
        ("no", "yes"),
        ("yes", "no"),
        ("yes", "yes"),
    }
    assert plots["importance"] == [
        {"feature": "a", "importance": 0.2},
        {"feature": "b", "importance": 0.1},
    ]


def test_evaluate_follows_the_metrics_contract(model) -> None:
    test = validated_frame(300, seed=9)
    metrics, plots, scored_seconds = evaluate(model, test, schema(), PARAMS, 1234)
    assert scored_seconds > 0
    for key in (
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "average_precision",
        "log_loss",
        "brier",
    ):
        assert 0 <= metrics[key] <= 1 or key == "log_loss"
    assert metrics["model_size_bytes"] == 1234 and metrics["roc_auc"] > 0.85
    sex = metrics["fairness"]["sex"]
    assert set(sex) == {
        "demographic_parity_difference",
        "equalized_odds_difference",
        "selection_rate",
        "recall",
    }
    assert set(sex["selection_rate"]) == {"Female", "Male"}
    assert len(metrics["importance"]) == 2 and len(plots["importance"]) == 4


def test_inference_timing_keys(model) -> None:
    X = validated_frame(50, seed=2, with_target=False)
    timing = inference_timing(model, X, PARAMS)
    assert timing["batch_rows_per_s"] > 0
    assert 0 < timing["latency"]["p50_ms"] <= timing["latency"]["p95_ms"]
    assert timing["rows"] == {"batch": 50, "latency": 5}


def test_scoring_pass_counts_as_the_first_batch_repeat(model, monkeypatch) -> None:
    X = validated_frame(50, seed=2, with_target=False)
    calls = []
    monkeypatch.setattr(model, "predict_proba", lambda rows: calls.append(len(rows)))
    timing = inference_timing(model, X, evaluate_params(batch_repeats=1), scored_seconds=0.5)
    assert timing["batch_rows_per_s"] == 100.0  # 50 rows in the scoring pass's 0.5 s
    assert calls == [1] * 5  # no second whole-split pass, only the single rows
    calls.clear()
    inference_timing(model, X, evaluate_params(batch_repeats=3), scored_seconds=0.5)
    assert calls == [50, 50] + [1] * 5


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"threshold": 1.5}, r"'evaluate.threshold' must be in \(0, 1\)"),
        ({"threshold": "high"}, r"'evaluate.threshold' must be int or float"),
        ({"threshold": float("nan")}, r"'evaluate.threshold' must be a finite number"),
        ({"importance_rows": True}, r"'evaluate.importance_rows' must be int"),
        ({"curve_points": 1}, r"'evaluate.curve_points' must be >= 2"),
        ({"seed": -1}, r"'evaluate.seed' must be within \[0, 4294967295\], got -1"),
        ({"seed": 2**40}, r"'evaluate.seed' must be within \[0, 4294967295\]"),
        ({"batch_repeats": 2**31}, r"'evaluate.batch_repeats' must be within \[1, 1000\]"),
        (
            {"importance_repeats": 10**6},
            r"'evaluate.importance_repeats' must be within \[1, 1000\]",
        ),
    ],
)
def test_invalid_params_name_the_key(override, message) -> None:
    with pytest.raises(StageError, match=message):
        parse(EvaluateParams, {**SECTION, **override})


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([">50K"], r"'schema.labels' must name two distinct classes"),
        ([">50K", "<=50K", "unknown"], r"'schema.labels' must name two distinct classes"),
        (["<=50K", "other"], r"'schema.positive_label' '>50K' not in \['<=50K', 'other'\]"),
    ],
    ids=str,
)
def test_labels_must_be_binary_with_the_positive_one(labels, message) -> None:
    # every stage reads the schema through its model: a stage run alone says so too
    with pytest.raises(StageError, match=message):
        schema(labels=labels)
    assert (schema().negative_label, schema().positive_label) == ("<=50K", ">50K")


def test_main_writes_metrics_plots_and_timing(model, tmp_path: Path) -> None:
    save_model(model, tmp_path / "model.skops")
    validated_frame(300, seed=4).to_parquet(tmp_path / "test.parquet")
    args = [
        "--model",
        "model.skops",
        "--test",
        "test.parquet",
        "--metrics",
        "m/metrics.json",
        "--inference",
        "m/inference.json",
        "--plots",
        "plots",
    ]
    params = {"schema": SCHEMA_SECTION, "evaluate": SECTION}
    result = run_stage("evaluate", args, tmp_path, params)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "m/metrics.json").read_text())
    assert metrics["model_size_bytes"] == (tmp_path / "model.skops").stat().st_size
    assert set(json.loads((tmp_path / "m/inference.json").read_text())) >= {
        "batch_rows_per_s",
        "latency",
    }
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "calibration.json",
        "confusion.json",
        "importance.json",
        "precision_recall.json",
        "roc.json",
    ]
    failed = run_stage("evaluate", args, tmp_path, {**params, "evaluate": {**SECTION, "seed": 0.5}})
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines() == [
        "evaluate: error: params.yaml: 'evaluate.seed' must be int, got float 0.5"
    ]
    assert not (tmp_path / "m/metrics.json").exists() and not (tmp_path / "plots").exists()


@pytest.mark.parametrize("classifier", ["hgb", "logreg"])
def test_metrics_do_not_depend_on_the_thread_count(classifier, tmp_path: Path) -> None:
    # Importance copies are scored on every OpenMP thread the machine has (gradient boosting
    # predicts row by row); BLAS stays on one. Either way, no tracked number may change.
    save_model(_pipeline(classifier), tmp_path / "model.skops")
    validated_frame(600, seed=4).to_parquet(tmp_path / "test.parquet")
    outputs = []
    for threads in ("1", "2"):
        args = ["--model", "model.skops", "--test", "test.parquet", "--metrics", "metrics.json"]
        args += ["--inference", "inference.json", "--plots", f"plots-{threads}"]
        params = {"schema": SCHEMA_SECTION, "evaluate": SECTION}
        done = run_stage("evaluate", args, tmp_path, params, env={"OMP_NUM_THREADS": threads})
        assert done.returncode == 0, done.stderr
        plots = sorted((tmp_path / f"plots-{threads}").iterdir())
        outputs.append([(tmp_path / "metrics.json").read_bytes(), *map(Path.read_bytes, plots)])
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize(
    ("bins", "says"),
    [(2**45, "out of memory (Unable to allocate"), (2**62, "out of memory (array is too big")],
)
def test_an_allocation_larger_than_the_machine_is_a_one_line_error(
    model, tmp_path: Path, bins: int, says: str
) -> None:
    # huge calibration bins pass every type check; numpy then cannot allocate the edges
    # (2**45: a MemoryError; 2**62: past the address space, numpy's ValueError)
    save_model(model, tmp_path / "model.skops")
    validated_frame(300, seed=4).to_parquet(tmp_path / "test.parquet")
    args = ["--model", "model.skops", "--test", "test.parquet", "--metrics", "m/metrics.json"]
    args += ["--inference", "m/inference.json", "--plots", "plots"]
    params = {"schema": SCHEMA_SECTION, "evaluate": {**SECTION, "calibration_bins": bins}}
    failed = run_stage("evaluate", args, tmp_path, params)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith(f"evaluate: error: {says}")
    assert last.endswith("a params value or the data is too large here")
    assert not (tmp_path / "m/metrics.json").exists() and not (tmp_path / "plots").exists()
