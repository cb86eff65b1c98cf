import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from stages.common import StageError
from stages.params import SchemaParams, ValidateParams, parse
from stages.validate import validate_split
from tests.stages.conftest import SCHEMA_PARAMS, VALIDATE_PARAMS, limits
from tests.stages.stage_runner import run_stage


def run(frame: pd.DataFrame, contract: SchemaParams, split: str = "train", share: float = 0.25):
    return validate_split(frame, contract, limits(max_quarantine_share=share), split)


def test_clean_data_passes_unchanged(good_frame: pd.DataFrame, contract: SchemaParams) -> None:
    before = good_frame.copy()
    result = run(good_frame, contract)
    assert result.error is None and result.report["passed"]
    assert result.report["valid_rows"] == 4 and result.quarantined.empty
    assert result.valid["age"].dtype == "float64"
    pd.testing.assert_frame_equal(good_frame, before)  # input not mutated


@pytest.mark.parametrize(
    ("column", "value", "check"),
    [
        ("age", 120, "age: less_than_or_equal_to(100.0)"),
        ("age", 3, "age: greater_than_or_equal_to(16.0)"),
        ("age", "abc", "age: numeric"),
        ("age", None, "age: not_nullable"),
        ("sex", "X", "sex: isin(['Female', 'Male'])"),
        ("sex", None, "sex: not_nullable"),
        ("income", ">50K.", "income: isin(['<=50K', '>50K'])"),
    ],
)
def test_row_failures_are_quarantined_below_the_threshold(
    good_frame: pd.DataFrame, contract: SchemaParams, column: str, value: Any, check: str
) -> None:
    frame = good_frame.astype({column: object})
    frame.loc[2, column] = value
    result = run(frame, contract)
    assert result.error is None
    assert result.report["failures"] == {check: 1}
    assert [sample["row"] for sample in result.report["samples"][check]] == [3]
    assert result.report["quarantined_rows"] == 1 and len(result.valid) == 3
    assert result.quarantined["failed_checks"].tolist() == [check]


def test_row_failures_above_the_threshold_fail_naming_row_and_column(
    good_frame: pd.DataFrame, contract: SchemaParams
) -> None:
    frame = good_frame.copy()
    frame.loc[[1, 3], "age"] = 200
    result = run(frame, contract)
    assert result.error is not None
    assert "2 of 4 rows (50.00%)" in result.error
    assert "row 2, age: less_than_or_equal_to(100.0), value '200.0'" in result.error
    assert not result.report["passed"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="sex"), "missing column 'sex'"),
        (lambda f: f.assign(extra=1), "unexpected column 'extra'"),
        (lambda f: f.rename(columns={"age": "agee"}), "missing column 'age'"),
        (lambda f: f.assign(age=["a", "b", "c", "d"]), "column 'age' has type"),
        (lambda f: f.assign(sex=[0, 1, 0, 1]), "column 'sex' has type int64, expected text"),
        # booleans and dates would convert to numbers silently (True -> 1, a date -> ns)
        (lambda f: f.assign(age=[True] * 4), "column 'age' has type bool, expected numeric"),
        (
            lambda f: f.assign(age=pd.to_datetime(["2020-01-01"] * 4)),
            "column 'age' has type datetime64",
        ),
        (lambda f: f.head(2), "2 valid rows, fewer than validate.min_rows=3"),
        (lambda f: pd.concat([f.head(1)] * 4, ignore_index=True), "duplicates"),
    ],
)
def test_schema_failures_fail_the_split(
    good_frame: pd.DataFrame, contract: SchemaParams, change: Any, message: str
) -> None:
    result = run(change(good_frame), contract)
    assert result.error is not None and message in result.error


def test_a_column_of_the_wrong_type_is_one_error(
    good_frame: pd.DataFrame, contract: SchemaParams
) -> None:
    result = run(good_frame.assign(age=["a", "b", "c", "d"]), contract)
    assert result.report["schema_errors"] == [
        "column 'age' has type str, expected numeric (row 1: 'a')"
    ]
    coded = run(good_frame.assign(sex=[0, 1, 0, 1]), contract)
    assert coded.report["schema_errors"] == ["column 'sex' has type int64, expected text"]
    assert coded.report["failures"] == {}  # not also four rows failing isin(...)


def test_min_rows_counts_the_rows_left_after_quarantine(
    good_frame: pd.DataFrame, contract: SchemaParams
) -> None:
    frame = good_frame.copy()
    frame.loc[[1, 3], "age"] = 200
    result = run(frame, contract, share=0.5)  # within the quarantine share, min_rows is 3
    assert result.error == "2 valid rows (2 quarantined), fewer than validate.min_rows=3"
    assert result.report["schema_errors"] == [result.error]


