"""`make label-batch BATCH=<id>`: a scored batch's labelled rows as training data.

Joins the batch's validated inputs (`monitoring/inputs/<id>.parquet`, written by
`make score`) with the labels received so far (`monitoring/labels/<id>.parquet`, merged by
`make monitor BATCH=<id> LABELS=<file>`) on `id`, keeping only the rows with a label, in the
inputs' order, and writes `data/labelled/<id>.parquet`: the schema's numeric and categorical
columns and the target, as ingest normalises a source, with no `id` or `batch` column (the
contract refuses columns it does not declare; the file's name is the batch). The file is
replaced whole, then DVC-tracked (`<id>.parquet.dvc`) and pushed when a default DVC remote
is configured. Listing the id in `params.yaml` `ingest.train_batches` appends it to the
train split (docs/retraining.md).

Paths come from the `paths` vars of `dvc.yaml` (`labelled`) and `monitoring/dvc.yaml`
(`batches`, `inputs`, `labels`), their one source.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from stages.common import (
    Progress,
    StageError,
    read_yaml,
    removed_on_failure,
    run_stage,
    shorten,
)
from stages.monitor import check_label_values
from stages.params import SchemaParams, is_batch_id, load
from stages.score import dvc_track
from stages.splits import read_split, require_columns, write_split

SECTION = "label_batch"
ID = "id"  # the key of the inputs and of the labels (docs/monitoring.md)
PIPELINE = Path("dvc.yaml")
MONITORING_PIPELINE = Path("monitoring/dvc.yaml")


# --- the labelled rows (pure) ------------------------------------------------------------------


def labelled_rows(
    inputs: pd.DataFrame, labels: pd.DataFrame, schema: SchemaParams, sources: tuple[str, str]
) -> pd.DataFrame:
    """The inputs' rows that have a label, in the inputs' order: the schema's numeric and
    categorical columns, then the target (its label, trimmed). A StageError names the file
    for labels outside `schema.labels`, a schema column the inputs lack, or no row joining."""
    inputs_source, labels_source = sources
    target = schema.target
    require_columns(labels, [ID, target], labels_source)
    answers = labels[[ID, target]].astype("string")
    answers[target] = answers[target].str.strip()
    check_label_values(answers, target, schema.labels, labels_source)
    features = [*schema.numeric, *schema.categorical]
    missing = [name for name in features if name not in inputs.columns]
    if missing:
        raise StageError(
            f"{inputs_source}: no column(s) {', '.join(missing)} of params.yaml schema (the "
            "batch was scored under an earlier schema): score the batch again with the current "
            "one (make score BATCH=<file> ID=<id>), or take the column(s) out of schema"
        )
    require_columns(inputs, [ID], inputs_source)
    rows = inputs[features].assign(**{ID: inputs[ID].astype("string")})
    answers = answers.drop_duplicates(subset=[ID], keep="last")  # monitor merged them so
    joined = rows.merge(answers, on=ID, how="inner", validate="many_to_one", sort=False)
    if joined.empty:
        example = shorten(str(answers[ID].iloc[0]), 40) if len(answers) else "none"
        raise StageError(
            f"{labels_source}: none of its {len(answers):,} ids (e.g. {example!r}) is among the "
            f"{len(inputs):,} rows of {inputs_source} that passed the contract: no labelled row"
        )
    joined[target] = joined[target].astype(object)
    return joined[[*features, target]].reset_index(drop=True)


# --- where a batch's files are ---------------------------------------------------------------


def pipeline_paths(pipeline: Path) -> dict[str, str]:
    """The `paths` mapping among the `vars` of a dvc.yaml."""
    try:
        document = read_yaml(pipeline.read_text(encoding="utf-8"), str(pipeline))
    except (OSError, UnicodeDecodeError) as exc:
        raise StageError(f"{pipeline}: cannot read ({exc})") from exc
    entries = document.get("vars") if isinstance(document, Mapping) else None
    for entry in entries or []:
        if isinstance(entry, Mapping) and isinstance(entry.get("paths"), Mapping):
            return {str(key): str(value) for key, value in entry["paths"].items()}
    raise StageError(f"{pipeline}: no 'paths' among its 'vars'")


@dataclass(frozen=True)
class BatchFiles:
    batch: str
    summary: Path  # make score's summary: the batch was scored
    inputs: Path
    labels: Path
    labelled: Path  # what this command writes

    @classmethod
    def of(cls, batch: str, root: Path) -> BatchFiles:
        monitoring, training = (
            pipeline_paths(root / MONITORING_PIPELINE),
            pipeline_paths(root / PIPELINE),
        )
        try:
            return cls(
                batch,
                root / monitoring["batches"] / f"{batch}.json",
                root / monitoring["inputs"] / f"{batch}.parquet",
                root / monitoring["labels"] / f"{batch}.parquet",
                root / training["labelled"] / f"{batch}.parquet",
            )
        except KeyError as exc:
            raise StageError(f"dvc.yaml or {MONITORING_PIPELINE}: no paths.{exc.args[0]}") from exc

    def read(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(inputs, labels), or the StageError that says which is missing and what to run."""
        if not self.summary.is_file():
            scored = sorted(path.stem for path in self.summary.parent.glob("*.json"))
            raise StageError(
                f"no batch '{self.batch}' was scored ({self.summary} not found; scored: "
                f"{', '.join(scored[-5:]) or 'none'})"
            )
        if not self.inputs.is_file():
            raise StageError(
                f"{self.inputs}: not in the workspace: fetch it with `dvc pull "
                f"{self.inputs.parent}`"
            )
        if not self.labels.is_file():
            raise StageError(
                f"batch '{self.batch}' has no labels yet ({self.labels} not found): merge a "
                f"labels file with `make monitor BATCH={self.batch} LABELS=<file>`"
            )
        return read_split(self.inputs), read_split(self.labels)


