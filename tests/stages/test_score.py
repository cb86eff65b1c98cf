"""Scoring a batch (stages/score.py): batch ids, row ids, chunking, quarantine counts.

The model is a small pipeline fitted on `modelling_data`'s frame; batches are CSV files in
tmp_path read with ingest's options for a headed CSV.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from stages.common import StageError
from stages.featurize import fit_featurizer, transform
from stages.params import IngestParams, MonitoringParams, parse
from stages.score import (
    ID,
    LOG_COLUMNS,
    ModelBatches,
    RowIds,
    Scoring,
    batch_id,
    checked_batch_id,
    column_violations,
    decoded,
    encoded,
    score_file,
    scores_of,
)
from stages.train import fit_model
from stages.validate import FAILED_CHECKS_COLUMN, SOURCE_ROW_COLUMN
from tests.stages.conftest import limits
from tests.stages.modelling_data import FEATURIZE_PARAMS, HGB_PARAMS, schema, validated_frame

INGEST: dict[str, Any] = {
    "train_source": "unused.csv",
    "test_source": "unused.csv",
    "current_source": "unused.csv",
    "header": True,
    "na_values": ["?"],
    "encoding": "utf-8",
    "label_column": "income",
}
MONITORING: dict[str, Any] = {
    "id_column": "id",
    "chunk_rows": 1000,
    "model_rows": 1000,
    "min_rows": 1,
    "max_quarantine_share": 0.5,
}


def monitoring(**changes: Any) -> MonitoringParams:
    return parse(MonitoringParams, {**MONITORING, **changes})


@pytest.fixture(scope="module")
def model() -> Any:
    train = validated_frame(400)
    featurizer = fit_featurizer(train, schema(), FEATURIZE_PARAMS)
    return fit_model(featurizer, transform(featurizer, train, schema()), "income", HGB_PARAMS)


@pytest.fixture
def scoring(model: Any) -> Scoring:
    at = pd.Timestamp("2026-12-01T10:00:00Z")
    return Scoring(model, schema(), limits(max_duplicate_share=1.0), 0.5, "v1.2.0", "b1", at)


def batch_csv(path: Path, rows: int = 60, ids: Any = None, seed: int = 1) -> Path:
    frame = validated_frame(rows, seed=seed, with_target=False)
    if ids is not None:
        frame.insert(0, "id", ids)
    frame.to_csv(path, index=False)
    return path


def score(path: Path, scoring: Scoring, folder: Path, **settings: Any) -> Any:
    folder.mkdir(parents=True, exist_ok=True)
    return score_file(
        str(path), parse(IngestParams, INGEST), monitoring(**settings), scoring, folder
    )


def read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(folder / f"{name}.parquet")


# --- batch ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("2026-11.csv.gz", "2026-11"),
        ("data/batches/2026-11.parquet", "2026-11"),
        ("s3://bucket/in/2026-11.csv.gz?X-Amz-Signature=abc", "2026-11"),
        ("https://example.org/a/week.07.csv", "week.07"),
        ("adult.test.gz", "adult"),
        ("batch", "batch"),
    ],
)
def test_batch_id_is_the_file_name_without_its_suffixes(source: str, expected: str) -> None:
    assert batch_id(source) == expected


@pytest.mark.parametrize("bad", ["", "../x", "a/b", ".hidden", "a b", "x" * 101, "a..b"])
def test_batch_ids_that_cannot_name_files_are_refused(bad: str) -> None:
    with pytest.raises(StageError, match="cannot name files"):
        checked_batch_id(bad)


# --- row ids --------------------------------------------------------------------------------


def test_rows_are_numbered_from_their_place_in_the_batch_without_an_id_column() -> None:
    frame = pd.DataFrame({"age": [30.0, 40.0]})
    ids = RowIds.of(frame, "id")
    rest, values = ids.split(frame, 5, "b.csv")
    assert ids.column is None
    assert values.tolist() == [5, 6]
    assert rest is frame


def test_whole_number_ids_stay_numbers_and_missing_ones_are_na() -> None:
    frame = pd.DataFrame({"id": [7.0, np.nan, 9.0], "age": [1.0, 2.0, 3.0]})
    ids = RowIds.of(frame, "ID")  # named as in the file or snake_cased
    rest, values = ids.split(frame, 0, "b.csv")
    assert (ids.column, ids.integers) == ("id", True)
    assert list(rest.columns) == ["age"]
    assert values.tolist()[0] == 7 and pd.isna(values.tolist()[1])


def test_text_ids_stay_text() -> None:
    frame = pd.DataFrame({"id": ["a-1", "007"]})
    ids = RowIds.of(frame, "id")
    _, values = ids.split(frame, 0, "b.csv")
    assert not ids.integers
    assert values.tolist() == ["a-1", "007"]


def test_a_later_chunk_with_text_ids_after_numbers_is_one_line() -> None:
    ids = RowIds.of(pd.DataFrame({"id": [1, 2]}), "id")
    with pytest.raises(StageError, match=r"b\.csv: id column 'id' holds 'x7'"):
        ids.split(pd.DataFrame({"id": ["3", "x7"]}), 2, "b.csv")


# --- scoring a file -------------------------------------------------------------------------


def test_log_inputs_and_quarantine_as_the_interface_says(scoring: Scoring, tmp_path: Path) -> None:
    source = batch_csv(tmp_path / "b1.csv", ids=[f"r{n}" for n in range(60)])
    summary = score(source, scoring, tmp_path / "out")
    log, inputs = read(tmp_path / "out", "predictions"), read(tmp_path / "out", "inputs")
    assert tuple(log.columns) == LOG_COLUMNS
    assert (summary.rows, summary.scored, summary.quarantined) == (60, 60, 0)
    assert log["id"].tolist() == inputs[ID].tolist() == [f"r{n}" for n in range(60)]
    assert set(log["prediction"]) <= {">50K", "<=50K"}
    assert (log["prediction"] == ">50K").tolist() == (log["score"] >= 0.5).tolist()
    assert set(log["model_version"]) == {"v1.2.0"} and set(log["batch"]) == {"b1"}
    assert str(log["scored_at"].dtype) == "datetime64[us, UTC]"
    assert list(inputs.columns) == [ID, "age", "hours_per_week", "sex", "workclass"]
    assert len(read(tmp_path / "out", "quarantine")) == 0


def test_scores_are_the_models_positive_probabilities(scoring: Scoring, tmp_path: Path) -> None:
    source = batch_csv(tmp_path / "b.csv")
    score(source, scoring, tmp_path / "out")
    inputs = read(tmp_path / "out", "inputs")
    expected = scores_of(scoring.model, inputs.drop(columns=[ID]).astype({"sex": object}))
    np.testing.assert_allclose(read(tmp_path / "out", "predictions")["score"], expected)


def test_logged_scores_are_bit_identical_to_predict_proba_on_the_validated_rows(
    scoring: Scoring, tmp_path: Path
) -> None:
    """The log holds exactly what the model gives for the rows that passed, however the
    batch was chunked and whichever text dtype the rows arrive in (validate's object with
    None, or pandas' string dtype as a parquet file reads)."""
    source = batch_csv(tmp_path / "b.csv", rows=103)
    text = source.read_text().splitlines()
    text[9] = "150," + text[9].split(",", 1)[1]  # row 8: age out of range, quarantined
    source.write_text("\n".join(text) + "\n")
    score(source, scoring, tmp_path / "out", chunk_rows=10)
    inputs = read(tmp_path / "out", "inputs").drop(columns=[ID])
    assert len(inputs) == 102
    names = list(scoring.model.feature_names_in_)
    as_validated = inputs.astype({"sex": object, "workclass": object})
    as_validated["workclass"] = as_validated["workclass"].where(inputs["workclass"].notna(), None)
    logged = read(tmp_path / "out", "predictions")["score"].to_numpy()
    for rows in (as_validated, inputs):
        expected = scoring.model.predict_proba(rows[names])[:, 1]
        assert np.array_equal(logged, expected)


def test_chunked_scores_equal_unchunked(scoring: Scoring, tmp_path: Path) -> None:
    source = batch_csv(tmp_path / "b.csv", rows=103)
    text = source.read_text().splitlines()
    text[5] = text[5].replace("Male", "Mle", 1).replace("Female", "Femle", 1)  # row 5
    text[77] = "150," + text[77].split(",", 1)[1]  # row 77: age out of range
    source.write_text("\n".join(text) + "\n")
    whole = score(source, scoring, tmp_path / "whole", chunk_rows=1000)
    chunked = score(source, scoring, tmp_path / "chunked", chunk_rows=10)
    assert whole == chunked
    for name in ("predictions", "inputs", "quarantine"):
        pd.testing.assert_frame_equal(
            read(tmp_path / "whole", name), read(tmp_path / "chunked", name)
        )
    quarantined = read(tmp_path / "chunked", "quarantine")
    assert quarantined[SOURCE_ROW_COLUMN].tolist() == [5, 77]
    assert 4 not in read(tmp_path / "chunked", "predictions")["id"].tolist()  # numbered from 0


class CountingModel:
    """The model, recording how many rows each predict_proba call is given."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.calls: list[int] = []
        self.feature_names_in_ = model.feature_names_in_

    def predict_proba(self, frame: pd.DataFrame) -> Any:
        self.calls.append(len(frame))
        return self.model.predict_proba(frame)


def test_the_model_scores_model_rows_at_a_time_across_chunks(
    scoring: Scoring, tmp_path: Path
) -> None:
    """Rows that passed wait for `model_rows` of them, whatever the chunks; the scores are
    bit-identical to one predict_proba call on all of them."""
    source = batch_csv(tmp_path / "b.csv", rows=103)
    text = source.read_text().splitlines()
    text[9] = "150," + text[9].split(",", 1)[1]  # row 8: quarantined
    source.write_text("\n".join(text) + "\n")
    counting = CountingModel(scoring.model)
    calls = replace(scoring, model=counting)
    summary = score(source, calls, tmp_path / "25", chunk_rows=10, model_rows=25)
    assert counting.calls == [25, 25, 25, 25, 2] and summary.scored == 102
    counting.calls.clear()
    score(source, calls, tmp_path / "one", chunk_rows=10, model_rows=1000)
    assert counting.calls == [102]
    logged = read(tmp_path / "25", "predictions")
    pd.testing.assert_frame_equal(logged, read(tmp_path / "one", "predictions"))
    inputs = read(tmp_path / "one", "inputs").drop(columns=[ID])
    one_call = scoring.model.predict_proba(inputs[list(scoring.model.feature_names_in_)])[:, 1]
    assert np.array_equal(logged["score"].to_numpy(), one_call)


def test_model_batches_hand_out_whole_calls_in_order() -> None:
    waiting = ModelBatches(5)
    handed: list[list[int]] = []
    for start in (0, 4, 8):
        waiting.add(np.arange(start, start + 4), pd.DataFrame({"x": np.arange(start, start + 4)}))
        for ids, features in waiting.ready():
            assert ids.tolist() == features["x"].tolist()
            handed.append(ids.tolist())
    assert handed == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    assert [ids.tolist() for ids, _ in waiting.ready(last=True)] == [[10, 11]]
    assert list(waiting.ready(last=True)) == []


def test_text_waits_as_codes_and_comes_back_as_validate_writes_it() -> None:
    contract = schema()
    rows = pd.DataFrame(
        {
            "age": [30.0, 40.0, 50.0],
            "sex": pd.array(["Male", "Female", "Male"], dtype="string"),
            "workclass": pd.array(["State-gov", None, "Private"], dtype="string"),
        }
    )
    codes = encoded(rows, contract)
    assert codes["sex"].dtype == np.int8 and codes["workclass"].tolist()[1] == -1
    pd.testing.assert_series_equal(codes["age"], rows["age"])
    back = decoded(codes, contract)
    assert back["workclass"].dtype == object and back["workclass"].tolist() == [
        "State-gov",
        None,
        "Private",
    ]
    assert back["sex"].tolist() == ["Male", "Female", "Male"]
    with pytest.raises(ValueError, match="'sex' holds a value the contract does not declare"):
        encoded(rows.assign(sex=["Male", "Mle", "Male"]), contract)


def test_bad_rows_are_quarantined_and_counted_by_column(scoring: Scoring, tmp_path: Path) -> None:
    source = batch_csv(tmp_path / "b.csv", rows=40, ids=list(range(100, 140)))
    frame = pd.read_csv(source)
    frame.loc[3, "sex"] = "Unknown"
    frame.loc[3, "age"] = 5
    frame.loc[10, "age"] = 300
    frame.loc[12, "id"] = None  # no id: cannot be joined to its label later
    frame.to_csv(source, index=False)
    summary = score(source, scoring, tmp_path / "out", chunk_rows=7)
    assert (summary.rows, summary.scored, summary.quarantined) == (40, 37, 3)
    assert summary.violations == {"age": 2, "id": 1, "sex": 1}
    quarantined = read(tmp_path / "out", "quarantine")
    assert quarantined[SOURCE_ROW_COLUMN].tolist() == [4, 11, 13]
    assert "age: greater_than_or_equal_to(16.0)" in quarantined[FAILED_CHECKS_COLUMN].iloc[0]
    assert "sex: isin" in quarantined[FAILED_CHECKS_COLUMN].iloc[0]
    log = read(tmp_path / "out", "predictions")
    assert {103, 110, 112}.isdisjoint(log["id"]) and log["id"].dtype == "int64"


def test_column_violations_sum_rows_by_column() -> None:
    keys = {"age: less_than_or_equal_to(100)": 2, "age: numeric": 1, "sex: isin": 4}
    assert column_violations(keys) == {"age": 3, "sex": 4}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["age"]), r"b\.csv: missing column 'age'"),
        (lambda f: f.assign(extra=1), r"b\.csv: unexpected column 'extra'"),
    ],
)
def test_a_batch_without_the_contracts_columns_stops_with_one_line(
    scoring: Scoring, tmp_path: Path, change: Any, message: str
) -> None:
    source = tmp_path / "b.csv"
    change(pd.read_csv(batch_csv(source))).to_csv(source, index=False)
    with pytest.raises(StageError, match=message):
        score(source, scoring, tmp_path / "out")


def test_too_many_quarantined_rows_fail_the_batch(scoring: Scoring, tmp_path: Path) -> None:
    source = batch_csv(tmp_path / "b.csv", rows=10)
    frame = pd.read_csv(source).assign(age=[500] * 6 + [30] * 4)
    frame.to_csv(source, index=False)
    with pytest.raises(StageError, match=r"6 of 10 rows \(60\.00%\) fail the data contract"):
        score(source, scoring, tmp_path / "out")


def test_repeated_ids_are_refused(scoring: Scoring, tmp_path: Path) -> None:
    source = batch_csv(tmp_path / "b.csv", rows=10, ids=[1, 2, 3, 4, 5, 6, 7, 8, 9, 3])
    with pytest.raises(StageError, match="id column 'id' repeats '3'"):
        score(source, scoring, tmp_path / "out", chunk_rows=4)


def test_unreadable_and_empty_batches_are_one_line(scoring: Scoring, tmp_path: Path) -> None:
    with pytest.raises(StageError, match="nope.csv: file not found"):
        score(tmp_path / "nope.csv", scoring, tmp_path / "out")
    empty = tmp_path / "e.parquet"
    validated_frame(3, with_target=False).head(0).to_parquet(empty)
    with pytest.raises(StageError, match="file is empty"):
        score(empty, scoring, tmp_path / "out")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(StageError, match="broken.parquet: cannot read"):
        score(broken, scoring, tmp_path / "out")


def test_parquet_batches_are_read_by_row_groups(scoring: Scoring, tmp_path: Path) -> None:
    frame = validated_frame(50, seed=1, with_target=False)
    frame = frame.astype({"sex": object, "workclass": object})
    frame.to_parquet(tmp_path / "b.parquet", row_group_size=8)
    batch_csv(tmp_path / "b.csv", rows=50)  # the same rows
    score(tmp_path / "b.parquet", scoring, tmp_path / "pq", chunk_rows=8)
    score(tmp_path / "b.csv", scoring, tmp_path / "csv", chunk_rows=50)
    pd.testing.assert_frame_equal(
        read(tmp_path / "pq", "predictions"), read(tmp_path / "csv", "predictions")
    )


def test_summary_record_is_json(tmp_path: Path) -> None:
    from stages.released import Release
    from stages.score import BatchSummary, summary_record

    release = Release("income-model", "v1.2.0", "a" * 40, "income-model@v1.2.0")
    record = summary_record(
        "b1",
        "https://user:secret@example.org/b1.csv?token=x",
        release,
        BatchSummary(10, 8, 2, {"age": 2}),
        pd.Timestamp("2026-12-01T10:00:00Z"),
    )
    assert record["source"] == "https://example.org/b1.csv"  # no secrets in git
    assert record["quarantine_share"] == 0.2
    assert record["scored_at"] == "2026-12-01T10:00:00Z"
    json.dumps(record)


def test_docs_cover_every_option_and_monitoring_key() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "production.md").read_text()
    for option in ("BATCH=", "STAGE=", "VERSION=", "ID=", "--batch", "--stage", "--version"):
        assert option in docs, option
    for key in MonitoringParams.model_fields:
        assert f"`{key}`" in docs, key
    for column in LOG_COLUMNS:
        assert f"`{column}`" in docs, column


def test_category_codes_read_as_numbers_reach_the_model_as_text(tmp_path: Path) -> None:
    """A category declared as codes ("1", "2") that a CSV reads as integers is checked and
    scored as text, as validate and the training data have it."""
    train = validated_frame(120).assign(sex=lambda f: np.where(f["sex"] == "Male", "1", "2"))
    coded = schema(
        categorical={
            "sex": {"values": ["1", "2"]},
            "workclass": {"nullable": True, "values": ["Private", "State-gov"]},
        }
    )
    featurizer = fit_featurizer(train, coded, FEATURIZE_PARAMS)
    model = fit_model(featurizer, transform(featurizer, train, coded), "income", HGB_PARAMS)
    at = pd.Timestamp("2026-12-01T10:00:00Z")
    scoring = Scoring(model, coded, limits(max_duplicate_share=1.0), 0.5, "v1", "b", at)
    batch = train.drop(columns=["income"]).assign(sex=lambda f: f["sex"].astype(int))
    batch.to_csv(tmp_path / "b.csv", index=False)
    summary = score(tmp_path / "b.csv", scoring, tmp_path / "out")
    assert summary.scored == 120
    assert read(tmp_path / "out", "inputs")["sex"].tolist()[:3] == train["sex"].tolist()[:3]


def test_each_batch_is_tracked_on_its_own_unless_a_folder_is_tracked_whole(
    tmp_path: Path,
) -> None:
    """Per-batch `.dvc` files let a job pull one batch; a project whose folders DVC tracks
    whole (as before) keeps them so: DVC refuses a file inside a tracked folder."""
    from stages.score import tracked_paths

    monitoring = tmp_path / "monitoring"
    assert tracked_paths(tmp_path, "2026-11") == [
        monitoring / "predictions" / "2026-11.parquet",
        monitoring / "inputs" / "2026-11.parquet",
        monitoring / "quarantine" / "2026-11.parquet",
    ]
    monitoring.mkdir()
    (monitoring / "inputs.dvc").write_text("outs: []\n")
    assert tracked_paths(tmp_path, "2026-11")[1] == monitoring / "inputs"
