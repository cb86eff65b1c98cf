"""stages/label_batch.py: a scored batch's labelled rows become a training file that ingest
and validate accept, and every way it can go wrong is one line that writes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from stages import label_batch
from stages.common import StageError
from stages.params import SchemaParams, ValidateParams, parse
from stages.validate import validate_split
from tests.stages.conftest import SCHEMA_PARAMS, VALIDATE_PARAMS

BATCH = "2026-11"


def inputs_frame() -> pd.DataFrame:
    """What make score writes to monitoring/inputs/<batch>.parquet: id, then the schema's
    numeric and categorical columns as checked."""
    return pd.DataFrame(
        {
            "id": [10, 11, 12, 13],
            "age": [25.0, 38.0, 52.0, 41.0],
            "hours_per_week": [40.0, 50.0, 45.0, 60.0],
            "sex": ["Male", "Female", "Male", "Female"],
            "workclass": ["Private", None, "State-gov", "Private"],
        }
    )


def labels_frame(**changes: Any) -> pd.DataFrame:
    """What make monitor merges into monitoring/labels/<batch>.parquet: id (text) and target,
    for some rows, in another order, and one id the batch does not have."""
    columns = {"id": ["13", "10", "12", "99"], "income": [">50K", "<=50K", " >50K", "<=50K"]}
    return pd.DataFrame({**columns, **changes}).astype("string")


@pytest.fixture
def schema() -> SchemaParams:
    return parse(SchemaParams, SCHEMA_PARAMS)


SOURCES = ("monitoring/inputs/b.parquet", "monitoring/labels/b.parquet")


# --- the join (pure) ---------------------------------------------------------------------------


def test_keeps_the_labelled_rows_in_the_inputs_order(schema: SchemaParams) -> None:
    rows = label_batch.labelled_rows(inputs_frame(), labels_frame(), schema, SOURCES)
    assert list(rows.columns) == ["age", "hours_per_week", "sex", "workclass", "income"]
    assert rows["age"].tolist() == [25.0, 52.0, 41.0]  # ids 10, 12, 13; 11 has no label
    assert rows["income"].tolist() == ["<=50K", ">50K", ">50K"]  # " >50K" trimmed


def test_the_file_passes_validate(schema: SchemaParams) -> None:
    rows = label_batch.labelled_rows(inputs_frame(), labels_frame(), schema, SOURCES)
    limits = parse(ValidateParams, {**VALIDATE_PARAMS, "min_rows": 1})
    result = validate_split(rows, schema, limits, "train")
    assert result.error is None
    assert len(result.valid) == 3


def test_text_ids_join_too(schema: SchemaParams) -> None:
    inputs = inputs_frame().assign(id=["a", "b", "c", "d"])
    labels = pd.DataFrame({"id": ["d", "b"], "income": [">50K", "<=50K"]}).astype("string")
    rows = label_batch.labelled_rows(inputs, labels, schema, SOURCES)
    assert rows["age"].tolist() == [38.0, 41.0]


def test_a_label_outside_the_schema_is_refused(schema: SchemaParams) -> None:
    labels = labels_frame(income=["yes", "<=50K", ">50K", "<=50K"])
    with pytest.raises(StageError, match=r"labels/b.parquet: column 'income' has value\(s\) 'yes'"):
        label_batch.labelled_rows(inputs_frame(), labels, schema, SOURCES)


def test_a_schema_column_missing_from_the_inputs_says_what_to_do(schema: SchemaParams) -> None:
    inputs = inputs_frame().drop(columns=["workclass"])
    with pytest.raises(StageError, match=r"inputs/b.parquet: no column\(s\) workclass of params"):
        label_batch.labelled_rows(inputs, labels_frame(), schema, SOURCES)
    with pytest.raises(StageError, match=r"make score BATCH=<file> ID=<id>"):
        label_batch.labelled_rows(inputs, labels_frame(), schema, SOURCES)


def test_no_joining_row_is_refused(schema: SchemaParams) -> None:
    labels = labels_frame(id=["1", "2", "3", "4"])
    with pytest.raises(StageError, match=r"none of its 4 ids \(e.g. '1'\) is among the 4 rows"):
        label_batch.labelled_rows(inputs_frame(), labels, schema, SOURCES)


# --- the command -------------------------------------------------------------------------------


@pytest.fixture
def tracked(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files `track` is asked to DVC-track, recorded instead."""
    files: list[Path] = []
    monkeypatch.setattr(label_batch, "track", lambda root, path: files.append(path) or False)
    return files


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tracked: list[Path]) -> Path:
    """A project with dvc.yaml's and monitoring/dvc.yaml's paths, params.yaml's schema and one
    scored batch with labels."""
    (tmp_path / "monitoring").mkdir()
    (tmp_path / "dvc.yaml").write_text(
        yaml.safe_dump({"vars": [{"paths": {"labelled": "data/labelled"}}], "stages": {}})
    )
    paths = {name: f"monitoring/{name}" for name in ("batches", "inputs", "labels")}
    (tmp_path / "monitoring" / "dvc.yaml").write_text(yaml.safe_dump({"vars": [{"paths": paths}]}))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"schema": SCHEMA_PARAMS}))
    for name in paths:
        (tmp_path / "monitoring" / name).mkdir()
    (tmp_path / "data" / "labelled").mkdir(parents=True)
    (tmp_path / "monitoring" / "batches" / f"{BATCH}.json").write_text(json.dumps({"rows": 4}))
    inputs_frame().to_parquet(tmp_path / "monitoring" / "inputs" / f"{BATCH}.parquet")
    labels_frame().to_parquet(tmp_path / "monitoring" / "labels" / f"{BATCH}.parquet")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_writes_the_file_and_tracks_it(
    project: Path, tracked: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    label_batch.main(["--batch", BATCH])
    written = project / "data" / "labelled" / f"{BATCH}.parquet"
    frame = pd.read_parquet(written)
    assert list(frame.columns) == ["age", "hours_per_week", "sex", "workclass", "income"]
    assert len(frame) == 3
    assert tracked == [Path("data/labelled") / f"{BATCH}.parquet"]
    out = capsys.readouterr().out
    assert f"batch {BATCH}: 3 labelled rows of 4 scored written to data/labelled/{BATCH}" in out
    assert sorted(p.name for p in written.parent.iterdir()) == [f"{BATCH}.parquet"]


@pytest.mark.parametrize(
    ("batch", "remove", "message"),
    [
        ("../x", None, r"batch id '../x': not one make score writes"),
        ("2026-12", None, r"no batch '2026-12' was scored \(.*2026-12.json not found; scored: "),
        (BATCH, "inputs", r"inputs/2026-11.parquet: not in the workspace: fetch it with `dvc pu"),
        (BATCH, "labels", r"batch '2026-11' has no labels yet .* `make monitor BATCH=2026-11 LAB"),
    ],
)
def test_errors_write_nothing(project: Path, batch: str, remove: str | None, message: str) -> None:
    if remove:
        (project / "monitoring" / remove / f"{BATCH}.parquet").unlink()
    with pytest.raises(StageError, match=message):
        label_batch.main(["--batch", batch])
    assert list((project / "data" / "labelled").iterdir()) == []


def test_a_failed_write_keeps_the_earlier_file(project: Path) -> None:
    label_batch.main(["--batch", BATCH])
    written = project / "data" / "labelled" / f"{BATCH}.parquet"
    before = written.read_bytes()
    labels_frame(income=["no", "<=50K", ">50K", "<=50K"]).to_parquet(
        project / "monitoring" / "labels" / f"{BATCH}.parquet"
    )
    with pytest.raises(StageError, match="outside the schema's labels"):
        label_batch.main(["--batch", BATCH])
    assert written.read_bytes() == before


def test_dvc_tracks_the_file_on_its_own(tmp_path: Path) -> None:
    from dvc.repo import Repo

    Repo.init(str(tmp_path), no_scm=True).close()
    target = tmp_path / "data" / "labelled" / f"{BATCH}.parquet"
    target.parent.mkdir(parents=True)
    pd.DataFrame({"a": [1]}).to_parquet(target)
    assert label_batch.track(tmp_path, target) is False  # no remote: not pushed
    record = yaml.safe_load(target.with_name(f"{BATCH}.parquet.dvc").read_text())
    assert record["outs"][0]["path"] == f"{BATCH}.parquet"
