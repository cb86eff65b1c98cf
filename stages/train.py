"""train: fit the model family chosen in params.yaml on the training features.

`train.model` picks the family; its hyperparameters are the mapping of the same name in
`train` and go to the scikit-learn estimator unchanged (the estimator validates them; an
error names the params key). The saved model (`models/model.skops`) is the whole inference
pipeline: the fitted featurizer followed by the classifier, so it scores validated rows as
they are and is what a release ships.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from stages.common import PARAMS_FILE, Progress, StageError, removed_on_failure, run_stage
from stages.featurize import feature_groups
from stages.modelio import load_model, save_model
from stages.params import SchemaParams, TrainParams, load
from stages.splits import read_split, require_columns, require_types

SECTION = "train"
MISSING_CODE = -1.0  # the code logistic regression's one-hot gives to a missing category


def _positions(numeric: list[str], categorical: list[str]) -> tuple[list[int], list[int]]:
    """Where the numeric and the categorical columns are in the featurizer's output array."""
    return list(range(len(numeric))), list(range(len(numeric), len(numeric) + len(categorical)))


def _monotonic_by_position(constraints: Mapping[str, Any], features: list[str]) -> list[Any]:
    """`monotonic_cst` given by feature name, as the per-column list an array-fed model takes."""
    unknown = sorted(set(map(str, constraints)) - set(features))
    if unknown:
        raise StageError(
            f"{PARAMS_FILE}: 'train.hist_gradient_boosting': monotonic_cst names unknown "
            f"feature(s) {', '.join(unknown)} (features: {', '.join(features)})"
        )
    return [constraints.get(name, 0) for name in features]


def _gradient_boosting(
    numeric: list[str], categorical: list[str], seed: int, hyper: Mapping[str, Any]
) -> BaseEstimator:
    # Codes are categories: split on them natively instead of ordering them. The model is
    # fed the featurizer's array, so columns are marked by position (names would need a
    # DataFrame, whose column bookkeeping doubled the cost of a single-row prediction).
    hyper = dict(hyper)
    if isinstance(hyper.get("monotonic_cst"), Mapping):
        hyper["monotonic_cst"] = _monotonic_by_position(
            hyper["monotonic_cst"], numeric + categorical
        )
    return HistGradientBoostingClassifier(
        categorical_features=_positions(numeric, categorical)[1] or None,
        random_state=seed,
        **hyper,
    )


def _logistic_regression(
    numeric: list[str], categorical: list[str], seed: int, hyper: Mapping[str, Any]
) -> BaseEstimator:
    numeric_at, categorical_at = _positions(numeric, categorical)
    encode = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CODE)),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    columns = ColumnTransformer(
        [("scale", StandardScaler(), numeric_at), ("onehot", encode, categorical_at)],
        remainder="drop",
    )
    return Pipeline(
        [("columns", columns), ("classifier", LogisticRegression(random_state=seed, **hyper))]
    )


# the names train.model takes (stages.params.TRAIN_FAMILIES)
FAMILIES: dict[str, Callable[[list[str], list[str], int, Mapping[str, Any]], BaseEstimator]] = {
    "hist_gradient_boosting": _gradient_boosting,
    "logistic_regression": _logistic_regression,
}


def _final_estimator(estimator: BaseEstimator) -> BaseEstimator:
    return estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator


