"""The scale benchmark's data generator: same schema, N x the rows, within the contract."""

import importlib.util
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "make_synthetic", REPO / "benchmarks" / "make_synthetic.py"
)
assert _spec is not None and _spec.loader is not None
make_synthetic = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_synthetic)


def raw() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": ["17", "90", "45"],
            "fnlwgt": ["12285", "200000", "77516"],  # adult.data: min 12285
            "workclass": ["?", "Private", "State-gov"],
            "hours-per-week": ["1", "99", "40"],
            "income": ["<=50K.", ">50K.", "<=50K."],
        }
    )


def test_enlarge_multiplies_rows_within_the_contract() -> None:
    frame = raw()
    before = frame.copy()
    big = make_synthetic.enlarge(frame, 200, seed=1)
    pd.testing.assert_frame_equal(frame, before)  # input not mutated
    assert len(big) == 600 and list(big.columns) == list(frame.columns)
    age, hours = big["age"].astype(int), big["hours-per-week"].astype(int)
    assert age.between(17, 90).all() and hours.between(1, 99).all()
    assert (big["fnlwgt"].astype(int) >= 1).all()
    assert set(big["workclass"]) <= {"?", "Private", "State-gov"}  # raw markers kept
    assert set(big["income"]) <= {"<=50K.", ">50K."}
    assert big.duplicated().mean() < 0.05  # jitter keeps resampled rows apart


def test_enlarge_is_seeded() -> None:
    first = make_synthetic.enlarge(raw(), 10, seed=3)
    assert first.equals(make_synthetic.enlarge(raw(), 10, seed=3))
    assert not first.equals(make_synthetic.enlarge(raw(), 10, seed=4))
