"""``make monitor BATCH=<id> [LABELS=<file>]``: judge one scored batch (docs/monitoring.md).

1. ``stages.monitor prepare``: the batch id must name a batch ``make score`` wrote; a labels
   file is checked and merged into the batch's labels (a later label for the same id
   replaces the earlier one); ``monitoring/batch.yaml`` records the batch. Any error leaves
   every file as it was.
2. the frozen stage of ``monitoring/dvc.yaml`` runs and is recorded in
   ``monitoring/dvc.lock`` (``mlgate.dvcadapter.run_frozen``), so its metrics are what
   ``dvc metrics show`` and ``mlgate check --gates monitoring/gates.yaml`` read.

Paths come from the ``paths`` vars of ``monitoring/dvc.yaml``, its one source.

Usage: python -m scripts.monitor_run --batch ID [--labels FILE]
       python -m scripts.monitor_run --id-of SOURCE   (the default id of a batch file)
Exit codes: 0 done, 1 bad input or a failed run (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlgate import dvcadapter
from mlgate.errors import MlgateError
from mlgate.loaders import parse_yaml

PIPELINE = Path("monitoring/dvc.yaml")
STAGE = f"{PIPELINE.as_posix()}:monitor"
RECORD = PIPELINE.parent / "batch.yaml"


BATCH_SUFFIXES = (".gz", ".bz2", ".xz", ".zip", ".csv", ".parquet", ".pq", ".tsv")


def batch_id(source: str) -> str:
    """A batch's default id, as ``make score`` names it: the file name without its
    suffixes (``s3://b/2026-11.csv.gz`` -> ``2026-11``)."""
    name = source.rstrip("/").rsplit("/", 1)[-1]
    while name.lower().endswith(BATCH_SUFFIXES):
        name = name[: name.rfind(".")]
    return name


class MonitorRunError(Exception):
    """monitoring/dvc.yaml lacks what the run needs."""


def pipeline_paths(document: Any, source: str) -> dict[str, str]:
    """The ``paths`` mapping among the ``vars`` of monitoring/dvc.yaml."""
    entries = document.get("vars") if isinstance(document, Mapping) else None
    for entry in entries or []:
        if isinstance(entry, Mapping) and isinstance(entry.get("paths"), Mapping):
            return {str(key): str(value) for key, value in entry["paths"].items()}
    raise MonitorRunError(f"{source}: no 'paths' among its 'vars'")


def main(argv: list[str] | None = None, root: Path = Path(".")) -> int:
    from stages import monitor
    from stages.common import StageError

    parser = argparse.ArgumentParser(prog="monitor_run", description=__doc__.splitlines()[0])
    parser.add_argument("--batch")
    parser.add_argument("--source", help="the batch file, for its default id (as make score)")
    parser.add_argument("--labels")
    parser.add_argument("--id-of", metavar="SOURCE", help="print the default id of a batch file")
    args = parser.parse_args(argv)
    if args.id_of is not None:
        print(batch_id(args.id_of))
        return 0
    if not args.batch and args.source:
        args.batch = batch_id(args.source)
    if not args.batch:
        print("monitor: error: BATCH=<id> is required (the id make score printed)", file=sys.stderr)
        return 1
    try:
        pipeline = root / PIPELINE
        paths = pipeline_paths(
            parse_yaml(pipeline.read_text(encoding="utf-8"), str(pipeline)), str(pipeline)
        )
        monitor.prepare(
            [
                "--batch",
                args.batch,
                *(["--labels", args.labels] if args.labels else []),
                "--batches",
                str(root / paths["batches"]),
                "--labels-dir",
                str(root / paths["labels"]),
                "--record",
                str(root / RECORD),
            ]
        )
        dvcadapter.run_frozen(root, STAGE)
    except (StageError, MlgateError, MonitorRunError, KeyError, OSError) as exc:
        text = f"missing path {exc} in {PIPELINE}" if isinstance(exc, KeyError) else str(exc)
        print(f"monitor: error: {text}", file=sys.stderr)
        return 1
    print(f"monitor: batch {args.batch} judged: {paths['metrics']}, {paths['history']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
