"""Reading the parquet splits earlier stages wrote, with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from stages.common import StageError


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
