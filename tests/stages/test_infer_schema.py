"""stages.infer_schema: the data contract inferred from data, on small frames with known
answers, and the round trip (its printed section, pasted into params.yaml, validates the
file it came from with no row quarantined)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from stages.common import StageError, read_yaml
from stages.infer_schema import infer_contract, numeric_bounds
from stages.ingest import ingest
from stages.params import IngestParams, SchemaParams, load, parse
from stages.paramsfile import replace_section
from stages.validate import validate_split
from tests.stages.conftest import limits
from tests.stages.stage_runner import run_stage


@pytest.fixture
def people() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [20, 30, 40, 25],
            "score": [0.5, 1.25, None, 0.75],
            "sex": ["Male", "Female", "Male", "Female"],
            "job": ["clerk", None, "smith", "clerk"],
            "label": [0, 1, 1, 0],
        }
    )


def test_infers_bounds_categories_nullability_and_a_0_1_label(people: pd.DataFrame) -> None:
    before = people.copy()
    contract = infer_contract(people, "label", sensitive=["sex"], margin=0.1)
    assert contract == {
        "target": "label",
        "labels": [0, 1],
        "positive_label": 1,  # with 0/1 labels, 1 unless told
        "sensitive": ["sex"],
        "numeric": {
            "age": {"min": 18, "max": 42},  # [20, 40] widened by 2 on each side
            "score": {"min": 0.425, "max": 1.325, "nullable": True},
        },
        "categorical": {
            "sex": {"values": ["Female", "Male"]},
            "job": {"nullable": True, "values": ["clerk", "smith"]},
        },
    }
    pd.testing.assert_frame_equal(people, before)  # input not mutated


@pytest.mark.parametrize(
    ("low", "high", "margin", "whole", "expected"),
    [
        (0, 100, 0.1, True, {"min": 0, "max": 110}),  # no negative bound for counts
        (-5, 5, 0.1, True, {"min": -6, "max": 6}),
        (1, 1, 0.1, True, {"min": 1, "max": 1}),  # a constant column
        (0.1, 0.3, 0, False, {"min": 0.1, "max": 0.3}),  # margin 0: the observed range
        (0.123456, 0.987654, 0.05, False, {"min": 0.0802, "max": 1.0309}),  # 4 digits of 0.86
    ],
)
def test_numeric_bounds(
    low: float, high: float, margin: float, whole: bool, expected: dict[str, Any]
) -> None:
    bounds = numeric_bounds(low, high, margin, whole)
    assert bounds == expected
    assert bounds["min"] <= low and bounds["max"] >= high


def test_text_labels_put_the_positive_one_last(people: pd.DataFrame) -> None:
    worded = people.assign(label=["no", "yes", "yes", "no"])
    assert infer_contract(worded, "label")["labels"] == ["no", "yes"]
    coded = people.assign(label=["good", "bad", "bad", "good"])
    with pytest.raises(StageError, match=r"holds \['bad', 'good'\]: .* --positive-label"):
        infer_contract(coded, "label")
    contract = infer_contract(coded, "label", positive_label="bad")
    assert contract["labels"] == ["good", "bad"] and contract["positive_label"] == "bad"


@pytest.mark.parametrize(
    ("change", "options", "message"),
    [
        ({"label": [0, 1, 2, 0]}, {}, r"has 3 distinct values .*binary classifier"),
        ({"label": [0, 1, None, 0]}, {}, r"'label' \(the target\) is missing at row 3"),
        ({}, {"target": "income"}, r"no column 'income' \(the target\)"),
        ({}, {"sensitive": ["age"]}, r"--sensitive \['age'\]: not text"),
        ({}, {"positive_label": "2"}, r"--positive-label '2' is not a value of 'label'"),
        ({"job": [None] * 4}, {}, r"column 'job' has no value at all"),
        ({"sex": [True, False, True, False]}, {}, r"column 'sex' has type bool"),
        ({}, {"margin": -0.1}, r"--margin must be >= 0"),
        ({"score": [0.5, float("inf"), None, 1.0]}, {}, r"column 'score' holds an infinite"),
    ],
)
def test_what_cannot_be_inferred_is_said(
    people: pd.DataFrame, change: dict[str, Any], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(StageError, match=message):
        infer_contract(people.assign(**change), **{"target": "label", **options})


def test_replace_section_keeps_every_other_line() -> None:
    text = "# top\n\na: 1\n\n# about s\nschema:\n  old: 1\n  # inner\n\n# about b\nb: 2\n"
    assert replace_section(text, "schema", "schema:\n  new: 2\n") == (
        "# top\n\na: 1\n\nschema:\n  new: 2\n\n# about b\nb: 2\n"
    )
    assert replace_section("a: 1\n", "schema", "schema: {}\n") == "a: 1\n\nschema: {}\n"
    # a section written with its comment, written again: the comment is not repeated
    commented = "# inferred\nschema:\n  new: 2\n"
    once = replace_section(text, "schema", commented)
    assert replace_section(once, "schema", commented) == once
    assert once.count("# inferred") == 1 and "# about s" not in once


def breast_cancer_csv(path: Path) -> Path:
    """scikit-learn's packaged breast cancer data (569 rows, no network), with text labels."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    names = {0: "malignant", 1: "benign"}
    frame = frame.assign(target=frame["target"].map(names)).rename(columns={"target": "diagnosis"})
    frame.to_csv(path, index=True)  # with pandas' unnamed index column, as exports often are
    return path


