"""`make score`: score a batch with the model a registry stage (or version) names.

The batch (CSV or parquet, a local path or an fsspec URL) is read as ingest reads its
sources (`ingest:` options), `monitoring.chunk_rows` rows at a time, each chunk checked
against the data contract (`schema:`) with validate's row rules; the rows that pass are
scored `monitoring.model_rows` at a time. All is appended to the batch's files under
monitoring/ (docs/production.md):

    predictions/<batch>.parquet   id, score, prediction, model_version, batch, scored_at
    inputs/<batch>.parquet        id and the validated schema columns, in the log's order
    quarantine/<batch>.parquet    rows that broke the contract: source_row, failed_checks
    batches/<batch>.json          what was scored with what, and the quarantine counts

Every file is written to monitoring/.cache/tmp/ first and moved into place only once the
whole batch has passed; the three parquet folders are then DVC-tracked (`dvc add`) and
pushed when a default DVC remote is configured. Only a released model scores (see
stages/released.py).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from stages.common import (
    Progress,
    StageError,
    remove_outputs,
    removed_on_failure,
    run_stage,
    shorten,
    write_json,
    writing,
)
from stages.ingest import normalise, read_chunks, snake_case
from stages.params import (
    EvaluateParams,
    IngestParams,
    MonitoringParams,
    SchemaParams,
    ValidateParams,
    is_batch_id,
    load,
)
from stages.released import CACHE, MONITORING, Release, fetch_model, resolve
from stages.splits import shown_source
from stages.validate import FAILED_CHECKS_COLUMN, SOURCE_ROW_COLUMN, check_rows, quarantine

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

SECTION = "score"
TRACKED = ("predictions", "inputs", "quarantine")  # DVC-tracked folders under monitoring/
BATCHES = "batches"  # small JSON summaries, committed to git
TEMPORARY = CACHE / "tmp"
ID = "id"
LOG_COLUMNS = ("id", "score", "prediction", "model_version", "batch", "scored_at")
# what a batch file's name may end with, left out of the batch id (2026-11.csv.gz: 2026-11)
DATA_SUFFIXES = (".csv", ".txt", ".data", ".test", ".parquet", ".pq", ".parq")
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".zip", ".tar")
MISSING_ID_CHECK = "not_nullable"


# --- batch ids and row ids (pure) ---------------------------------------------------------


def checked_batch_id(batch: str) -> str:
    """`batch`, if it can name the batch's files; else a StageError saying what may."""
    if not is_batch_id(batch):
        raise StageError(
            f"batch id {shorten(batch, 80)!r} cannot name files: use letters, digits, '.', '_' "
            "and '-' (at most 100, starting with a letter or digit); set one with ID=..."
        )
    return batch


def batch_id(source: str) -> str:
    """The batch id of a file or URL: its name without its data and compression suffixes
    (`s3://b/2026-11.csv.gz?x=1` -> `2026-11`)."""
    name = PurePosixPath(urlsplit(source).path if "://" in source else source).name
    name = name.rsplit("\\", 1)[-1]
    lowered = name.lower()
    for suffixes in (COMPRESSION_SUFFIXES, DATA_SUFFIXES):
        for suffix in suffixes:
            if lowered.endswith(suffix) and len(name) > len(suffix):
                name, lowered = name[: -len(suffix)], lowered[: -len(suffix)]
                break
    return checked_batch_id(name)


@dataclass
class RowIds:
    """A batch's row ids: its `monitoring.id_column` (integers when the first chunk holds
    whole numbers, else text, so every chunk writes the same type) or, without that column,
    the row's position in the batch, from 0."""

    column: str | None  # the id column as normalised (snake_case), None: rows are numbered
    integers: bool = True

    @classmethod
    def of(cls, first: pd.DataFrame, id_column: str) -> RowIds:
        column = snake_case(id_column)
        if column not in first.columns:
            return cls(None)
        return cls(column, _whole_numbers(first[column]))

    def split(self, frame: pd.DataFrame, first_row: int, source: str) -> tuple[pd.DataFrame, Any]:
        """(the frame without its id column, the ids as a Series aligned with it); a missing
        id is NA (its row is quarantined). Rows are numbered from `first_row`."""
        if self.column is None:
            places = np.arange(first_row, first_row + len(frame), dtype=np.int64)
            return frame, pd.Series(places, index=frame.index, dtype="Int64")
        values = frame[self.column]
        rest = frame.drop(columns=[self.column])
        if self.integers:
            # text in a CSV chunk where a value is empty ("" reads as text, then missing)
            numbers = pd.to_numeric(values, errors="coerce").astype("float64")
            whole = np.isfinite(numbers) & (numbers % 1 == 0) & (numbers.abs() < 2**53)
            bad = values.notna() & ~whole
            if bad.any():
                raise StageError(
                    f"{source}: id column '{self.column}' holds "
                    f"{shorten(str(values[bad].iloc[0]), 80)!r}, but its first rows are whole "
                    "numbers: ids must be all whole numbers or all text"
                )
            return rest, numbers.astype("Int64")
        return rest, values.map(lambda value: str(value), na_action="ignore").astype("string")


