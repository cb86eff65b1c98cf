import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stages.common import StageError
from stages.drift import categorical_drift, drift_report, numeric_drift, psi
from stages.params import DriftParams, parse
from tests.stages.modelling_data import SCHEMA_SECTION, schema, validated_frame
from tests.stages.stage_runner import run_stage

SECTION = {"p_value": 0.01, "psi": 0.1, "psi_bins": 10}
PARAMS = parse(DriftParams, SECTION)


def test_psi_of_known_counts() -> None:
    assert psi(np.array([50, 50]), np.array([5, 5])) == 0.0
    expected = (0.9 - 0.5) * np.log(0.9 / 0.5) + (0.1 - 0.5) * np.log(0.1 / 0.5)
    assert psi(np.array([50, 50]), np.array([90, 10])) == pytest.approx(expected)
    assert np.isfinite(psi(np.array([10, 0]), np.array([0, 10])))  # empty bins are floored


def test_same_distribution_does_not_drift() -> None:
    reference, current = validated_frame(2000, seed=1), validated_frame(1000, seed=2)
    before = reference.copy()
    report = drift_report(reference, current, schema(), PARAMS)
    pd.testing.assert_frame_equal(reference, before)
    assert report["n_columns"] == 4 and report["n_drifted"] == 0
    assert report["share_drifted"] == 0.0
    assert set(report["columns"]["age"]) == {"statistic", "p_value", "psi", "drifted"}


def test_shifted_numeric_and_categorical_columns_drift() -> None:
    reference = validated_frame(2000, seed=1)
    current = validated_frame(1000, seed=2)
    current = current.assign(
        age=current["age"] + 15,
        sex=pd.array(["Female"] * 900 + ["Male"] * 100, dtype="string"),
    )
    report = drift_report(reference, current, schema(), PARAMS, ("ref.parquet", "cur.parquet"))
    drifted = {name for name, column in report["columns"].items() if column["drifted"]}
    assert drifted == {"age", "sex"}
    assert report["n_drifted"] == 2 and report["share_drifted"] == 0.5


def test_significant_but_negligible_shift_is_not_drift() -> None:
    rng = np.random.default_rng(0)
    reference = pd.Series(rng.normal(0, 1, 200_000), name="x")
    current = pd.Series(rng.normal(0.03, 1, 200_000), name="x")
    result = numeric_drift(reference, current, 10)
    assert result["p_value"] < 0.01 and result["psi"] < 0.1  # the AND rule keeps it quiet


def test_categorical_handles_new_and_missing_categories() -> None:
    reference = pd.Series(["a"] * 50 + ["b"] * 50, dtype="string")
    current = pd.Series(["a"] * 40 + [None] * 30 + ["c"] * 30, dtype="string")
    result = categorical_drift(reference, current)
    assert result["p_value"] < 1e-6 and result["psi"] > 1
    same = categorical_drift(pd.Series(["a"] * 5), pd.Series(["a"] * 7))
    assert same == {"statistic": 0.0, "p_value": 1.0, "psi": 0.0}


def test_missing_column_names_the_file() -> None:
    current = validated_frame(50).drop(columns="sex")
    with pytest.raises(StageError, match=r"cur.parquet: missing column\(s\) sex"):
        drift_report(validated_frame(50), current, schema(), PARAMS, ("ref.parquet", "cur.parquet"))


def test_empty_numeric_column_names_both_files() -> None:
    current = validated_frame(50).assign(age=np.nan)
    with pytest.raises(StageError, match=r"cur.parquet vs ref.parquet: column 'age': no values"):
        drift_report(validated_frame(50), current, schema(), PARAMS, ("ref.parquet", "cur.parquet"))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"p_value": 0}, r"'drift.p_value' must be in \(0, 1\)"),
        ({"psi": -1}, r"'drift.psi' must be >= 0"),
        # NaN compares false: drift would never be flagged; a huge int overflowed
        ({"psi": float("nan")}, r"'drift.psi' must be a finite number, got nan"),
        ({"p_value": 10**400}, r"'drift.p_value' is too large \(an integer of 1329 bits"),
        ({"psi_bins": 2**64}, r"'drift.psi_bins' is too large"),
        ({"psi_bins": 1.5}, r"'drift.psi_bins' must be int"),
        ({"psi_bins": 1}, r"'drift.psi_bins' must be >= 2"),
    ],
)
def test_invalid_params_name_the_key(override, message) -> None:
    with pytest.raises(StageError, match=message):
        parse(DriftParams, {**SECTION, **override})


def test_main_writes_the_drift_metrics(tmp_path: Path) -> None:
    validated_frame(500, seed=1).to_parquet(tmp_path / "ref.parquet")
    validated_frame(300, seed=2, with_target=False).to_parquet(tmp_path / "cur.parquet")
    args = ["--reference", "ref.parquet", "--current", "cur.parquet", "--metrics", "drift.json"]
    result = run_stage("drift", args, tmp_path, {"schema": SCHEMA_SECTION, "drift": SECTION})
    assert result.returncode == 0, result.stderr
    assert "0 of 4 columns drifted" in result.stderr
    assert json.loads((tmp_path / "drift.json").read_text())["n_columns"] == 4
    bad = {"schema": SCHEMA_SECTION, "drift": {**SECTION, "psi": "big"}}
    failed = run_stage("drift", args, tmp_path, bad)
    assert failed.returncode == 1 and not (tmp_path / "drift.json").exists()
    assert failed.stderr.strip().splitlines() == [
        "drift: error: params.yaml: 'drift.psi' must be int or float, got str 'big'"
    ]