def test_current_batch_may_have_unknown_labels(
    good_frame: pd.DataFrame, contract: SchemaParams
) -> None:
    unlabelled = good_frame.assign(income=None)
    assert run(unlabelled, contract, split="current").error is None
    assert "not_nullable" in str(run(unlabelled, contract, split="test", share=0).error)
    mislabelled = good_frame.assign(income=["yes", None, None, None])
    current = run(mislabelled, contract, split="current")
    assert current.report["failures"] == {"income: isin(['<=50K', '>50K'])": 1}


def test_current_batch_may_come_without_target(
    good_frame: pd.DataFrame, contract: SchemaParams
) -> None:
    unlabeled = good_frame.drop(columns="income")
    assert run(unlabeled, contract, split="current").error is None
    assert "missing column 'income'" in str(run(unlabeled, contract, split="test").error)


@pytest.mark.parametrize(
    ("schema_change", "message"),
    [
        ({"numeric": {"age": {"min": 5, "max": 1}}}, "min 5.0 > max 1.0"),
        ({"numeric": {"age": {"minimum": 5}}}, "unknown key"),
        ({"numeric": {"age": {"min": "5"}}}, "'schema.numeric.age.min' must be int or float"),
        ({"numeric": {"age": {"max": float("nan")}}}, "'schema.numeric.age.max' must be a finite"),
        ({"numeric": {"age": {"min": 10**400}}}, "'schema.numeric.age.min' is too large"),
        ({"categorical": {"sex": {"nullable": True}}}, "missing key"),
        ({"positive_label": "yes"}, "'schema.positive_label'"),
        ({"sensitive": ["age"]}, "not categorical columns"),
        ({"labels": "yes"}, "'schema.labels' must be list"),
        ({"labels": [">50K"], "positive_label": ">50K"}, "two distinct classes"),
        ({"labels": [">50K", "<=50K", "<=50K"]}, r"'schema.labels' names \['<=50K'\] more"),
        ({"sensitive": ["sex", "sex"]}, r"'schema.sensitive' names \['sex'\] more than once"),
        ({"categorical": {"sex": {"values": ["Male", "Male"]}}}, r"values' repeats \['Male'\]"),
        ({"categorical": {"sex": {"values": []}}}, r"'schema.categorical.sex.values' is empty"),
        ({"categorical": {"sex": {"values": ["a"], "nullable": "no"}}}, "nullable' must be bool"),
        ({"numeric": {"age": False}}, "'schema.numeric.age' must be a mapping"),
        ({"numeric": {"sex": {"min": 0}}}, r"\['sex'\] both numeric and categorical"),
        ({"target": "sex"}, "'schema.target' 'sex' is also declared as a feature column"),
    ],
)
def test_invalid_schema_params(schema_change: dict[str, Any], message: str) -> None:
    with pytest.raises(StageError, match=message):
        parse(SchemaParams, {**SCHEMA_PARAMS, **schema_change})


def test_invalid_validate_params() -> None:
    with pytest.raises(StageError, match="'validate.min_rows' must be int"):
        limits(min_rows=1.5)
    with pytest.raises(StageError, match="'validate.max_duplicate_share' is too large"):
        limits(max_duplicate_share=10**400)
    with pytest.raises(StageError, match=r"'validate.min_rows' must be >= 1, got 0"):
        limits(min_rows=0)
    with pytest.raises(StageError, match=r"unknown key\(s\) \['min_row'\] in 'validate'"):
        parse(ValidateParams, {**VALIDATE_PARAMS, "min_row": 3})


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"max_quarantine_share": -0.1}, "'validate.max_quarantine_share' must be within [0, 1]"),
        ({"max_quarantine_share": 5}, "'validate.max_quarantine_share' must be within [0, 1]"),
        ({"sample_failures": -2}, "'validate.sample_failures' must be >= 0, got -2"),
    ],
)
def test_stage_rejects_out_of_range_params(
    tmp_path: Path, good_frame: pd.DataFrame, change: dict[str, Any], expected: str
) -> None:
    good_frame.to_parquet(tmp_path / "split.parquet")
    args = ["--inputs", *["split.parquet"] * 3, "--outputs", "a", "b", "c"]
    args += ["--quarantine", "q", "--report", "report.json"]
    params = {"schema": SCHEMA_PARAMS, "validate": {**VALIDATE_PARAMS, **change}}
    proc = run_stage("validate", args, tmp_path, params)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"validate: error: params.yaml: {expected}")