def build_classifier(
    params: TrainParams, numeric: list[str], categorical: list[str]
) -> BaseEstimator:
    """The unfitted classifier `params` describe, or a StageError naming the bad key."""
    family, seed, hyper = params.model, params.seed, params.hyperparameters
    classifier = FAMILIES[family](numeric, categorical, seed, {})
    accepted = _final_estimator(classifier).get_params(deep=False)
    unknown = sorted(set(hyper) - set(accepted) - {"random_state"})
    if "random_state" in hyper:
        raise StageError(f"{PARAMS_FILE}: 'train.{family}.random_state': set 'train.seed' instead")
    if "categorical_features" in hyper:
        raise StageError(
            f"{PARAMS_FILE}: 'train.{family}.categorical_features' is set by the pipeline "
            "(the data contract's categorical columns)"
        )
    if unknown:
        raise StageError(
            f"{PARAMS_FILE}: 'train.{family}' has unknown hyperparameter(s) {', '.join(unknown)}"
        )
    for key, value in hyper.items():
        # scikit-learn counts true as 1 (max_iter: true trained one tree); a bool is taken
        # only where the estimator's default is a bool or a word ('auto')
        if isinstance(value, bool) and not isinstance(accepted.get(key), (bool, str)):
            raise StageError(f"{PARAMS_FILE}: 'train.{family}.{key}' must be a number, got {value}")
    return FAMILIES[family](numeric, categorical, seed, hyper)


def fit_model(
    featurizer: ColumnTransformer,
    features: pd.DataFrame,
    target: str,
    params: TrainParams,
    source: str = "train features",
) -> Pipeline:
    """The inference pipeline (featurizer, then the classifier fitted on `features`).

    The classifier is fitted on the feature columns as one float array, in the featurizer's
    output order, since that is what the featurizer hands it at inference time.

    The data reaching here is validated and featurized, so what scikit-learn rejects while
    fitting is the hyperparameters (a value out of range, or values that do not go together,
    like an l1 penalty with the lbfgs solver): a StageError naming the family's params.
    """
    numeric, categorical = feature_groups(featurizer)
    classifier = build_classifier(params, numeric, categorical)
    require_columns(features, [*numeric, *categorical, target], source)
    require_types(features, [*numeric, *categorical], [], source)
    X, y = features[numeric + categorical].to_numpy(dtype=np.float64), features[target]
    unlabelled = ~y.isin([0, 1])  # featurize codes the target 0/1; NaN: no label
    if unlabelled.any():
        row = int(np.flatnonzero(unlabelled.to_numpy())[0])
        raise StageError(
            f"{source}: column '{target}' holds {y.iloc[row]} at row {row + 1}, "
            "expected 0 or 1 (featurize's coding of the labels)"
        )
    if y.nunique() < 2:
        raise StageError(f"{source}: column '{target}' has a single class; cannot train")
    try:
        classifier.fit(X, y)
    # incl. scikit-learn's InvalidParameterError; ArithmeticError: a value its checks let
    # through may still overflow in Python arithmetic while fitting
    except (ValueError, TypeError, ArithmeticError) as exc:
        message = " ".join(str(exc).split())
        raise StageError(f"{PARAMS_FILE}: 'train.{params.model}': {message}") from exc
    # A step size near the float maximum fits without an error and scores inf/NaN: that
    # model must not reach evaluate (or a release) looking trained.
    if not np.isfinite(classifier.decision_function(X[:1000])).all():
        raise StageError(
            f"{PARAMS_FILE}: 'train.{params.model}': training diverged (the model's scores "
            "are not finite numbers); lower the step size (learning_rate)"
        )
    return Pipeline([("features", featurizer), ("classifier", classifier)])


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m stages.train")
    parser.add_argument("--features", required=True)
    parser.add_argument("--featurizer", required=True)
    parser.add_argument("--model", required=True)
    args = parser.parse_args(argv)
    progress = Progress(SECTION)
    with removed_on_failure([args.model]):
        schema, params = load(SchemaParams), load(TrainParams)
        features = read_split(args.features)
        progress(f"training {params.model} on {len(features)} rows")
        featurizer = load_model(args.featurizer)
        # One OpenMP thread, whatever the machine: the gradient boosting's binner stores its
        # thread count in the model, so another count gives other bytes (and another md5 in
        # dvc.lock; predictions are identical, checked); and on a shared 2-core runner a
        # thread team made training ~3x slower.
        with threadpool_limits(1):
            model = fit_model(featurizer, features, schema.target, params, args.features)
        size = save_model(model, args.model)
    progress(f"wrote {args.model} ({size} bytes)")


if __name__ == "__main__":
    run_stage(SECTION, main)