INGEST = {
    "train_source": "data.csv",
    "test_source": "data.csv",
    "current_source": "data.csv",
    "header": True,
    "na_values": [],
    "encoding": "utf-8",
    "label_column": "diagnosis",
    "drop_columns": ["unnamed_0"],
}


def test_the_printed_section_validates_its_own_file(tmp_path: Path) -> None:
    breast_cancer_csv(tmp_path / "data.csv")
    options = ["--target", "diagnosis", "--positive-label", "malignant", "--margin", "0.05"]
    done = run_stage("infer_schema", options, tmp_path, {"ingest": INGEST})
    assert done.returncode == 0, done.stderr
    printed = done.stdout
    assert printed.startswith("# Inferred by stages.infer_schema from data.csv (569 rows)")
    # pasted into params.yaml, read as the stages read it
    params = tmp_path / "params.yaml"
    params.write_text(params.read_text(encoding="utf-8") + printed, encoding="utf-8")
    contract = load(SchemaParams, params)
    assert contract.labels == ("benign", "malignant") and contract.positive_label == "malignant"
    assert len(contract.numeric) == 30 and contract.categorical == {}
    frame = ingest(str(tmp_path / "data.csv"), load(IngestParams, params))
    result = validate_split(frame, contract, limits(), "train")
    assert result.error is None and result.report["quarantined_rows"] == 0


def test_write_replaces_the_schema_section(tmp_path: Path) -> None:
    breast_cancer_csv(tmp_path / "data.csv")
    old_schema = {"target": "x", "labels": [0, 1], "positive_label": 1, "numeric": {}}
    options = ["--target", "diagnosis", "--positive-label", "malignant", "--write"]
    done = run_stage("infer_schema", options, tmp_path, {"ingest": INGEST, "schema": old_schema})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and "wrote the schema: section of params.yaml" in done.stderr
    written = read_yaml((tmp_path / "params.yaml").read_text(encoding="utf-8"), "params.yaml")
    assert written["ingest"] == INGEST
    assert parse(SchemaParams, written["schema"]).target == "diagnosis"


def test_a_bad_target_is_one_error_line(tmp_path: Path) -> None:
    breast_cancer_csv(tmp_path / "data.csv")
    done = run_stage("infer_schema", ["--target", "nope"], tmp_path, {"ingest": INGEST})
    assert done.returncode == 1
    assert done.stderr.startswith("infer_schema: error: no column 'nope' (the target)")
    assert len(done.stderr.splitlines()) == 1


def test_the_contract_validates_the_frame_it_was_inferred_from(people: pd.DataFrame) -> None:
    for frame in (people, people.assign(label=["no", "yes", "yes", "no"])):
        contract = parse(SchemaParams, infer_contract(frame, "label", margin=0))
        result = validate_split(frame, contract, limits(min_rows=1), "train")
        assert result.error is None and result.report["quarantined_rows"] == 0


def test_make_infer_schema_passes_the_options_through(tmp_path: Path) -> None:
    """The `make infer-schema ...` line of docs/your-own-data.md, run with the repository's
    Makefile."""
    import os
    import subprocess
    import sys

    import yaml

    repo = Path(__file__).resolve().parents[2]
    breast_cancer_csv(tmp_path / "data.csv")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"ingest": INGEST}), encoding="utf-8")
    make = [
        "make",
        "--no-print-directory",
        "-f",
        str(repo / "Makefile"),
        f"VENV={Path(sys.executable).parent.parent}",
        "infer-schema",
        "TARGET=diagnosis",
        "POSITIVE=malignant",
        "MARGIN=0",
        "WRITE=1",
    ]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    done = subprocess.run(make, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    written = load(SchemaParams, tmp_path / "params.yaml")
    assert written.positive_label == "malignant"
    # margin 0: the observed 6.981, floored to 4 significant digits of the range (21.13)
    assert written.numeric["mean_radius"].min == 6.98