def test_stage_cli_writes_report_and_no_valid_output_on_failure(
    tmp_path: Path, good_frame: pd.DataFrame
) -> None:
    """The command itself: one-line error, exit 1, report written, no data that looks valid."""
    import yaml

    (tmp_path / "params.yaml").write_text(
        yaml.safe_dump({"schema": SCHEMA_PARAMS, "validate": VALIDATE_PARAMS})
    )
    inputs = []
    for split in ("train", "test", "current"):
        path = tmp_path / f"{split}.parquet"
        frame = good_frame.drop(columns="sex") if split == "test" else good_frame
        frame.to_parquet(path)
        inputs.append(str(path))
    outputs = [str(tmp_path / "out" / f"{s}.parquet") for s in ("train", "test", "current")]
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "stages.validate",
            "--inputs",
            *inputs,
            "--outputs",
            *outputs,
            "--quarantine",
            str(tmp_path / "q"),
            "--report",
            str(report),
        ],
        cwd=tmp_path,
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    error_lines = [line for line in proc.stderr.splitlines() if not line.startswith("[")]
    assert error_lines == [f"validate: error: {inputs[1]}: missing column 'sex' (report: {report})"]
    assert "Traceback" not in proc.stderr
    assert json.loads(report.read_text())["splits"]["test"]["passed"] is False
    assert not any(Path(p).exists() for p in outputs)


def test_errors_say_which_ingested_file_the_rows_are_from(
    tmp_path: Path, good_frame: pd.DataFrame
) -> None:
    # Row N of data/interim/<split>.parquet is data row N of the file ingest read: the
    # error names both, since only the second is the user's.
    from stages.splits import write_split

    bad = good_frame.copy()
    bad.loc[[1, 3], "age"] = 200
    for split, frame in (("train", bad), ("test", good_frame), ("current", good_frame)):
        write_split(frame, tmp_path / f"{split}.parquet", f"s3://key:secret@bucket/{split}.csv")
    args = ["--inputs", "train.parquet", "test.parquet", "current.parquet"]
    args += ["--outputs", "a", "b", "c", "--quarantine", "q", "--report", "report.json"]
    params = {"schema": SCHEMA_PARAMS, "validate": VALIDATE_PARAMS}
    proc = run_stage("validate", args, tmp_path, params)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "validate: error: train.parquet (rows of s3://bucket/train.csv): 2 of 4 rows"
    )
    assert "first: row 2" in last and "secret" not in proc.stderr


def test_a_huge_value_is_cut_short_in_the_report_and_the_error(
    good_frame: pd.DataFrame, contract: SchemaParams
) -> None:
    """A 1 MB field value must not make a 1 MB validation report (tracked in git) or error."""
    frame = good_frame.copy()
    frame.loc[0, "sex"] = "x" * 1_000_000
    result = run(frame, contract, share=0.0)
    assert result.error is not None and len(result.error) < 1000
    assert "(1,000,000 characters)" in result.error
    (samples,) = result.report["samples"].values()
    sample = samples[0]["value"]
    assert len(sample) < 300 and sample.endswith("(1,000,000 characters)")


CODED_SCHEMA: dict[str, Any] = {
    **SCHEMA_PARAMS,
    "labels": [0, 1],  # as a user with 0/1 labels writes them
    "positive_label": 1,
    "categorical": {
        "sex": {"values": ["Female", "Male"]},
        "workclass": {"nullable": True, "values": [1, 2]},
    },
}


def test_whole_number_labels_and_codes_in_the_data_are_read_as_their_text(
    good_frame: pd.DataFrame,
) -> None:
    """A CSV's 0/1 labels reach validate as integers (floats when one is missing): where the
    contract declares whole numbers, they are those values, not a column of the wrong type."""
    contract = parse(SchemaParams, CODED_SCHEMA)
    assert contract.labels == ("0", "1") and contract.positive_label == "1"
    frame = good_frame.assign(income=[0, 1, 1, 0], workclass=[1.0, None, 2.0, 1.0])
    before = frame.copy()
    result = run(frame, contract)
    assert result.error is None, result.error
    assert result.valid["income"].tolist() == ["0", "1", "1", "0"]
    assert result.valid["workclass"].tolist() == ["1", None, "2", "1"]
    pd.testing.assert_frame_equal(frame, before)  # input not mutated
    current = run(frame.assign(income=[1.0, None, 0.0, None]), contract, split="current")
    assert current.error is None and current.valid["income"].tolist() == ["1", None, "0", None]
    # an undeclared code is an unknown value, quarantined like any other
    unknown = run(frame.assign(workclass=[1, 3, 2, 1]), contract)
    assert unknown.report["failures"] == {"workclass: isin(['1', '2'])": 1}


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("workclass", [1.5, 1.0, 2.0, 1.0], "column 'workclass' has type float64, expected text"),
        ("income", [True, False, True, False], "column 'income' has type bool, expected text"),
        ("sex", [0, 1, 0, 1], "column 'sex' has type int64, expected text"),  # words declared
    ],
)
def test_numbers_that_are_not_declared_codes_are_still_the_wrong_type(
    good_frame: pd.DataFrame, column: str, values: list[Any], message: str
) -> None:
    contract = parse(SchemaParams, CODED_SCHEMA)
    frame = good_frame.assign(income=[0, 1, 1, 0], workclass=[1, 2, 1, 2])
    result = run(frame.assign(**{column: values}), contract)
    assert result.error is not None and message in result.error


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([True, False], "'schema.labels' must be a list of strings or whole numbers"),
        ([0.0, 1.0], "'schema.labels' must be a list of strings or whole numbers"),
        ([0, 10**30], "'schema.labels' is too large"),  # no data column holds it
    ],
)
def test_labels_are_text_or_whole_numbers(labels: list[Any], message: str) -> None:
    with pytest.raises(StageError, match=message):
        parse(SchemaParams, {**SCHEMA_PARAMS, "labels": labels})


