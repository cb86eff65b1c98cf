"""Tiny in-memory data for the stage unit tests."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from stages.params import SchemaParams, ValidateParams, parse

SCHEMA_PARAMS: dict[str, Any] = {
    "target": "income",
    "labels": ["<=50K", ">50K"],
    "positive_label": ">50K",
    "sensitive": ["sex"],
    "numeric": {"age": {"min": 16, "max": 100}, "hours_per_week": {"min": 1, "max": 99}},
    "categorical": {
        "sex": {"values": ["Female", "Male"]},
        "workclass": {"nullable": True, "values": ["Private", "State-gov"]},
    },
}
VALIDATE_PARAMS: dict[str, Any] = {
    "min_rows": 3,
    "max_duplicate_share": 0.5,
    "max_quarantine_share": 0.25,
    "sample_failures": 2,
}


@pytest.fixture
def contract() -> SchemaParams:
    return parse(SchemaParams, SCHEMA_PARAMS)


def limits(**changes: Any) -> ValidateParams:
    """validate's params: VALIDATE_PARAMS with `changes`."""
    return parse(ValidateParams, {**VALIDATE_PARAMS, **changes})


@pytest.fixture
def good_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [25, 38, 52, 41],
            "hours_per_week": [40, 50, 45, 60],
            "sex": ["Male", "Female", "Male", "Female"],
            "workclass": ["Private", None, "State-gov", "Private"],
            "income": ["<=50K", ">50K", ">50K", "<=50K"],
        }
    )
