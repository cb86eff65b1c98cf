"""Reading the parquet splits earlier stages wrote, with errors that name the file."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pandas as pd

from stages.common import StageError, shorten, writing

# Parquet key-value metadata: the file or URL ingest read a split from, so that an error
# about row N of data/interim/train.parquet can say which user file row N is in.
SOURCE_KEY = b"mlgate.source"


def shown_source(source: str) -> str:
    """`source` without what may be a secret: a URL's user, password and query string."""
    parts = urlsplit(source)
    if not parts.scheme or len(parts.scheme) == 1:  # a path (or a Windows drive letter)
        return source
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def write_split(frame: pd.DataFrame, path: str | Path, source: str) -> None:
    """Parquet, as `DataFrame.to_parquet(index=False)` writes it, plus where the rows came from."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = {**(table.schema.metadata or {}), SOURCE_KEY: shown_source(source).encode()}
    with writing(path) as target:
        pq.write_table(table.replace_schema_metadata(metadata), target)


def split_source(path: str | Path) -> str | None:
    """The source `write_split` recorded in a parquet split, if any."""
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(path).metadata or {}
    except Exception:  # only a hint for an error message being written: never a second error
        return None
    value = metadata.get(SOURCE_KEY)
    return value.decode("utf-8", "replace") if value else None


def read_split(path: str | Path) -> pd.DataFrame:
    """A parquet split, or a StageError naming the file (missing, unreadable, empty)."""
    import pyarrow

    try:
        frame = pd.read_parquet(path)
    except FileNotFoundError as exc:
        raise StageError(f"{path}: not found (run the earlier stages: dvc repro)") from exc
    except (OSError, pyarrow.ArrowException) as exc:
        raise StageError(f"{path}: not a readable parquet file ({exc})") from exc
    if frame.empty:
        raise StageError(f"{path}: no rows")
    return frame


def require_columns(frame: pd.DataFrame, columns: list[str], source: str) -> None:
    """A StageError naming the file and every missing column."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise StageError(f"{source}: missing column(s) {', '.join(missing)}")


def require_types(frame: pd.DataFrame, numeric: list[str], text: list[str], source: str) -> None:
    """A StageError naming the file, column and first row when a column a stage relies on
    does not hold what validate writes: numbers (float or int, finite or missing) in
    `numeric`, text (or missing) in `text`. Splits come from validate; a file made or
    edited by hand must fail here, not deep inside scikit-learn."""
    import numpy as np

    for column in numeric:
        values = frame[column]
        kind = values.dtype
        if pd.api.types.is_bool_dtype(kind) or not pd.api.types.is_numeric_dtype(kind):
            raise StageError(f"{source}: column '{column}' has type {kind}, expected numbers")
        infinite = np.isinf(values.to_numpy(dtype=np.float64, na_value=np.nan))
        if infinite.any():
            row = int(np.flatnonzero(infinite)[0]) + 1
            raise StageError(f"{source}: column '{column}' is infinite at row {row}")
    for column in text:
        values = frame[column]
        if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
            continue  # the usual case, checked in C
        wrong = values.notna() & ~values.map(lambda value: isinstance(value, str))
        if wrong.any():
            row = int(np.flatnonzero(wrong.to_numpy())[0])
            raise StageError(
                f"{source}: column '{column}' holds {type(values.iloc[row]).__name__} "
                f"{shorten(str(values.iloc[row]), 80)!r} at row {row + 1}, expected text"
            )


def require_labels(values: pd.Series, labels: list[str], source: str) -> None:
    """A StageError naming the file, column and first row holding a label outside
    `schema.labels`: coded 0/1 as it is, it would silently count as a negative. Missing
    values pass (the current batch may be unlabelled)."""
    import numpy as np

    unknown = values.notna() & ~values.isin(labels)
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise StageError(
            f"{source}: column '{values.name}' holds {shorten(str(values.iloc[row]), 80)!r} at "
            f"row {row + 1}, not one of schema.labels {labels}"
        )