def test_every_stage_reads_whole_number_labels_as_the_validated_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # featurize and evaluate compare the data's labels with the schema's
    from stages.params import load

    (tmp_path / "params.yaml").write_text(
        "schema:\n  target: y\n  labels: [0, 1]\n  positive_label: 1\n  sensitive: []\n"
        "  numeric: {x: {}}\n  categorical: {}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    schema = load(SchemaParams)
    assert schema.labels == ("0", "1") and schema.positive_label == "1"


# --- issue 17: per-split min_rows, optional keys, the source row of a quarantined row -------


def test_quarantine_keeps_the_source_row(good_frame: pd.DataFrame, contract: SchemaParams) -> None:
    frame = good_frame.astype({"age": object})
    frame.loc[[1, 3], "age"] = [200, "old"]
    result = validate_split(frame, contract, limits(max_quarantine_share=0.5, min_rows=2), "test")
    assert result.error is None
    # 1-based data rows of the file ingest read, as the report's samples number them
    assert result.quarantined["source_row"].tolist() == [2, 4]
    assert result.quarantined["age"].tolist() == [200, "old"]
    assert list(result.quarantined.columns)[-2:] == ["source_row", "failed_checks"]


def test_min_rows_may_differ_per_split(good_frame: pd.DataFrame, contract: SchemaParams) -> None:
    per_split = limits(min_rows={"train": 5, "test": 5, "current": 2})
    assert validate_split(good_frame.head(2), contract, per_split, "current").error is None
    small_train = validate_split(good_frame, contract, per_split, "train")
    assert small_train.error == "4 valid rows, fewer than validate.min_rows.train=5"
    one_number = limits(min_rows=5)  # still a number for every split, named as before
    error = validate_split(good_frame.head(2), contract, one_number, "current").error
    assert error == "2 valid rows, fewer than validate.min_rows=5"


@pytest.mark.parametrize(
    ("min_rows", "message"),
    [
        ({"train": 5, "test": 5}, r"missing key 'validate.min_rows.current'"),
        ({"train": 5, "test": 5, "current": 1, "prod": 1}, r"unknown key\(s\) \['prod'\]"),
        ({"train": 5, "test": 5, "current": 0}, r"'validate.min_rows.current' must be >= 1"),
        ({"train": 5, "test": 5, "current": 1.5}, r"'validate.min_rows.current' must be int"),
        ("1000", r"'validate.min_rows' must be int \(every split\) or a mapping of train, test"),
        (True, r"'validate.min_rows' must be int .* got bool True"),
    ],
)
def test_min_rows_per_split_errors(min_rows: Any, message: str) -> None:
    with pytest.raises(StageError, match=message):
        limits(min_rows=min_rows)


def test_sensitive_and_categorical_are_optional() -> None:
    numeric_only = {k: v for k, v in SCHEMA_PARAMS.items() if k not in ("sensitive", "categorical")}
    contract = parse(SchemaParams, numeric_only)
    assert contract.sensitive == () and contract.categorical == {}
    written_empty = parse(SchemaParams, {**numeric_only, "sensitive": None, "categorical": None})
    assert written_empty.sensitive == () and written_empty.categorical == {}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sensitive": "sex"}, r"'schema.sensitive' must be list, got str 'sex'"),
        ({"categorical": ["sex"]}, r"'schema.categorical' must be dict, got list \['sex'\]"),
    ],
)
def test_optional_keys_of_the_wrong_type_say_what_is_expected(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(StageError, match=message):
        parse(SchemaParams, {**SCHEMA_PARAMS, **changes})
