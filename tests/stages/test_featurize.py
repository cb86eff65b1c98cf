from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stages.common import StageError
from stages.featurize import build_featurizer, feature_groups, fit_featurizer, transform
from stages.params import FeaturizeParams, parse
from tests.stages.modelling_data import (
    FEATURIZE_PARAMS,
    FEATURIZE_SECTION,
    SCHEMA_SECTION,
    featurize_params,
    schema,
    validated_frame,
)
from tests.stages.stage_runner import run_stage


def frame(**columns):
    base = {
        "age": [20.0, 30.0, 40.0, 90.0],
        "hours_per_week": [40.0, 40.0, 50.0, 60.0],
        "sex": ["Male", "Female", "Male", "Male"],
        "workclass": ["Private", None, "State-gov", "Private"],
        "income": ["<=50K", ">50K", ">50K", "<=50K"],
    }
    return pd.DataFrame({**base, **columns}).astype(
        {"sex": "string", "workclass": "string", "income": "string"}
    )


def test_codes_follow_the_contract_and_missing_or_unknown_become_nan() -> None:
    train = frame()
    before = train.copy()
    featurizer = fit_featurizer(train, schema(), FEATURIZE_PARAMS)
    pd.testing.assert_frame_equal(train, before)  # input not mutated
    new = frame(sex=["Female", "Male", "Other", "Male"], workclass=["State-gov"] * 4)
    features = transform(featurizer, new, schema())
    # schema order: sex [Female, Male], workclass [Private, State-gov]
    assert features["sex"].tolist()[:2] == [0.0, 1.0] and np.isnan(features["sex"][2])
    assert features["workclass"].tolist() == [1.0] * 4
    assert np.isnan(transform(featurizer, train, schema())["workclass"][1])
    assert feature_groups(featurizer) == (["age", "hours_per_week"], ["sex", "workclass"])


def test_numeric_imputation_is_fitted_on_train_only() -> None:
    featurizer = fit_featurizer(frame(), schema(), FEATURIZE_PARAMS)
    test = frame(age=[np.nan, 1000.0, 1000.0, 1000.0])
    assert transform(featurizer, test, schema())["age"][0] == 35.0  # train median


def test_target_becomes_0_1_and_a_split_without_target_has_none() -> None:
    featurizer = fit_featurizer(frame(), schema(), FEATURIZE_PARAMS)
    features = transform(featurizer, frame(), schema())
    assert features["income"].tolist() == [0, 1, 1, 0]
    current = transform(featurizer, frame().drop(columns="income"), schema())
    assert "income" not in current.columns
    assert list(current.columns) == ["age", "hours_per_week", "sex", "workclass"]
    # a current batch with some labels unknown: unknown stays missing, not negative
    partly = transform(featurizer, frame(income=[">50K", None, None, "<=50K"]), schema())
    assert partly["income"].tolist()[::3] == [1, 0] and partly["income"][1:3].isna().all()


def test_drop_and_rare_category_folding() -> None:
    params = featurize_params(drop=["hours_per_week"], min_category_frequency=2)
    featurizer = fit_featurizer(frame(), schema(), params)
    features = transform(featurizer, frame(), schema())
    assert "hours_per_week" not in features.columns
    # State-gov occurs once in train: it shares the infrequent code with nothing else, but is
    # no longer its own category
    codes = features["workclass"]
    assert codes[0] == codes[3] and codes[2] != codes[0]
    assert len(featurizer.named_transformers_["categorical"].infrequent_categories_[1]) == 1


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"drop": ["salary"]}, r"'featurize.drop' names unknown column\(s\) salary"),
        ({"drop": "age"}, r"'featurize.drop' must be list"),
        ({"drop": ["age", "hours_per_week", "sex", "workclass"]}, "leaves no feature column"),
        ({"numeric_impute": "mode"}, r"'featurize.numeric_impute' must be one of median, mean"),
        ({"min_category_frequency": True}, r"'featurize.min_category_frequency' must be int"),
        ({"min_category_frequency": 0}, r"must be >= 1"),
    ],
)
def test_invalid_params_name_the_key(override, message) -> None:
    with pytest.raises(StageError, match=message):
        build_featurizer(schema(), featurize_params(**override))