# --- writing and tracking ----------------------------------------------------------------------


def write_labelled(frame: pd.DataFrame, files: BatchFiles) -> None:
    """The file, replaced whole only once it is written (a failure keeps the old one)."""
    partial = files.labelled.with_name(f".{files.labelled.name}.partial")
    with removed_on_failure([partial]):
        write_split(frame, partial, f"{files.inputs} + {files.labels}")
        partial.replace(files.labelled)


def track(root: Path, path: Path) -> bool:
    """`dvc add` the file (its own .dvc file), and `dvc push` it when a default remote is
    set; whether it was pushed."""
    return dvc_track(root, [str(path)])


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", required=True, help="batch id, as make score printed it")
    args = parser.parse_args(argv)
    if not is_batch_id(args.batch):
        raise StageError(f"batch id {shorten(args.batch, 80)!r}: not one make score writes")
    root, progress = Path("."), Progress(SECTION)
    files = BatchFiles.of(args.batch, root)
    inputs, labels = files.read()
    frame = labelled_rows(
        inputs, labels, load(SchemaParams), (str(files.inputs), str(files.labels))
    )
    write_labelled(frame, files)
    with removed_on_failure([files.labelled]):
        pushed = track(root, files.labelled)
    print(_summary(files, len(frame), len(inputs), pushed))
    progress(f"to keep the record: git add {files.labelled}.dvc {files.labelled.parent}/.gitignore")
    progress(f"to train on it: add '{files.batch}' to ingest.train_batches in params.yaml")


def _summary(files: BatchFiles, rows: int, scored: int, pushed: bool) -> str:
    where = "pushed to the DVC remote" if pushed else "no DVC remote: not pushed"
    return (
        f"batch {files.batch}: {rows:,} labelled rows of {scored:,} scored written to "
        f"{files.labelled}; {where}"
    )


if __name__ == "__main__":
    run_stage(SECTION, main)