def _whole_numbers(values: pd.Series) -> bool:
    kind = values.dtype
    if pd.api.types.is_bool_dtype(kind):
        return False
    if pd.api.types.is_integer_dtype(kind):
        return True
    if pd.api.types.is_float_dtype(kind):
        present = values.dropna()
        return bool(len(present) and np.isfinite(present).all() and (present % 1 == 0).all())
    return False  # text ids stay text, even "001"


def missing_id_cases(ids: pd.Series, column: str | None) -> pd.DataFrame:
    """A row-check case (as validate.check_rows lists them) for each row without an id."""
    missing = ids.isna()
    name = column or ID
    return pd.DataFrame(
        {
            "column": name,
            "check": MISSING_ID_CHECK,
            "failure_case": "None",
            "index": ids.index[missing].astype("int64"),
            "key": f"{name}: {MISSING_ID_CHECK}",
        }
    )


# --- checking one chunk and scoring rows (pure) --------------------------------------------


@dataclass(frozen=True)
class CheckedChunk:
    inputs: pd.DataFrame  # id + schema feature columns, the rows that passed
    ids: np.ndarray  # their ids, same rows and order
    features: pd.DataFrame  # the model's columns of those rows, text as codes (encoded)
    quarantined: pd.DataFrame  # raw rows, source_row (1-based in the batch), failed_checks
    violations: dict[str, int]  # "column: check" -> rows


@dataclass(frozen=True)
class Scoring:
    """Everything a chunk is checked and scored with."""

    model: Any
    contract: SchemaParams
    limits: ValidateParams
    threshold: float
    version: str
    batch: str
    scored_at: pd.Timestamp

    @property
    def feature_columns(self) -> list[str]:
        return [*self.contract.numeric, *self.contract.categorical]


def encoded(frame: pd.DataFrame, contract: SchemaParams) -> pd.DataFrame:
    """`frame` (rows that passed the contract) with each categorical column as the position
    of its value in the contract's `values`, -1 for missing: 1 byte a value instead of a
    Python string, so that the rows of several chunks can wait for one model call (see
    score_file). `decoded` gives the text back."""
    import pyarrow as pa
    import pyarrow.compute as pc

    codes = {}
    for name in frame.columns:
        if name not in contract.categorical:
            continue
        values = contract.categorical[name].values
        text = pa.array(frame[name], type=pa.string(), from_pandas=True)
        found = pc.index_in(text, value_set=pa.array(values, type=pa.string()))
        if found.null_count != text.null_count:  # the contract's isin check lets none through
            raise ValueError(f"column {name!r} holds a value the contract does not declare")
        positions = found.fill_null(-1).to_numpy(zero_copy_only=False)
        codes[name] = positions.astype(np.min_scalar_type(-len(values)))
    return frame.assign(**codes)


def decoded(features: pd.DataFrame, contract: SchemaParams) -> pd.DataFrame:
    """`encoded`'s codes back to text as validate writes it (object, None for missing): the
    model is given the same values as before it waited, and each text value is one of the
    contract's string objects, whose hash Python keeps (the model's encoder looks each value
    up in a dict: 1.9 s for 1 M Adult rows, against 2.2 s for fresh strings)."""
    text = {}
    for name in features.columns:
        if name not in contract.categorical:
            continue
        table = np.array([*contract.categorical[name].values, None], dtype=object)
        text[name] = pd.Series(
            table[features[name].to_numpy()], index=features.index, dtype=object, copy=False
        )
    return features.assign(**text)