def test_a_categorical_column_without_declared_values() -> None:
    # every stage reads the schema through its model: a stage run alone says so too
    categorical = SCHEMA_SECTION["categorical"]
    for spec in ({"nullable": True}, None):
        with pytest.raises(StageError, match=r"missing key 'schema.categorical.sex.values'"):
            schema(categorical={**categorical, "sex": spec})
    with pytest.raises(StageError, match=r"'schema.categorical.sex' must be a mapping, got bool"):
        schema(categorical={**categorical, "sex": False})


def test_missing_params_key_and_missing_column() -> None:
    with pytest.raises(StageError, match=r"missing key 'featurize.numeric_impute'"):
        parse(FeaturizeParams, {"drop": [], "min_category_frequency": 1})
    with pytest.raises(StageError, match=r"train.parquet: missing column\(s\) sex"):
        fit_featurizer(frame().drop(columns="sex"), schema(), FEATURIZE_PARAMS, "train.parquet")
    featurizer = fit_featurizer(frame(), schema(), FEATURIZE_PARAMS)
    with pytest.raises(StageError, match=r"test.parquet: missing column\(s\) age"):
        transform(featurizer, frame().drop(columns="age"), schema(), "test.parquet")


def write_splits(tmp_path: Path) -> list[str]:
    paths = []
    for name, with_target in (("train", True), ("test", True), ("current", False)):
        path = tmp_path / f"{name}.parquet"
        validated_frame(60, seed=len(paths), with_target=with_target).to_parquet(path)
        paths.append(path.name)
    return paths


def test_main_writes_features_and_featurizer(tmp_path: Path) -> None:
    inputs = write_splits(tmp_path)
    outputs = ["f/train.parquet", "f/test.parquet", "f/current.parquet"]
    params = {"schema": SCHEMA_SECTION, "featurize": FEATURIZE_SECTION}
    args = ["--inputs", *inputs, "--outputs", *outputs, "--featurizer", "m/featurizer.skops"]
    result = run_stage("featurize", args, tmp_path, params)
    assert result.returncode == 0, result.stderr
    assert "[featurize +" in result.stderr and "60 rows" in result.stderr
    assert pd.read_parquet(tmp_path / outputs[0]).shape == (60, 5)
    assert pd.read_parquet(tmp_path / outputs[2]).shape == (60, 4)
    assert (tmp_path / "m/featurizer.skops").stat().st_size > 0


def test_main_bad_params_one_line_no_outputs(tmp_path: Path) -> None:
    inputs = write_splits(tmp_path)
    outputs = ["f/train.parquet", "f/test.parquet", "f/current.parquet"]
    (tmp_path / "f").mkdir()
    (tmp_path / outputs[0]).write_bytes(b"stale output of an earlier run")
    params = {"schema": SCHEMA_SECTION, "featurize": {**FEATURIZE_SECTION, "numeric_impute": 3}}
    args = ["--inputs", *inputs, "--outputs", *outputs, "--featurizer", "featurizer.skops"]
    result = run_stage("featurize", args, tmp_path, params)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "featurize: error: params.yaml: 'featurize.numeric_impute' must be str, got int 3"
    ]
    assert not (tmp_path / outputs[0]).exists() and not (tmp_path / "featurizer.skops").exists()


def test_main_unreadable_input_names_the_file(tmp_path: Path) -> None:
    inputs = write_splits(tmp_path)
    (tmp_path / inputs[1]).write_text("age,sex\n1,Male\n")  # CSV, not parquet
    params = {"schema": SCHEMA_SECTION, "featurize": FEATURIZE_SECTION}
    args = ["--inputs", *inputs, "--outputs", "a.parquet", "b.parquet", "c.parquet"]
    result = run_stage("featurize", [*args, "--featurizer", "f.skops"], tmp_path, params)
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("featurize: error: test.parquet: not a readable parquet file")
    )
    assert not any((tmp_path / name).exists() for name in ("a.parquet", "f.skops"))
