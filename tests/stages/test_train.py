import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

from stages.common import StageError
from stages.featurize import fit_featurizer, transform
from stages.modelio import dumps_model, save_model
from stages.train import build_classifier, fit_model
from tests.stages.modelling_data import (
    FEATURIZE_PARAMS,
    HGB_PARAMS,
    HGB_SECTION,
    LOGREG_PARAMS,
    LOGREG_SECTION,
    SCHEMA_SECTION,
    schema,
    train_params,
    validated_frame,
)
from tests.stages.stage_runner import run_stage


@pytest.fixture(scope="module")
def prepared():
    train = validated_frame(400)
    featurizer = fit_featurizer(train, schema(), FEATURIZE_PARAMS)
    return featurizer, transform(featurizer, train, schema())


@pytest.mark.parametrize("params", [HGB_PARAMS, LOGREG_PARAMS], ids=["hgb", "logreg"])
def test_each_family_learns_and_scores_validated_rows(prepared, params) -> None:
    featurizer, features = prepared
    before = features.copy()
    model = fit_model(featurizer, features, "income", params)
    assert features.equals(before)
    assert isinstance(model, Pipeline) and model.steps[0][1] is featurizer
    test = validated_frame(300, seed=1)
    proba = model.predict_proba(test.drop(columns="income"))[:, 1]
    assert roc_auc_score(test["income"] == ">50K", proba) > 0.85


@pytest.mark.parametrize("params", [HGB_PARAMS, LOGREG_PARAMS], ids=["hgb", "logreg"])
def test_classifier_takes_the_featurizers_array_without_warnings(prepared, params) -> None:
    # The featurizer hands the classifier a float array (a DataFrame between the two steps
    # doubled a single-row prediction's time): fitted on one, it must not warn about names.
    featurizer, features = prepared
    model = fit_model(featurizer, features, "income", params)
    one_row = validated_frame(5, seed=3).drop(columns="income").iloc[[0]]
    assert isinstance(featurizer.transform(one_row), np.ndarray)
    assert not hasattr(model[-1], "feature_names_in_")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert model.predict_proba(one_row).shape == (1, 2)


def test_monotonic_constraints_by_feature_name_reach_their_columns(prepared) -> None:
    featurizer, features = prepared  # columns: age, hours_per_week, sex, workclass
    hyper = {"max_iter": 20, "monotonic_cst": {"hours_per_week": 1, "age": -1}}
    params = train_params({**HGB_SECTION, "hist_gradient_boosting": hyper})
    model = fit_model(featurizer, features, "income", params)
    assert list(model[-1].monotonic_cst) == [-1, 1, 0, 0]
    older = validated_frame(50, seed=2).drop(columns="income").assign(age=90)
    younger = older.assign(age=20)
    assert (model.predict_proba(older)[:, 1] <= model.predict_proba(younger)[:, 1]).all()


def test_hyperparameters_and_seed_reach_the_estimator() -> None:
    params = train_params(
        {**HGB_SECTION, "hist_gradient_boosting": {"learning_rate": 0.3, "max_iter": 5}}
    )
    classifier = build_classifier(params, ["age"], ["sex"])
    assert isinstance(classifier, HistGradientBoostingClassifier)
    assert (classifier.learning_rate, classifier.max_iter) == (0.3, 5)
    assert classifier.random_state == 7 and classifier.categorical_features == [1]  # position


