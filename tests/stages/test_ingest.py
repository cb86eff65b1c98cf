import gzip
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from stages.common import StageError
from stages.ingest import ingest, normalise, read_source, snake_case, train_split
from stages.params import IngestParams, parse

COLUMNS = ["age", "work-class", "income"]


# an `ingest:` section of params.yaml, as written (before its model checks it)
SECTION: dict[str, Any] = {
    "train_source": "a",
    "test_source": "b",
    "current_source": "c",
    "header": False,
    "columns": COLUMNS,
    "na_values": ["?"],
    "comment": "|",
    "encoding": "utf-8",
    "label_column": "income",
    "label_strip_suffix": ".",
}


def params(**overrides: Any) -> IngestParams:
    return parse(IngestParams, {**SECTION, **overrides})


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_normalises_like_the_published_adult_test_file(tmp_path: Path) -> None:
    source = tmp_path / "adult.test.gz"
    with gzip.open(source, "wt") as handle:
        handle.write("|1x3 Cross validator\n25, Private, <=50K.\n38, ?, >50K.\n")
    frame = ingest(str(source), params())
    assert list(frame.columns) == ["age", "work_class", "income"]
    assert frame["income"].tolist() == ["<=50K", ">50K"]
    assert frame["work_class"].tolist()[0] == "Private"
    assert pd.isna(frame["work_class"].tolist()[1])
    assert frame["age"].dtype.kind == "i"


def test_named_text_columns_stay_strings_with_the_same_values(tmp_path: Path) -> None:
    source = write(tmp_path / "d.csv", "25, Private , <=50K.\n38, ?, >50K.\n40, , >50K.\n")
    raw = read_source(source, params())
    as_objects = normalise(raw, params(), source)
    as_strings = normalise(raw, params(), source, strings=["work_class"])
    assert as_objects["work_class"].dtype == object
    assert as_objects["work_class"].tolist() == ["Private", None, None]
    assert as_strings["work_class"].dtype == pd.StringDtype()
    assert as_strings["work_class"].astype(object).where(
        as_strings["work_class"].notna(), None
    ).tolist() == ["Private", None, None]
    assert as_strings["income"].dtype == object  # columns not named are as before


def test_reads_csv_with_header_and_parquet(tmp_path: Path) -> None:
    csv = write(tmp_path / "d.csv", "Age,Work Class,income\n30, Private ,>50K\n")
    from_csv = ingest(csv, params(header=True))
    assert list(from_csv.columns) == ["age", "work_class", "income"]
    parquet = tmp_path / "d.parquet"
    pd.DataFrame({"Age": [1], "income": [" >50K. "]}).to_parquet(parquet)
    from_parquet = ingest(str(parquet), params())
    assert from_parquet["income"].tolist() == [">50K"]


def test_does_not_mutate_or_coerce_types(tmp_path: Path) -> None:
    frame = ingest(write(tmp_path / "d.csv", "abc, Private, >50K\n"), params())
    assert frame["age"].tolist() == ["abc"]  # validate decides whether this is acceptable


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b"|only a comment\n", "file is empty"),
        (
            b"25, Private, >50K\n26, Private, >50K, extra, more\n",
            r"ragged row at line 2: 5 fields, expected 3 \(as the first data row has\)",
        ),
        (b"25, Priv\xe9, >50K\n", "not valid utf-8"),
        # an extra field on every row: pandas would make the first one an index and drop it
        (b"0, 25, Private, >50K\n1, 26, Private, >50K\n", "first data row has 4 fields"),
        (b"25, Private, >50K, x\n26, Private, >50K, y\n", "first data row has 4 fields"),
        (b"25, Private, >50K, x\n26, Private, >50K\n", "first data row has 4 fields"),
        (b"25\n26\n", "first data row has 1 field, but .*names 3 columns"),
    ],
)
def test_bad_files_name_the_file_and_the_problem(
    tmp_path: Path, content: bytes, message: str
) -> None:
    source = tmp_path / "bad.csv"
    source.write_bytes(content)
    with pytest.raises(StageError, match=message) as error:
        ingest(str(source), params())
    assert str(source) in str(error.value)


def test_a_headerless_batch_may_come_without_its_label_only(tmp_path: Path) -> None:
    source = write(tmp_path / "current.csv", "25, Private\n38, ?\n")
    frame = ingest(source, params())
    assert list(frame.columns) == ["age", "work_class"] and len(frame) == 2
    label_first = {**SECTION, "columns": ["income", "age", "work-class"]}
    with pytest.raises(StageError, match="first data row has 2 fields, but 'ingest.columns'"):
        ingest(source, parse(IngestParams, label_first))


