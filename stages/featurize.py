"""featurize: fit the feature transformer on the training split only, apply it to every split.

Features stay one column per input column so that every model family and the importance
report speak about the same names: numeric columns are imputed (fitted medians),
categorical columns become integer codes over the categories the data contract declares
(`schema.categorical.*.values`), with categories rarer than `min_category_frequency` in
training folded into one infrequent code and missing/unknown values left as NaN. Model
families add what they need on top (one-hot and scaling for logistic regression, native
categorical splits for gradient boosting; see stages/train.py).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OrdinalEncoder

from stages.common import (
    PARAMS_FILE,
    Progress,
    StageError,
    removed_on_failure,
    run_stage,
    writing,
)
from stages.modelio import save_model
from stages.params import FeaturizeParams, SchemaParams, load
from stages.splits import read_split, require_columns, require_labels, require_types

SECTION = "featurize"
NUMERIC = "numeric"
CATEGORICAL = "categorical"


def feature_columns(schema: SchemaParams, params: FeaturizeParams) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature columns: the schema's, minus `featurize.drop`."""
    drop = params.drop
    numeric = list(schema.numeric)
    categorical = list(schema.categorical)
    unknown = sorted(set(drop) - set(numeric) - set(categorical))
    if unknown:
        raise StageError(
            f"{PARAMS_FILE}: 'featurize.drop' names unknown column(s) {', '.join(unknown)} "
            "(expected columns of schema.numeric or schema.categorical)"
        )
    return (
        [c for c in numeric if c not in drop],
        [c for c in categorical if c not in drop],
    )


def build_featurizer(schema: SchemaParams, params: FeaturizeParams) -> ColumnTransformer:
    """An unfitted transformer; column order is numeric then categorical, names unchanged.

    It returns a float array, not a DataFrame: it is the first step of the saved inference
    pipeline, and building a frame (then taking it apart again in the classifier) was a
    third of a single-row prediction's time. `transform` names the columns for the stage's
    parquet outputs (`get_feature_names_out`).
    """
    numeric, categorical = feature_columns(schema, params)
    if not numeric and not categorical:
        raise StageError(f"{PARAMS_FILE}: 'featurize.drop' leaves no feature column")
    min_frequency = params.min_category_frequency
    encoder = OrdinalEncoder(
        # the categories the data contract declares (validate checks them too)
        categories=[list(schema.categorical[column].values) for column in categorical],
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        min_frequency=min_frequency if min_frequency > 1 else None,
        dtype=np.float64,
    )
    transformer = ColumnTransformer(
        [
            (
                NUMERIC,
                SimpleImputer(strategy=params.numeric_impute, keep_empty_features=True),
                numeric,
            ),
            (CATEGORICAL, encoder, categorical),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    )
    return transformer.set_output(transform="default")


def feature_groups(featurizer: ColumnTransformer) -> tuple[list[str], list[str]]:
    """(numeric, categorical) output column names of a fitted featurizer."""
    groups = {name: list(columns) for name, _, columns in featurizer.transformers_}
    return groups.get(NUMERIC, []), groups.get(CATEGORICAL, [])


def fit_featurizer(
    train: pd.DataFrame,
    schema: SchemaParams,
    params: FeaturizeParams,
    source: str = "train split",
) -> ColumnTransformer:
    featurizer = build_featurizer(schema, params)
    numeric, categorical = feature_columns(schema, params)
    require_columns(train, numeric + categorical, source)
    require_types(train, numeric, categorical, source)
    if train.empty:
        raise StageError(f"{source}: no rows to fit the featurizer on")
    # fit on the feature columns only: the saved model then asks for nothing else (no target)
    return featurizer.fit(train[numeric + categorical])


def labels(frame: pd.DataFrame, schema: SchemaParams, source: str = "split") -> pd.Series | None:
    """The target as 0/1 (1 = schema.positive_label), or None when the split has no target.

    Only the current batch may have rows without a label (validate allows it): those stay
    missing (the column is then float), never a silent 0.
    """
    target = schema.target
    if target not in frame.columns:
        return None
    require_labels(frame[target], list(schema.labels), source)
    known = frame[target].notna()
    positive = (frame[target] == schema.positive_label).fillna(False)
    coded = positive.astype("int8").rename(target)
    return coded if known.all() else coded.where(known)


def transform(
    featurizer: ColumnTransformer,
    frame: pd.DataFrame,
    schema: SchemaParams,
    source: str = "split",
) -> pd.DataFrame:
    """Features of `frame` (plus the 0/1 target when it has one), index reset."""
    require_columns(frame, list(featurizer.feature_names_in_), source)
    require_types(frame, *feature_groups(featurizer), source)
    features = pd.DataFrame(
        featurizer.transform(frame[featurizer.feature_names_in_]),
        columns=featurizer.get_feature_names_out(),
    )
    target = labels(frame, schema, source)
    if target is not None:
        features[target.name] = target.to_numpy()
    return features


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m stages.featurize")
    parser.add_argument("--inputs", nargs=3, required=True, metavar=("TRAIN", "TEST", "CURRENT"))
    parser.add_argument("--outputs", nargs=3, required=True, metavar=("TRAIN", "TEST", "CURRENT"))
    parser.add_argument("--featurizer", required=True)
    args = parser.parse_args(argv)
    outputs = [*args.outputs, args.featurizer]
    progress = Progress(SECTION)
    with removed_on_failure(outputs):
        schema, params = load(SchemaParams), load(FeaturizeParams)
        build_featurizer(schema, params)  # bad params fail before any data is read
        train = read_split(args.inputs[0])
        progress(f"fitting on {len(train)} training rows")
        featurizer = fit_featurizer(train, schema, params, args.inputs[0])
        for source, target in zip(args.inputs, args.outputs, strict=True):
            frame = train if source == args.inputs[0] else read_split(source)
            features = transform(featurizer, frame, schema, source)
            with writing(target) as written:
                features.to_parquet(written, index=False)
            progress(f"wrote {len(features)} rows x {features.shape[1]} columns to {target}")
        save_model(featurizer, args.featurizer)


if __name__ == "__main__":
    run_stage(SECTION, main)