def scores_of(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """P(positive) for each row: the pipeline's model is trained on 0/1 targets (featurize)."""
    return np.asarray(model.predict_proba(frame[list(model.feature_names_in_)]))[:, 1]


def check_chunk(
    raw: pd.DataFrame, ids: RowIds, scoring: Scoring, first_row: int, source: str
) -> CheckedChunk:
    """Check and quarantine one normalised chunk whose first row is `first_row` (0-based)
    of the batch. A whole-column failure (a missing, extra or mistyped column) is a
    StageError naming the file."""
    frame = raw.set_axis(pd.RangeIndex(len(raw)), axis="index")
    features, row_ids = ids.split(frame, first_row, source)
    checked = check_rows(features, scoring.contract, scoring.limits, labelled=False)
    if checked.schema_errors:
        raise StageError(f"{source}: {'; '.join(dict.fromkeys(checked.schema_errors))}")
    cases = pd.concat(
        [checked.row_cases, missing_id_cases(row_ids, ids.column)], ignore_index=True
    ).sort_values(["index", "key"], kind="stable")
    keep, quarantined = quarantine(frame, cases)
    quarantined[SOURCE_ROW_COLUMN] += first_row
    valid_ids = row_ids[keep].to_numpy()
    # as checked (text as arrow-backed strings: written to parquet without a copy)
    inputs = checked.validated.loc[keep, scoring.feature_columns].reset_index(drop=True)
    for_model = inputs[list(scoring.model.feature_names_in_)]
    inputs.insert(0, ID, valid_ids)
    violations = cases.drop_duplicates(["index", "key"])["key"].value_counts()
    return CheckedChunk(
        inputs,
        valid_ids,
        encoded(for_model, scoring.contract),
        quarantined,
        {str(k): int(v) for k, v in violations.items()},
    )


def prediction_log(ids: np.ndarray, features: pd.DataFrame, scoring: Scoring) -> pd.DataFrame:
    """The log's rows (LOG_COLUMNS) for rows that passed: `features` as `encoded` gives
    them, scored in one model call."""
    model_input = decoded(features, scoring.contract)
    scores = scores_of(scoring.model, model_input) if len(features) else np.empty(0)
    labels = np.where(
        scores >= scoring.threshold,
        scoring.contract.positive_label,
        scoring.contract.negative_label,
    )
    return pd.DataFrame(
        {
            "id": ids,
            "score": scores.astype(np.float64),
            "prediction": labels.astype(object),
            "model_version": scoring.version,
            "batch": scoring.batch,
            "scored_at": scoring.scored_at,
        }
    )


@dataclass
class ModelBatches:
    """Checked chunks' rows waiting for the model, handed out `rows` at a time.

    The model is called once per `monitoring.model_rows` rows, not once per chunk: the
    gradient boosting model opens one OpenMP region per tree per call, and its trees took
    16.5 s for 1 M rows in five calls of 200,000 against 12.5 s in one on this project's
    shared 2-CPU host (benchmarks/results/scoring.md). Rows wait as category codes
    (`encoded`): 64 bytes each with their id for the Adult columns."""

    rows: int
    ids: list[np.ndarray] = field(default_factory=list)
    features: list[pd.DataFrame] = field(default_factory=list)
    waiting: int = 0

    def add(self, ids: np.ndarray, features: pd.DataFrame) -> None:
        self.ids.append(ids)
        self.features.append(features)
        self.waiting += len(ids)

    def ready(self, last: bool = False) -> list[tuple[np.ndarray, pd.DataFrame]]:
        """(ids, features) of `rows` rows each while that many wait, in order; with `last`,
        the rest too. What it hands out no longer waits."""
        if self.waiting < self.rows and not (last and self.waiting):
            return []
        ids = np.concatenate(self.ids)
        features = pd.concat(self.features, ignore_index=True)
        whole = len(ids) if last else len(ids) - len(ids) % self.rows
        # copies: a view would keep the whole concatenation alive until the next call
        self.ids, self.features = [ids[whole:].copy()], [features.iloc[whole:].copy()]
        self.waiting = len(ids) - whole
        return [
            (ids[start : start + self.rows], features.iloc[start : start + self.rows])
            for start in range(0, whole, self.rows)
        ]


def column_violations(keys: dict[str, int]) -> dict[str, int]:
    """Rows failing a check, by column ("age: less_than_or_equal_to(100)" counts for age)."""
    by_column: dict[str, int] = {}
    for key, rows in keys.items():
        column = key.split(": ", 1)[0]
        by_column[column] = by_column.get(column, 0) + rows
    return dict(sorted(by_column.items()))


# --- writing a batch --------------------------------------------------------------------------


def _arrow_schemas(scoring: Scoring, ids: RowIds) -> tuple[pa.Schema, pa.Schema]:
    import pyarrow as pa

    id_type = pa.int64() if ids.integers else pa.string()
    log = pa.schema(
        [
            ("id", id_type),
            ("score", pa.float64()),
            ("prediction", pa.string()),
            ("model_version", pa.string()),
            ("batch", pa.string()),
            ("scored_at", pa.timestamp("us", tz="UTC")),
        ]
    )
    inputs = pa.schema(
        [
            (ID, id_type),
            *((name, pa.float64()) for name in scoring.contract.numeric),
            *((name, pa.string()) for name in scoring.contract.categorical),
        ]
    )
    return log, inputs


def _quarantine_table(frame: pd.DataFrame) -> pa.Table:
    """Quarantined rows as text (what the file held, whatever type a chunk read it as), so
    that every chunk appends the same schema; source_row a number."""
    import pyarrow as pa

    raw = [name for name in frame.columns if name != SOURCE_ROW_COLUMN]
    columns = {
        name: pa.array(
            [None if pd.isna(value) else str(value) for value in frame[name]], type=pa.string()
        )
        for name in raw
    }
    columns[SOURCE_ROW_COLUMN] = pa.array(frame[SOURCE_ROW_COLUMN].astype("int64"))
    return pa.table(columns)


@dataclass
class _Writers:
    """The batch's three parquet files, appended chunk by chunk in monitoring/.cache/tmp/."""

    folder: Path
    log_schema: pa.Schema
    inputs_schema: pa.Schema
    open: dict[str, pq.ParquetWriter] = field(default_factory=dict)

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.parquet"

    def append(self, name: str, table: pa.Table) -> None:
        import pyarrow.parquet as pq

        if name not in self.open:
            with writing(self.path(name)) as target:
                self.open[name] = pq.ParquetWriter(target, table.schema)
        with writing(self.path(name)):
            self.open[name].write_table(table)

    def write(self, chunk: CheckedChunk) -> None:
        import pyarrow as pa

        inputs = pa.Table.from_pandas(chunk.inputs, schema=self.inputs_schema, preserve_index=False)
        self.append("inputs", inputs.replace_schema_metadata(None))
        if len(chunk.quarantined):
            self.append("quarantine", _quarantine_table(chunk.quarantined))

    def write_log(self, log: pd.DataFrame) -> None:
        import pyarrow as pa

        table = pa.Table.from_pandas(log, schema=self.log_schema, preserve_index=False)
        self.append("predictions", table.replace_schema_metadata(None))

    def close(self, quarantine_columns: list[str]) -> None:
        import pyarrow as pa

        for name in ("predictions", "inputs"):
            if name not in self.open:  # no chunk at all: files with the schema and no rows
                schema = self.log_schema if name == "predictions" else self.inputs_schema
                self.append(name, schema.empty_table())
        if "quarantine" not in self.open:
            fields = [(name, pa.string()) for name in quarantine_columns]
            fields.append((SOURCE_ROW_COLUMN, pa.int64()))
            self.append("quarantine", pa.schema(fields).empty_table())
        for name, writer in self.open.items():
            with writing(self.path(name)):
                writer.close()

    def abort(self) -> None:
        for writer in self.open.values():
            # the disk that failed the write may fail the footer too
            with contextlib.suppress(OSError):
                writer.close()


@dataclass(frozen=True)
class BatchSummary:
    rows: int
    scored: int
    quarantined: int
    violations: dict[str, int]  # by column


def score_file(
    source: str,
    ingest_params: IngestParams,
    settings: MonitoringParams,
    scoring: Scoring,
    folder: Path,
    progress: Progress | None = None,
) -> BatchSummary:
    """Score `source` into `folder` (predictions, inputs and quarantine .parquet): read and
    checked `monitoring.chunk_rows` rows at a time, the rows that passed scored
    `monitoring.model_rows` at a time; the batch's counts. Raises a StageError for a batch
    that must not be scored (the files in `folder` are then the caller's to remove)."""
    ids, columns, chunks = _opened(source, ingest_params, settings, scoring.contract)
    writers = _Writers(folder, *_arrow_schemas(scoring, ids))
    waiting = ModelBatches(settings.model_rows)
    rows = passed = scored = 0
    keys: dict[str, int] = {}
    try:
        for chunk in chunks:
            checked = check_chunk(chunk, ids, scoring, rows, source)
            rows += len(chunk)
            del chunk  # the chunk as read is not kept while the model scores (peak memory)
            writers.write(checked)
            waiting.add(checked.ids, checked.features)
            passed += len(checked.ids)
            for key, count in checked.violations.items():
                keys[key] = keys.get(key, 0) + count
            del checked
            for row_ids, features in waiting.ready():
                writers.write_log(prediction_log(row_ids, features, scoring))
                scored += len(row_ids)
            if progress is not None:
                progress(f"{rows:,} rows read, {passed:,} passed, {scored:,} scored")
        for row_ids, features in waiting.ready(last=True):
            writers.write_log(prediction_log(row_ids, features, scoring))
        writers.close([*columns, FAILED_CHECKS_COLUMN])
    except BaseException:
        writers.abort()
        raise
    summary = BatchSummary(rows, passed, rows - passed, column_violations(keys))
    _check_batch(summary, settings, source)
    if ids.column is not None:
        _check_unique_ids(writers.path("predictions"), ids.column, source)
    return summary


def _opened(
    source: str, params: IngestParams, settings: MonitoringParams, contract: SchemaParams
) -> tuple[RowIds, list[str], Iterator[pd.DataFrame]]:
    """(the batch's row ids, its columns as normalised, its chunks); the first chunk is not
    kept beyond its turn."""
    # The contract's text columns stay pandas' string dtype (validate's are object): pandera
    # checks a string column's type at once instead of value by value (2.1 s instead of
    # 8.6 s for 200,000 Adult rows), and they are written to the inputs file without a copy.
    chunks = _normalised(source, params, settings.chunk_rows, list(contract.categorical))
    first = next(chunks, None)
    if first is None:
        raise StageError(f"{source}: file is empty (no data rows)")
    ids = RowIds.of(first, settings.id_column)
    return ids, [*map(str, first.columns)], itertools.chain([first], chunks)


def _normalised(
    source: str, params: IngestParams, chunk_rows: int, strings: list[str]
) -> Iterator[pd.DataFrame]:
    for chunk in read_chunks(source, params, chunk_rows):
        yield normalise(chunk, params, source, strings)


def _check_batch(summary: BatchSummary, settings: MonitoringParams, source: str) -> None:
    share = summary.quarantined / summary.rows
    if share > settings.max_quarantine_share:
        raise StageError(
            f"{source}: {summary.quarantined:,} of {summary.rows:,} rows ({share:.2%}) fail "
            f"the data contract, above monitoring.max_quarantine_share="
            f"{settings.max_quarantine_share} (by column: {summary.violations})"
        )
    if summary.scored < settings.min_rows:
        raise StageError(
            f"{source}: {summary.scored:,} rows pass the data contract "
            f"({summary.quarantined:,} quarantined), fewer than monitoring.min_rows="
            f"{settings.min_rows}"
        )


def _check_unique_ids(log: Path, column: str, source: str) -> None:
    """Ids must name one row each: labels arriving later are joined on them."""
    import pyarrow.parquet as pq

    ids = pq.read_table(log, columns=["id"]).column("id").to_pandas()
    repeated = ids[ids.duplicated()]
    if len(repeated):
        raise StageError(
            f"{source}: id column '{column}' repeats {shorten(str(repeated.iloc[0]), 80)!r} "
            f"({ids.duplicated(keep=False).sum():,} rows share an id); ids must be unique"
        )


# --- publishing -----------------------------------------------------------------------------


def batch_files(root: Path, batch: str) -> dict[str, Path]:
    """Where a batch's files go, by kind (TRACKED, then BATCHES)."""
    files = {kind: root / MONITORING / kind / f"{batch}.parquet" for kind in TRACKED}
    files[BATCHES] = root / MONITORING / BATCHES / f"{batch}.json"
    return files


def summary_record(
    batch: str, source: str, release: Release, summary: BatchSummary, scored_at: pd.Timestamp
) -> dict[str, Any]:
    return {
        "batch": batch,
        "source": shown_source(source),
        "model_version": release.version,
        "model_commit": release.commit,
        "artifact": release.artifact,
        "rows": summary.rows,
        "scored": summary.scored,
        "quarantined": summary.quarantined,
        "quarantine_share": summary.quarantined / summary.rows,
        "violations": summary.violations,
        "scored_at": scored_at.isoformat().replace("+00:00", "Z"),
    }


def dvc_track(root: Path, paths: list[str]) -> bool:
    """`dvc add` `paths` (each its own .dvc file) in the project at `root`, and `dvc push`
    them when a default remote is set; whether they were pushed. DVC's errors are one line."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(str(root)) as repo:
            repo.add(paths)
            if not repo.config["core"].get("remote"):
                return False
            repo.push(targets=paths)
    except DvcException as exc:
        raise StageError(f"dvc: {' '.join(str(exc).split())}") from exc
    return True


def tracked_paths(root: Path, batch: str) -> list[Path]:
    """What DVC tracks of a batch: each file on its own (`<kind>/<id>.parquet.dvc`), so that
    a later job pulls one batch, not every batch ever scored; a folder a project tracks whole
    (`monitoring/<kind>.dvc`, as mlgate did before) stays so: DVC cannot track a file inside a
    tracked folder, and re-adding the folder needs all of its files present."""
    files = batch_files(root, batch)
    return [
        files[kind].parent if files[kind].parent.with_suffix(".dvc").is_file() else files[kind]
        for kind in TRACKED
    ]


def track(root: Path, batch: str) -> bool:
    """`dvc add` the batch's files (`tracked_paths`), and `dvc push` them when a default
    remote is set; whether they were pushed."""
    return dvc_track(root, [str(path) for path in tracked_paths(root, batch)])


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", required=True, help="CSV or parquet file or URL to score")
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--stage", help="score with the version holding this stage (prod)")
    chosen.add_argument("--version", help="score with this released version (v1.2.0)")
    parser.add_argument("--id", help="batch id (default: the file name without suffixes)")
    args = parser.parse_args(argv)
    progress, root = Progress(SECTION), Path(".")
    if not args.batch:
        raise StageError("no batch to score: make score BATCH=<file or URL>")
    batch = batch_id(args.batch) if args.id is None else checked_batch_id(args.id)
    ingest_params, settings = load(IngestParams), load(MonitoringParams)
    contract, limits = load(SchemaParams), load(ValidateParams)
    release = resolve(args.stage, args.version, root)
    from stages.modelio import load_model

    model = load_model(fetch_model(release, root))
    progress(f"batch {batch}: scoring with {release.tag} (commit {release.commit[:12]})")
    scored_at = pd.Timestamp(datetime.now(timezone.utc)).floor("us")
    # Duplicated rows are no reason to refuse a production batch (people share features);
    # validate.max_duplicate_share guards training data.
    scoring = Scoring(
        model,
        contract,
        limits.model_copy(update={"max_duplicate_share": 1.0}),
        load(EvaluateParams).threshold,
        release.version,
        batch,
        scored_at,
    )
    files = batch_files(root, batch)
    (root / TEMPORARY).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root / TEMPORARY) as folder:
        summary = score_file(args.batch, ingest_params, settings, scoring, Path(folder), progress)
        with removed_on_failure(list(files.values())):
            for kind in TRACKED:
                remove_outputs([files[kind]])
                files[kind].parent.mkdir(parents=True, exist_ok=True)
                os.replace(Path(folder) / f"{kind}.parquet", files[kind])
            write_json(
                files[BATCHES], summary_record(batch, args.batch, release, summary, scored_at)
            )
            pushed = track(root, batch)
    print(
        f"batch {batch}: {summary.scored:,} of {summary.rows:,} rows scored with "
        f"{release.artifact} {release.version} ({release.tag}), {summary.quarantined:,} "
        f"quarantined; {'pushed to the DVC remote' if pushed else 'no DVC remote: not pushed'}"
    )
    records = " ".join(f"{path}.dvc" for path in tracked_paths(root, batch))
    progress(f"to keep the record: git add {files[BATCHES]} {records} (and their .gitignore)")


if __name__ == "__main__":
    run_stage(SECTION, main)