def test_rows_with_fewer_fields_are_ragged_not_missing_values(tmp_path: Path) -> None:
    # pandas pads a short row with empty values; it must not pass as a row of missing ones
    headerless = "|comment\n25, Private, >50K\n\n26, Private\n27, Private, <=50K\n"
    source = write(tmp_path / "d.csv", headerless)
    with pytest.raises(StageError, match="d.csv: ragged row at line 4: 2 fields, expected 3"):
        ingest(source, params())
    gz = tmp_path / "h.csv.gz"
    with gzip.open(gz, "wt") as handle:
        handle.write('age,work class,income\n25,"Private, Inc",>50K\n26\n')
    with pytest.raises(StageError, match="ragged row at line 3: 1 field, expected 3"):
        ingest(str(gz), params(header=True))
    # explicit empty trailing values are missing values, not a ragged row; quoted commas,
    # comment characters and line breaks are inside one field, as pandas reads them
    text = '25, Private,\n26, "Priv|ate, Inc", >50K\n27, "Pri\nvate", ?\n28, Private, <=50K\n'
    explicit = ingest(write(tmp_path / "e.csv", text), params())
    assert explicit["income"].isna().tolist() == [True, False, True, False]
    assert explicit["work_class"].tolist()[1:3] == ["Priv|ate, Inc", "Pri\nvate"]
    late = write(tmp_path / "late.csv", '26, "Pri\nvate", >50K\n27, Private\n')
    with pytest.raises(StageError, match="ragged row at line 3: 2 fields, expected 3"):
        ingest(late, params())
    # a comment character inside a row ends it there, as pandas reads it: a short row, unless
    # quoted (in a field spanning lines too) or after the last delimiter (an empty value)
    cut = '25, "Pri|\nv|ate", >50K\n26, Private, |note\n27, Private|note, >50K\n'
    with pytest.raises(StageError, match="cut.csv: ragged row at line 4: 2 fields, expected 3"):
        ingest(write(tmp_path / "cut.csv", cut), params())


def test_more_fields_than_the_header_names_is_an_error(tmp_path: Path) -> None:
    # pandas would make the extra first field an index when every row (or the first) has one
    for rows in ("0, 25, >50K\n1, 26, >50K\n", "0, 25, >50K\n26, >50K\n"):
        source = write(tmp_path / "d.csv", "|note\nage,income\n" + rows)
        with pytest.raises(StageError, match="d.csv: line 3 has 3 fields, but the header names 2"):
            ingest(source, params(header=True))


def test_truncated_or_corrupt_compressed_files(tmp_path: Path) -> None:
    data = gzip.compress(b"".join(b"%d, Private, >50K\n" % i for i in range(5000)))
    truncated = tmp_path / "truncated.csv.gz"
    truncated.write_bytes(data[: len(data) // 2])
    corrupt = tmp_path / "corrupt.csv.gz"
    corrupt.write_bytes(data[:40] + bytes(b ^ 0xFF for b in data[40:80]) + data[80:])
    for source in (truncated, corrupt):
        with pytest.raises(StageError, match="cannot decompress") as error:
            ingest(str(source), params())
        assert str(source) in str(error.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StageError, match="file not found"):
        ingest(str(tmp_path / "nope.csv"), params())


def test_corrupt_parquet(tmp_path: Path) -> None:
    source = write(tmp_path / "bad.parquet", "not parquet at all")
    with pytest.raises(StageError, match="bad.parquet: cannot read"):
        ingest(source, params())


def test_duplicate_names_after_normalising(tmp_path: Path) -> None:
    source = write(tmp_path / "d.csv", "Age,age,income\n1,2,>50K\n")
    with pytest.raises(StageError, match="duplicate column names"):
        ingest(source, params(header=True))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"header": "no"}, "'ingest.header' must be bool"),
        ({"na_values": "?"}, "'ingest.na_values' must be list"),
        ({"train_source": 3}, "'ingest.train_source' must be str"),
        ({"comment": "##"}, "'ingest.comment' must be one character"),
        ({"encoding": "utf-99"}, "'ingest.encoding' is not a known text encoding: 'utf-99'"),
        ({"encoding": "rot13"}, "'ingest.encoding' is not a known text encoding: 'rot13'"),
        ({"comment": 5}, "'ingest.comment' must be one character or null, got 5"),
        ({"label_strip_suffix": ["."]}, r"ingest.label_strip_suffix' must be str, got list"),
        ({"column": ["a"]}, r"unknown key\(s\) \['column'\] in 'ingest'"),
        ({"columns": None}, r"'ingest.columns' must be list, got NoneType None"),
        ({"columns": [{"a": 0}, "b"]}, "'ingest.columns' must be a list of column names"),
    ],
)
def test_invalid_params(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(StageError, match=message):
        params(**overrides)


def test_missing_param_key() -> None:
    with pytest.raises(StageError, match="missing key 'ingest.encoding'"):
        parse(IngestParams, {"train_source": "a", "test_source": "b", "current_source": "c"})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("education-num", "education_num"), (" Marital Status ", "marital_status"), ("A", "a")],
)
def test_snake_case(raw: str, expected: str) -> None:
    assert snake_case(raw) == expected


