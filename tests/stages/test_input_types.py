"""Splits a stage reads come from validate; a file made or edited by hand with the wrong types
must give the stage's one-line error naming the file, column and row, not a traceback from
deep inside scikit-learn or scipy (or, worse, a silent wrong number)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stages.common import StageError
from stages.drift import drift_report
from stages.evaluate import evaluate, split_target
from stages.featurize import fit_featurizer, transform
from stages.params import DriftParams, EvaluateParams, parse
from stages.train import fit_model
from tests.stages.modelling_data import (
    FEATURIZE_PARAMS,
    HGB_PARAMS,
    schema,
    validated_frame,
)

DRIFT = parse(DriftParams, {"p_value": 0.01, "psi": 0.1, "psi_bins": 10})
EVALUATE_SECTION = {
    "threshold": 0.5,
    "seed": 3,
    "importance_rows": 100,
    "importance_repeats": 1,
    "importance_top": 2,
    "curve_points": 11,
    "calibration_bins": 5,
    "latency_rows": 2,
    "batch_repeats": 1,
}
EVALUATE = parse(EvaluateParams, EVALUATE_SECTION)


def with_column(frame: pd.DataFrame, column: str, values: object) -> pd.DataFrame:
    changed = frame.copy()
    changed[column] = values
    return changed


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("age", "old", "column 'age' has type str, expected numbers"),
        ("age", True, "column 'age' has type bool, expected numbers"),
        ("age", pd.Timestamp("2020-01-01"), "column 'age' has type datetime64"),
        ("sex", 1, "column 'sex' holds int64 '1' at row 1, expected text"),
    ],
)
def test_wrong_types_are_named_by_every_stage_reading_the_split(
    column: str, values: object, message: str
) -> None:
    good = validated_frame(200)
    bad = with_column(good, column, values)
    with pytest.raises(StageError, match=f"bad.parquet: {message}"):
        fit_featurizer(bad, schema(), FEATURIZE_PARAMS, "bad.parquet")
    featurizer = fit_featurizer(good, schema(), FEATURIZE_PARAMS)
    with pytest.raises(StageError, match=f"bad.parquet: {message}"):
        transform(featurizer, bad, schema(), "bad.parquet")
    with pytest.raises(StageError, match=f"bad.parquet: {message}"):
        drift_report(good, bad, schema(), DRIFT, ("good.parquet", "bad.parquet"))
    model = fit_model(featurizer, transform(featurizer, good, schema()), "income", HGB_PARAMS)
    with pytest.raises(StageError, match=f"bad.parquet: {message}"):
        evaluate(model, bad, schema(), EVALUATE, 0, "bad.parquet")


def test_an_infinite_number_names_its_row() -> None:
    good = validated_frame(50)
    bad = with_column(good, "age", good["age"].where(good.index != 3, np.inf))
    with pytest.raises(StageError, match="t.parquet: column 'age' is infinite at row 4"):
        drift_report(good, bad, schema(), DRIFT, ("r.parquet", "t.parquet"))


def test_a_target_train_cannot_use_names_its_row() -> None:
    train = validated_frame(200)
    featurizer = fit_featurizer(train, schema(), FEATURIZE_PARAMS)
    features = transform(featurizer, train, schema())
    features.loc[5, "income"] = np.nan
    with pytest.raises(StageError, match=r"f.parquet: column 'income' holds nan at row 6"):
        fit_model(featurizer, features, "income", HGB_PARAMS, "f.parquet")


def test_a_label_outside_the_schema_is_no_silent_negative() -> None:
    test = validated_frame(50)
    featurizer = fit_featurizer(test, schema(), FEATURIZE_PARAMS)
    test["income"] = test["income"].astype(object)
    test.loc[2, "income"] = "maybe"
    with pytest.raises(StageError, match=r"t.parquet: column 'income' holds 'maybe' at row 3"):
        split_target(test, schema(), "t.parquet")  # evaluate
    with pytest.raises(StageError, match=r"t.parquet: column 'income' holds 'maybe' at row 3"):
        transform(featurizer, test, schema(), "t.parquet")  # featurize, before coding it 0
