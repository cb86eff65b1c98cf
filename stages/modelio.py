"""Model persistence with skops, byte-for-byte reproducible, loaded with an explicit trust list.

skops writes a zip archive whose entries carry the time they were written, are named after
`id()` of in-memory objects (or random UUIDs for raw bytes), and whose schema records those
ids. None of that is part of the model, so `canonical_archive` renames every id and file in
order of first appearance, orders the entries, and stamps them with a fixed date: the same
fitted model then always gives the same bytes, and so the same md5 in dvc.lock.

No pickle or joblib anywhere: loading goes through `skops.io.loads` with `TRUSTED_TYPES`,
the exact list of non-default types the pipeline's models are built from. A file that needs
anything else is refused instead of executed.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from stages.common import StageError, ensure_parent

SCHEMA_ENTRY = "schema.json"
FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can carry

# Types skops does not trust by default that the pipeline's models (both families, see
# stages/train.py) are made of. Keep it explicit: tests/stages/test_modelio.py checks that
# every supported model needs exactly these and nothing else.
TRUSTED_TYPES: tuple[str, ...] = (
    # gradient boosting's own input check, stored as partial(check_array, dtype=...)
    "functools.partial",
    "numpy.dtype",
    "sklearn.utils.validation.check_array",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)


def _renumber(node: Any, ids: dict[Any, int], files: dict[str, str]) -> Any:
    """A copy of a skops schema with `__id__` values and entry file names renumbered."""
    if isinstance(node, dict):
        result: dict[str, Any] = {}
        for key, value in sorted(node.items()):  # the order the schema is written in
            if key == "__id__":
                result[key] = ids.setdefault(value, len(ids) + 1)
            elif key == "file" and isinstance(value, str):
                suffix = Path(value).suffix
                result[key] = files.setdefault(value, f"{len(files) + 1}{suffix}")
            else:
                result[key] = _renumber(value, ids, files)
        return result
    if isinstance(node, list):
        return [_renumber(value, ids, files) for value in node]
    return node


def canonical_archive(archive: bytes) -> bytes:
    """The same skops archive with run-specific ids, names, order and dates removed."""
    with zipfile.ZipFile(io.BytesIO(archive)) as source:
        schema = json.loads(source.read(SCHEMA_ENTRY))
        files: dict[str, str] = {}
        renumbered = _renumber(schema, {}, files)
        entries = {new: source.read(old) for old, new in files.items()}
    entries[SCHEMA_ENTRY] = json.dumps(renumbered, indent=2, sort_keys=True).encode("utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3  # unix, whatever the host: the header byte is part of the md5
            target.writestr(info, entries[name], compresslevel=6)
    return buffer.getvalue()


def dumps_model(model: Any) -> bytes:
    import skops.io as sio

    return canonical_archive(sio.dumps(model))


def save_model(model: Any, path: str | Path) -> int:
    """Write `model` to `path` reproducibly; returns the size in bytes."""
    data = dumps_model(model)
    ensure_parent(path).write_bytes(data)
    return len(data)


def loads_model(data: bytes, source: str = "<bytes>") -> Any:
    """Load a skops archive, trusting only `TRUSTED_TYPES` (plus skops' own defaults)."""
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        return sio.loads(data, trusted=list(TRUSTED_TYPES))
    except UntrustedTypesFoundException as exc:
        raise StageError(f"{source}: refusing to load untrusted types ({exc})") from exc
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise StageError(f"{source}: not a readable skops model archive ({exc})") from exc


def load_model(path: str | Path) -> Any:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise StageError(f"{path}: cannot read model ({exc.strerror})") from exc
    return loads_model(data, str(path))