def test_a_bad_later_source_leaves_no_earlier_output(tmp_path: Path) -> None:
    """The stage command: exit 1, one line naming the file, and no train split left behind."""
    import subprocess
    import sys

    import yaml

    good = write(tmp_path / "train.csv", "25, Private, >50K\n")
    section = {
        **SECTION,
        "train_source": good,
        "test_source": str(tmp_path / "missing.csv"),
        "current_source": good,
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"ingest": section}))
    outputs = {
        split: tmp_path / "out" / f"{split}.parquet" for split in ("train", "test", "current")
    }
    args = [arg for split, path in outputs.items() for arg in (f"--{split}", str(path))]
    args += ["--labelled", str(tmp_path / "labelled")]
    proc = subprocess.run(
        [sys.executable, "-m", "stages.ingest", *args],
        cwd=tmp_path,
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert (
        proc.stderr.splitlines()[-1] == f"ingest: error: {tmp_path / 'missing.csv'}: file not found"
    )
    assert "Traceback" not in proc.stderr
    assert not any(path.exists() for path in outputs.values())


def test_a_url_whose_filesystem_is_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    # fsspec raises ImportError naming the package (s3fs, gcsfs, ...) the protocol needs
    def missing_backend(*args: Any, **kwargs: Any) -> None:
        raise ImportError("Install s3fs to access S3")

    monkeypatch.setattr(pd, "read_csv", missing_backend)
    with pytest.raises(StageError, match="s3://bucket/d.csv: cannot read: Install s3fs"):
        ingest("s3://bucket/d.csv", params())


# --- options that exist for one dataset are off unless params.yaml sets them (issue 17) -----


def test_dataset_specific_options_are_off_by_default(tmp_path: Path) -> None:
    defaults = {k: v for k, v in SECTION.items() if k not in ("comment", "label_strip_suffix")}
    chosen = parse(IngestParams, {**defaults, "columns": ["answer", "income"]})
    assert chosen.comment is None and chosen.label_strip_suffix == ""
    source = write(tmp_path / "d.csv", "unsure|yes, no.\nmaybe, yes\n")
    frame = ingest(source, chosen)
    assert frame["answer"].tolist() == ["unsure|yes", "maybe"]  # not cut at the "|"
    assert frame["income"].tolist() == ["no.", "yes"]  # the label's "." kept


def test_the_adult_params_switch_them_on() -> None:
    from stages.params import load

    adult = load(IngestParams, Path(__file__).resolve().parents[2] / "params.yaml")
    assert adult.comment == "|" and adult.label_strip_suffix == "."


@pytest.mark.parametrize("name", ["Unnamed: 0", "unnamed_0"])
def test_drop_columns_leaves_out_an_index_column(tmp_path: Path, name: str) -> None:
    # pandas' to_csv writes its index as a first column with an empty header
    source = write(tmp_path / "d.csv", ",Age,income\n0,25,>50K\n1,38,<=50K\n")
    frame = ingest(source, params(header=True, drop_columns=[name, "not_in_this_file"]))
    assert list(frame.columns) == ["age", "income"]
    assert frame["age"].tolist() == [25, 38]
    kept = ingest(source, params(header=True))
    assert list(kept.columns) == ["unnamed_0", "age", "income"]


def test_drop_columns_must_be_a_list() -> None:
    with pytest.raises(StageError, match="'ingest.drop_columns' must be list, got str 'id'"):
        params(drop_columns="id")


# --- labelled production batches appended to the train split ---------------------------------


def labelled_folder(tmp_path: Path, **batches: pd.DataFrame) -> Path:
    """data/labelled with a <id>.parquet per batch, as make label-batch writes them."""
    folder = tmp_path / "labelled"
    folder.mkdir(exist_ok=True)
    for batch, frame in batches.items():
        frame.to_parquet(folder / f"{batch}.parquet", index=False)
    return folder


def labelled(ages: list[float], work: str = "State-gov") -> pd.DataFrame:
    """A labelled batch: the schema's columns (numbers as float) and the target, in the
    schema's order, not the source's."""
    return pd.DataFrame(
        {"age": ages, "work_class": [work] * len(ages), "income": [">50K"] * len(ages)}
    )


def test_train_batches_are_appended_in_the_listed_order(tmp_path: Path) -> None:
    train = write(tmp_path / "train.csv", "25, Private, <=50K.\n38, ?, >50K\n")
    folder = labelled_folder(tmp_path, b1=labelled([50.0]), b2=labelled([60.0, 61.0], " Sales "))
    frame, source = train_split(params(train_source=train, train_batches=["b2", "b1"]), folder)
    assert list(frame.columns) == ["age", "work_class", "income"]
    assert frame["age"].tolist() == [25, 38, 60, 61, 50]
    assert frame["work_class"].tolist()[2:] == ["Sales", "Sales", "State-gov"]  # normalised
    assert frame["income"].tolist() == ["<=50K", ">50K", ">50K", ">50K", ">50K"]
    assert source == f"{train} + {folder / 'b2.parquet'} + {folder / 'b1.parquet'}"


def test_without_batches_the_train_split_is_the_source_alone(tmp_path: Path) -> None:
    train = write(tmp_path / "train.csv", "25, Private, <=50K\n")
    folder = labelled_folder(tmp_path, b1=labelled([50.0]))  # labelled, not listed
    frame, source = train_split(params(train_source=train), folder)
    assert frame.equals(ingest(train, params()))
    assert source == train


def test_the_window_keeps_the_last_listed_batches(tmp_path: Path) -> None:
    train = write(tmp_path / "train.csv", "25, Private, <=50K\n")
    folder = labelled_folder(tmp_path, b2=labelled([60.0]), b3=labelled([70.0]))
    chosen = params(train_source=train, train_batches=["b1", "b2", "b3"], train_window=2)
    frame, _ = train_split(chosen, folder)  # b1 is outside the window: not even read
    assert frame["age"].tolist() == [25, 60, 70]


def test_a_missing_batch_file_says_how_to_make_or_fetch_it(tmp_path: Path) -> None:
    train = write(tmp_path / "train.csv", "25, Private, <=50K\n")
    folder = labelled_folder(tmp_path)
    missing = folder / "2026-11.parquet"
    with pytest.raises(StageError) as error:
        train_split(params(train_source=train, train_batches=["2026-11"]), folder)
    assert str(error.value) == (
        f"{missing}: not found, but ingest.train_batches lists '2026-11': make it with "
        f"`make label-batch BATCH=2026-11` or fetch it with `dvc pull {missing}`"
    )


def test_a_batch_whose_columns_differ_is_refused(tmp_path: Path) -> None:
    train = write(tmp_path / "train.csv", "25, Private, <=50K\n")
    odd = labelled([50.0]).drop(columns=["work_class"]).assign(id=[7])
    folder = labelled_folder(tmp_path, b1=odd)
    with pytest.raises(
        StageError,
        match=r"b1.parquet: its columns do not match the train "
        r"source's \(missing: work_class; extra: id\)",
    ):
        train_split(params(train_source=train, train_batches=["b1"]), folder)


@pytest.mark.parametrize(
    ("batches", "message"),
    [
        (["b1", "b1"], r"'ingest.train_batches' names \['b1'\] more than once"),
        (["../x"], r"'ingest.train_batches' holds '../x', which is no batch id"),
        (["a/b"], r"'ingest.train_batches' holds 'a/b', which is no batch id"),
        ("b1", r"'ingest.train_batches' must be list, got str 'b1'"),
    ],
)
def test_train_batches_are_distinct_batch_ids(batches: Any, message: str) -> None:
    with pytest.raises(StageError, match=message):
        params(train_batches=batches)


def test_numeric_ids_and_an_empty_list() -> None:
    assert params(train_batches=[202611]).train_batches == ["202611"]
    assert params(train_batches=None).batches_in_window == []
    with pytest.raises(StageError, match="'ingest.train_window' must be >= 1, got 0"):
        params(train_window=0)
