"""Stage ingest: read the declared sources, normalise them and write parquet.

Sources (params `ingest.*_source`) are local paths or fsspec URLs, CSV (optionally compressed)
or parquet. Normalising means: snake_case column names, `drop_columns` left out, trimmed
strings, the declared missing-value markers as missing, and, where a dataset asks for it,
label values without a trailing suffix (`label_strip_suffix`: adult.test's "."). Types are
not forced here: validate decides what is acceptable.

The train split is the train source followed, in the order `ingest.train_batches` lists them
(the last `train_window` of them, if set), by the labelled production batches
`make label-batch` wrote to data/labelled/<id>.parquet (docs/retraining.md), each read and
normalised as a source is; their columns must be the train source's.
"""

from __future__ import annotations

import argparse
import csv
import lzma
import re
import warnings
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from stages.common import Progress, StageError, remove_outputs, removed_on_failure, run_stage
from stages.params import IngestParams, load
from stages.splits import write_split

SECTION = "ingest"
PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_C_ERROR = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def snake_case(name: str) -> str:
    """`education-num` -> `education_num`; ` Marital Status` -> `marital_status`."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


def _fields(count: int) -> str:
    return f"{count} field{'s' * (count != 1)}"


def _named_columns(frame: pd.DataFrame, params: IngestParams, source: str) -> pd.DataFrame:
    """A headerless CSV's columns named by `ingest.columns`, once the widths agree.

    A batch may come without its label (production data): one field fewer than the names,
    when the label is the last name, reads as every column but the label.
    """
    names = list(params.column_names)
    width = frame.shape[1]
    if width == len(names) - 1 and snake_case(names[-1]) == snake_case(params.label_column):
        names = names[:-1]
    if width != len(names):
        raise StageError(
            f"{source}: the first data row has {_fields(width)}, but "
            f"'ingest.columns' names {len(params.column_names)} columns"
        )
    return frame.set_axis(names, axis="columns")


def _first_row_where(
    source: str, params: IngestParams, wrong: Callable[[int], bool]
) -> tuple[int, int] | None:
    """(line, fields) of the first data row whose field count is `wrong`, if any.

    A second, slower pass (the csv module) that only error paths and rare files pay. Quoted
    delimiters and line breaks count as pandas counts them; a comment character outside
    quotes ends the row there, as in pandas (so a line starting with one is blank); blank
    lines are skipped; `line` is where the row starts in the file.
    """
    import fsspec

    header_pending = params.header
    with fsspec.open(
        source, "rt", compression="infer", encoding=params.encoding, newline=""
    ) as handle:
        reader = csv.reader(_uncommented(handle, params.comment), skipinitialspace=True)
        line = 1
        for row in reader:
            start, line = line, reader.line_num + 1
            if not any(field.strip() for field in row):
                continue
            if header_pending:
                header_pending = False
                continue
            if wrong(len(row)):
                return start, len(row)
    return None


def _uncommented(lines: Iterable[str], comment: str | None) -> Iterator[str]:
    """`lines` with each one cut at a comment character outside double quotes (a quoted
    field may span lines), one line out per line in, so line numbers stay true."""
    quoted = False
    for line in lines:
        if comment is None or comment not in line:
            quoted ^= line.count('"') % 2 == 1
            yield line
            continue
        for at, char in enumerate(line):
            if char == '"':
                quoted = not quoted
            elif char == comment and not quoted:
                yield line[:at] + ("\n" if line.endswith("\n") else "")
                break
        else:
            yield line


def _check_short_rows(frame: pd.DataFrame, source: str, params: IngestParams) -> None:
    """A row with fewer fields than the others is a ragged-row error naming its line.

    pandas pads a short row with empty strings, which normalise would turn into missing
    values: the row would be quarantined for the wrong reason. Padding ends a row with ""
    (a missing-value marker such as `?` reads as NA instead), so the field count is checked
    only when some row ends with an empty value (never, in Adult).
    """
    last = frame.iloc[:, -1]
    if pd.api.types.is_numeric_dtype(last) or not last.eq("").any():
        return
    width = frame.shape[1]
    short = _first_row_where(source, params, lambda fields: fields < width)
    if short is not None:
        line, fields = short
        raise StageError(
            f"{source}: ragged row at line {line}: {_fields(fields)}, expected {width}"
        )


def _longer_than_header(source: str, params: IngestParams) -> str:
    """The error for data rows with more fields than the header names."""
    header = pd.read_csv(source, nrows=0, comment=params.comment, encoding=params.encoding).shape[1]
    row = _first_row_where(source, params, lambda fields: fields > header)
    where = f"line {row[0]} has {_fields(row[1])}" if row else "a data row has more fields"
    return f"{source}: {where}, but the header names {header} columns"


def read_source(source: str, params: IngestParams) -> pd.DataFrame:
    """Read one CSV or parquet source whole; every failure becomes a StageError naming the
    file (see read_chunks)."""
    return next(read_chunks(source, params))


def read_chunks(
    source: str, params: IngestParams, chunk_rows: int | None = None
) -> Iterator[pd.DataFrame]:
    """One CSV or parquet source, whole (`chunk_rows` None: one frame) or `chunk_rows` rows
    at a time (a parquet file by record batches of its row groups, a CSV with pandas'
    chunksize), so that a batch larger than memory can be scored; every failure, whenever it
    comes, becomes a StageError naming the file.

    A CSV's width comes from its header (or, headerless, its first data row): a later row
    with more fields is a ragged-row error, and pandas may not turn an extra field into an
    index (`index_col=False`; its warning about the mismatch is an error here).
    """
    raw = _raw_chunks(source, params, chunk_rows)
    while True:
        with _read_errors(source, params):
            frame = next(raw, None)
        if frame is None:
            return
        if not source.lower().endswith(PARQUET_SUFFIXES):  # a parquet file names its columns
            if not params.header:
                frame = _named_columns(frame, params, source)
            _check_short_rows(frame, source, params)
        yield frame


def _raw_chunks(
    source: str, params: IngestParams, chunk_rows: int | None
) -> Iterator[pd.DataFrame]:
    if source.lower().endswith(PARQUET_SUFFIXES):
        if chunk_rows is None:
            yield pd.read_parquet(source)
            return
        import fsspec
        import pyarrow.parquet as pq

        with fsspec.open(source, "rb") as handle:
            for batch in pq.ParquetFile(handle).iter_batches(batch_size=chunk_rows):
                yield batch.to_pandas()
        return
    options: dict[str, Any] = {
        "header": 0 if params.header else None,
        "index_col": False,
        "na_values": params.na_values,
        "keep_default_na": False,
        "comment": params.comment,
        "encoding": params.encoding,
        "skipinitialspace": True,
        "compression": "infer",
        "low_memory": False,
    }
    if chunk_rows is None:
        yield pd.read_csv(source, **options)
        return
    with pd.read_csv(source, chunksize=chunk_rows, **options) as reader:
        yield from reader


@contextmanager
def _read_errors(source: str, params: IngestParams) -> Iterator[None]:
    """What reading `source` may raise, as one StageError line naming the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            yield
    except FileNotFoundError as exc:
        raise StageError(f"{source}: file not found") from exc
    except (PermissionError, IsADirectoryError) as exc:
        raise StageError(f"{source}: cannot read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise StageError(
            f"{source}: not valid {params.encoding} text (byte {exc.start}: {exc.reason}); "
            "set ingest.encoding"
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise StageError(f"{source}: file is empty (no data rows)") from exc
    except pd.errors.ParserError as exc:
        match = _C_ERROR.search(str(exc))
        if match:
            expected, line, seen = match.groups()
            like = "the header" if params.header else "the first data row"
            raise StageError(
                f"{source}: ragged row at line {line}: {seen} fields, expected {expected} "
                f"(as {like} has)"
            ) from exc
        raise StageError(f"{source}: cannot parse: {str(exc).strip()}") from exc
    except pd.errors.ParserWarning as exc:  # only with a header: a row longer than it
        raise StageError(_longer_than_header(source, params)) from exc
    except (EOFError, zlib.error, lzma.LZMAError) as exc:
        raise StageError(f"{source}: cannot decompress (truncated or corrupt): {exc}") from exc
    except (ImportError, OSError, ValueError) as exc:  # ImportError: fsspec lacks a backend
        raise StageError(f"{source}: cannot read: {exc}") from exc


def normalise(
    frame: pd.DataFrame, params: IngestParams, source: str, strings: Collection[str] = ()
) -> pd.DataFrame:
    """Snake_case names, `drop_columns` left out, trimmed strings, missing markers as NA,
    clean label values. Text is object with None for missing, except in the columns named
    in `strings` (as normalised), which stay pandas' string dtype."""
    names = [snake_case(c) for c in frame.columns]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise StageError(f"{source}: duplicate column names after normalising: {duplicated}")
    if frame.empty:
        raise StageError(f"{source}: file is empty (no data rows)")
    dropped = {snake_case(name) for name in params.drop_columns}
    result = frame.set_axis(names, axis="columns")
    result = result.drop(columns=[name for name in names if name in dropped])
    label = snake_case(params.label_column)
    missing = set(params.na_values)
    for column in result.columns:
        if not (
            pd.api.types.is_object_dtype(result[column])
            or pd.api.types.is_string_dtype(result[column])
        ):
            continue
        values = result[column].astype("string").str.strip()
        values = values.mask(values.isin(missing) | values.eq(""))
        if column == label and params.label_strip_suffix:
            values = values.str.removesuffix(params.label_strip_suffix)
        if column not in strings:
            values = values.astype(object).where(values.notna(), None)
        result[column] = values
    return result.reset_index(drop=True)


def ingest(source: str, params: IngestParams) -> pd.DataFrame:
    return normalise(read_source(source, params), params, source)


def labelled_batch(
    folder: str | Path, batch: str, params: IngestParams
) -> tuple[str, pd.DataFrame]:
    """(its path, its rows normalised) of a labelled batch listed in `ingest.train_batches`."""
    path = Path(folder) / f"{batch}.parquet"
    if not path.is_file():
        raise StageError(
            f"{path}: not found, but ingest.train_batches lists '{batch}': make it with "
            f"`make label-batch BATCH={batch}` or fetch it with `dvc pull {path}`"
        )
    return str(path), ingest(str(path), params)


def with_batches(train: pd.DataFrame, batches: Sequence[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """`train` followed by each (source, rows) batch in order, in train's column order; a
    batch whose columns are not train's is a StageError naming it."""
    expected = list(train.columns)
    for source, frame in batches:
        missing = [name for name in expected if name not in frame.columns]
        extra = [name for name in frame.columns if name not in expected]
        if missing or extra:
            raise StageError(
                f"{source}: its columns do not match the train source's (missing: "
                f"{', '.join(missing) or 'none'}; extra: {', '.join(map(str, extra)) or 'none'}); "
                "make it again with make label-batch, or take it out of ingest.train_batches"
            )
    if not batches:
        return train
    parts = [train, *(frame[expected] for _, frame in batches)]
    return pd.concat(parts, ignore_index=True)


def train_split(params: IngestParams, labelled: str | Path) -> tuple[pd.DataFrame, str]:
    """The train split and where its rows come from (the train source, then the batches)."""
    source = params.source("train")
    batches = [labelled_batch(labelled, batch, params) for batch in params.batches_in_window]
    frame = with_batches(ingest(source, params), batches)
    return frame, " + ".join([source, *(path for path, _ in batches)])


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", required=True, help="output parquet for the training split")
    parser.add_argument("--test", required=True, help="output parquet for the test split")
    parser.add_argument("--current", required=True, help="output parquet for the current batch")
    parser.add_argument(
        "--labelled", required=True, help="folder of labelled batches (ingest.train_batches)"
    )
    args = parser.parse_args(argv)
    outputs = {"train": args.train, "test": args.test, "current": args.current}
    progress = Progress(SECTION)
    remove_outputs(list(outputs.values()))  # bad params must not leave the last run's either
    params = load(IngestParams)
    # A bad test or current source must not leave a train split that looks valid.
    with removed_on_failure(list(outputs.values())):
        for split, target in outputs.items():
            if split == "train":
                frame, source = train_split(params, args.labelled)
            else:
                source = params.source(split)
                frame = ingest(source, params)
            write_split(frame, target, source)
            progress(f"{split}: {len(frame):,} rows x {frame.shape[1]} columns from {source}")


if __name__ == "__main__":
    run_stage(SECTION, main)
