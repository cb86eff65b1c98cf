"""Point the pipeline's ``ingest.current_source`` at the newest batch (monitor workflow).

The batch to watch, first match wins:

1. ``MONITOR_SOURCE`` (the workflow_dispatch input, or the ``MONITOR_CURRENT_SOURCE``
   secret): a path in the repository or any fsspec URL ``ingest`` reads;
2. the newest file in ``data/current/`` (newest by name: name batches by date, e.g.
   ``2026-11-23.csv.gz``, so that the order is the arrival order);
3. otherwise ``params.yaml`` is left as it is (the published test split).

Only that one line of ``params.yaml`` is rewritten, comments and layout kept, in the
runner's checkout; nothing is committed. ``dvc repro drift`` then rebuilds what depends on it.

Usage: python -m scripts.monitor_batch
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

from mlgate.errors import MlgateError
from mlgate.loaders import parse_yaml

PARAMS = Path("params.yaml")
BATCH_DIR = Path("data/current")
BATCH_SUFFIXES = (".csv", ".csv.gz", ".parquet")
_SECTION = re.compile(r"^ingest:\s*(#.*)?$", re.M)
_KEY = re.compile(
    r"^(?P<indent>[ \t]+)current_source:[ \t]*(?P<value>[^#\n]*?)(?P<comment>[ \t]+#[^\n]*)?$", re.M
)


class BatchError(Exception):
    """The batch or params.yaml cannot be used."""


def newest_batch(directory: Path) -> str | None:
    if not directory.is_dir():
        return None
    batches = sorted(
        p for p in directory.iterdir() if p.is_file() and p.name.endswith(BATCH_SUFFIXES)
    )
    return batches[-1].as_posix() if batches else None


def choose_source(env: Mapping[str, str], batch_dir: Path = BATCH_DIR) -> str | None:
    explicit = env.get("MONITOR_SOURCE", "").strip()
    return explicit or newest_batch(batch_dir)


def set_current_source(params_text: str, source: str) -> str:
    """``params_text`` with ``ingest.current_source`` set to ``source`` (quoted), all else kept."""
    if not source or any(ch in source for ch in "\n\r\0"):
        raise BatchError("MONITOR_SOURCE: expected one line naming a path or URL")
    section = _SECTION.search(params_text)
    if section is None:
        raise BatchError(f"{PARAMS}: no top-level 'ingest:' section")
    following = re.search(r"^\S", params_text[section.end() :], re.M)
    end = section.end() + following.start() if following else len(params_text)
    key = _KEY.search(params_text, section.end(), end)
    if key is None:
        raise BatchError(f"{PARAMS}: no 'ingest.current_source' key")
    quoted = yaml.safe_dump(source, default_style='"', width=1 << 30, allow_unicode=True)
    line = f"{key['indent']}current_source: {quoted.strip()}{key['comment'] or ''}"
    updated = params_text[: key.start()] + line + params_text[key.end() :]
    parsed = parse_yaml(updated, str(PARAMS))  # as DVC and the stages will read it
    if (parsed.get("ingest") or {}).get("current_source") != source:  # pragma: no cover
        raise BatchError(f"{PARAMS}: could not set 'ingest.current_source'")
    return updated


def main(env: Mapping[str, str] | None = None, params: Path = PARAMS) -> int:
    env = os.environ if env is None else env
    source = choose_source(env)
    if source is None:
        print(f"monitor: no MONITOR_SOURCE and no batch in {BATCH_DIR}/: keeping {params}")
        return 0
    try:
        params.write_text(set_current_source(params.read_text(encoding="utf-8"), source))
    except (BatchError, MlgateError, OSError) as exc:  # MlgateError: params.yaml unreadable
        print(f"::error::monitor: {exc}", file=sys.stderr)
        return 2
    print(f"monitor: ingest.current_source = {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