def test_same_params_same_model_bytes(prepared) -> None:
    featurizer, features = prepared
    first = dumps_model(fit_model(featurizer, features, "income", HGB_PARAMS))
    second = dumps_model(fit_model(featurizer, features, "income", HGB_PARAMS))
    assert first == second
    changed = train_params(
        {**HGB_SECTION, "hist_gradient_boosting": {"max_iter": 21, "early_stopping": False}}
    )
    assert dumps_model(fit_model(featurizer, features, "income", changed)) != first


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({**HGB_SECTION, "model": "random_forest"}, r"'train.model' must be one of hist_grad"),
        ({**HGB_SECTION, "model": 3}, r"'train.model' must be str"),
        ({**HGB_SECTION, "seed": "x"}, r"'train.seed' must be int"),
        ({**HGB_SECTION, "seed": True}, r"'train.seed' must be int"),
        ({**HGB_SECTION, "seed": -1}, r"'train.seed' must be within \[0, 4294967295\], got -1"),
        (
            {**HGB_SECTION, "hist_gradient_boosting": {"max_iter": True}},
            r"'train.hist_gradient_boosting.max_iter' must be a number, got True",
        ),
        (  # an unknown key is named as unknown first, whatever its value
            {**HGB_SECTION, "hist_gradient_boosting": {"foo": True}},
            r"'train.hist_gradient_boosting' has unknown hyperparameter\(s\) foo",
        ),
        ({**HGB_SECTION, "hist_gradient_boosting": [1]}, r"'train.hist_gradient_boosting' must"),
        ({**HGB_SECTION, "hist_gradient_boosting": 0}, r"'train.hist_gradient_boosting' must"),
        ({**HGB_SECTION, "hist_gradient_boosting": []}, r"'train.hist_gradient_boosting' must"),
        (
            {**HGB_SECTION, "hist_gradient_boosting": {"learnin_rate": 0.1}},
            r"'train.hist_gradient_boosting' has unknown hyperparameter\(s\) learnin_rate",
        ),
        (
            {**LOGREG_SECTION, "logistic_regression": {"random_state": 1}},
            r"'train.logistic_regression.random_state': set 'train.seed' instead",
        ),
        (
            {**HGB_SECTION, "hist_gradient_boosting": {"categorical_features": "from_dtype"}},
            r"'train.hist_gradient_boosting.categorical_features' is set by the pipeline",
        ),
    ],
)
def test_invalid_params_name_the_key(params, message) -> None:
    with pytest.raises(StageError, match=message):
        build_classifier(train_params(params), ["age"], ["sex"])


def test_a_bool_is_taken_where_the_default_is_a_bool_or_a_word() -> None:
    hyper = {"early_stopping": True, "warm_start": False}  # defaults 'auto' and False
    params = train_params({**HGB_SECTION, "hist_gradient_boosting": hyper})
    build_classifier(params, ["age"], ["sex"])


def test_a_diverged_fit_is_a_params_error(prepared) -> None:
    """A step size near the float maximum fits without error but scores inf/NaN."""
    featurizer, features = prepared
    hyper = {"learning_rate": 1e308, "max_iter": 5}
    params = train_params({**HGB_SECTION, "hist_gradient_boosting": hyper})
    with pytest.raises(StageError, match=r"'train.hist_gradient_boosting': training diverged"):
        fit_model(featurizer, features, "income", params)


def test_invalid_hyperparameter_value_names_the_family(prepared) -> None:
    featurizer, features = prepared
    params = train_params({**HGB_SECTION, "hist_gradient_boosting": {"learning_rate": "fast"}})
    with pytest.raises(StageError, match=r"'train.hist_gradient_boosting': .*'learning_rate'"):
        fit_model(featurizer, features, "income", params)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        # values scikit-learn accepts one by one but rejects together, or only once fitting
        (
            {**LOGREG_SECTION, "logistic_regression": {"l1_ratio": 1}},
            r"'train.logistic_regression': Solver lbfgs supports only",
        ),
        (
            {**HGB_SECTION, "hist_gradient_boosting": {"monotonic_cst": {"nope": 1}}},
            r"'train.hist_gradient_boosting': monotonic_cst .*nope",
        ),
        (
            {
                **HGB_SECTION,
                "hist_gradient_boosting": {"early_stopping": True, "validation_fraction": 1e-5},
            },
            r"'train.hist_gradient_boosting': .*test_size",
        ),
    ],
)
def test_hyperparameters_rejected_while_fitting_name_the_family(prepared, params, message) -> None:
    featurizer, features = prepared
    with pytest.raises(StageError, match=message) as error:
        fit_model(featurizer, features, "income", train_params(params))
    assert "\n" not in str(error.value)


