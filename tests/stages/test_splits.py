"""Parquet splits between stages: where their rows came from, without secrets."""

from pathlib import Path

import pandas as pd
import pytest

from stages.splits import read_split, shown_source, split_source, write_split


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("data/raw/adult.data.gz", "data/raw/adult.data.gz"),
        ("/abs/path/batch.parquet", "/abs/path/batch.parquet"),
        ("C:\\data\\batch.csv", "C:\\data\\batch.csv"),
        ("s3://bucket/batches/2026-11.csv", "s3://bucket/batches/2026-11.csv"),
        ("s3://key:secret@bucket/b.csv", "s3://bucket/b.csv"),
        ("https://user:pw@host:8443/b.csv?X-Amz-Signature=abc#x", "https://host:8443/b.csv"),
    ],
)
def test_shown_source_drops_credentials_and_query(source: str, shown: str) -> None:
    assert shown_source(source) == shown


def test_write_split_round_trips_and_records_the_source(tmp_path: Path) -> None:
    frame = pd.DataFrame({"age": [30.0, None], "sex": ["Male", None]})
    write_split(frame, tmp_path / "out" / "train.parquet", "https://u:p@host/train.csv?t=1")
    pd.testing.assert_frame_equal(read_split(tmp_path / "out" / "train.parquet"), frame)
    assert split_source(tmp_path / "out" / "train.parquet") == "https://host/train.csv"


def test_split_source_is_none_when_unknown(tmp_path: Path) -> None:
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "plain.parquet")
    assert split_source(tmp_path / "plain.parquet") is None
    (tmp_path / "junk.parquet").write_text("not parquet", encoding="utf-8")
    assert split_source(tmp_path / "junk.parquet") is None
    assert split_source(tmp_path / "missing.parquet") is None
