"""Small, learnable frames for the featurize/train/evaluate/drift unit tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from stages.params import FeaturizeParams, SchemaParams, TrainParams, parse
from tests.stages.conftest import SCHEMA_PARAMS

# params.yaml sections as written; `featurize_params()` and friends check them as a stage does
FEATURIZE_SECTION: dict[str, Any] = {
    "drop": [],
    "numeric_impute": "median",
    "min_category_frequency": 1,
}
HGB_SECTION: dict[str, Any] = {
    "model": "hist_gradient_boosting",
    "seed": 7,
    "hist_gradient_boosting": {"max_iter": 20, "early_stopping": False},
}
LOGREG_SECTION: dict[str, Any] = {
    "model": "logistic_regression",
    "seed": 7,
    "logistic_regression": {"C": 1.0, "max_iter": 200},
}


def featurize_params(**changes: Any) -> FeaturizeParams:
    return parse(FeaturizeParams, {**FEATURIZE_SECTION, **changes})


def train_params(section: dict[str, Any]) -> TrainParams:
    return parse(TrainParams, section)


FEATURIZE_PARAMS = featurize_params()
HGB_PARAMS = train_params(HGB_SECTION)
LOGREG_PARAMS = train_params(LOGREG_SECTION)
SCHEMA_SECTION: dict[str, Any] = {**SCHEMA_PARAMS, "sensitive": ["sex"]}


def schema(**changes: Any) -> SchemaParams:
    return parse(SchemaParams, {**SCHEMA_SECTION, **changes})


def validated_frame(rows: int = 300, seed: int = 0, with_target: bool = True) -> pd.DataFrame:
    """Rows shaped like the validate stage's output; income depends on age, hours and sex."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, rows).astype("float64")
    hours = rng.integers(10, 80, rows).astype("float64")
    sex = rng.choice(["Female", "Male"], rows)
    workclass = pd.array(rng.choice(["Private", "State-gov", None], rows), dtype="string")
    score = (age - 45) / 10 + (hours - 40) / 10 + (sex == "Male") + rng.normal(0, 0.5, rows)
    frame = pd.DataFrame(
        {
            "age": age,
            "hours_per_week": hours,
            "sex": pd.array(sex, dtype="string"),
            "workclass": workclass,
        }
    )
    if with_target:
        frame["income"] = pd.array(np.where(score > 0.5, ">50K", "<=50K"), dtype="string")
    return frame