def test_single_class_or_missing_target_is_an_error(prepared) -> None:
    featurizer, features = prepared
    with pytest.raises(StageError, match=r"f.parquet: column 'income' has a single class"):
        fit_model(featurizer, features.assign(income=0), "income", HGB_PARAMS, "f.parquet")
    with pytest.raises(StageError, match=r"f.parquet: missing column\(s\) income"):
        fit_model(featurizer, features.drop(columns="income"), "income", HGB_PARAMS, "f.parquet")


def _stage_inputs(prepared, tmp_path: Path, model: str) -> list[str]:
    """The train stage's files written to `tmp_path`, and its arguments writing `model`."""
    featurizer, features = prepared
    features.to_parquet(tmp_path / "features.parquet")
    save_model(featurizer, tmp_path / "featurizer.skops")
    return ["--features", "features.parquet", "--featurizer", "featurizer.skops", "--model", model]


def test_main_trains_and_bad_params_leave_no_model(prepared, tmp_path: Path) -> None:
    args = _stage_inputs(prepared, tmp_path, "models/model.skops")
    ok = run_stage("train", args, tmp_path, {"schema": SCHEMA_SECTION, "train": LOGREG_SECTION})
    assert ok.returncode == 0, ok.stderr
    assert "training logistic_regression on 400 rows" in ok.stderr
    assert (tmp_path / "models/model.skops").exists()
    bad = {**HGB_SECTION, "hist_gradient_boosting": {"max_iter": -1}}
    failed = run_stage("train", args, tmp_path, {"schema": SCHEMA_SECTION, "train": bad})
    assert failed.returncode == 1
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith("train: error: params.yaml: 'train.hist_gradient_boosting': ")
    assert "max_iter" in last and "Traceback" not in failed.stderr
    assert not (tmp_path / "models/model.skops").exists()


def test_library_warnings_are_one_line_each(prepared, tmp_path: Path) -> None:
    args = _stage_inputs(prepared, tmp_path, "model.skops")
    params = {**LOGREG_SECTION, "logistic_regression": {"max_iter": 1}}  # cannot converge
    done = run_stage("train", args, tmp_path, {"schema": SCHEMA_SECTION, "train": params})
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if "ConvergenceWarning" in line]
    assert len(warned) == 1 and warned[0].startswith("train: warning: ConvergenceWarning: ")
    assert "warnings.warn" not in done.stderr and ".py:" not in done.stderr


def test_model_bytes_do_not_depend_on_the_thread_count(prepared, tmp_path: Path) -> None:
    # Gradient boosting's binner stores the OpenMP thread count it was fitted with, so an
    # unpinned train stage writes other bytes (another md5 in dvc.lock) on another machine.
    models = []
    for threads in ("1", "2"):
        args = _stage_inputs(prepared, tmp_path, f"model-{threads}.skops")
        params = {"schema": SCHEMA_SECTION, "train": HGB_SECTION}
        done = run_stage("train", args, tmp_path, params, env={"OMP_NUM_THREADS": threads})
        assert done.returncode == 0, done.stderr
        models.append((tmp_path / f"model-{threads}.skops").read_bytes())
    assert models[0] == models[1]


def test_the_families_train_model_takes_are_the_ones_train_builds() -> None:
    from stages.params import TRAIN_FAMILIES
    from stages.train import FAMILIES

    assert tuple(FAMILIES) == TRAIN_FAMILIES


def test_an_unknown_key_in_the_train_section_is_refused() -> None:
    # a family's name misspelt used to be ignored: the estimator's defaults trained silently
    with pytest.raises(StageError, match=r"unknown key\(s\) \['hist_gradient_boost'\] in 'train'"):
        train_params({**HGB_SECTION, "hist_gradient_boost": {"max_iter": 5}})
