"""Model persistence with skops, byte-for-byte reproducible, loaded with an explicit trust list.

skops writes a zip archive whose entries carry the time they were written, are named after
`id()` of in-memory objects (or random UUIDs for raw bytes), and whose schema records those
ids. None of that is part of the model, so `canonical_archive` renames every id and file in
order of first appearance, orders the entries, and stamps them with a fixed date: the same
fitted model then always gives the same bytes, and so the same md5 in dvc.lock.

No pickle or joblib anywhere: loading goes through `skops.io.loads` with `TRUSTED_TYPES`,
the exact list of types the pipeline's models are built from beyond Python's, numpy's and
scipy's basics. A file that needs anything else is refused instead of executed.

skops is imported without its scan of every scikit-learn estimator (see `_skops_io`), so
scikit-learn's estimators are trusted because `TRUSTED_TYPES` names them, not because they
are estimators.

Import order: on import, skops also lists scipy's ufuncs to trust by default, and finds
the module of each one (they carry no `__module__`) by trying every module already
imported, in import order, until one holds it: ~420 lookups per module passed. Imported
after pandas and scikit-learn, scipy.special stands ~950 modules down the list, and the
search took 0.3-0.5 s of each model stage (featurize, train, evaluate). This module
imports scipy.special itself, and the model stages import this module first, so it
stands ~200 modules down and the search takes about a fifth of that. Same names found,
same models; tests/stages/test_modelio.py checks the order for each model stage.
"""

from __future__ import annotations

import importlib
import io
import json
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import scipy.special  # noqa: F401  (first: see "Import order" above)

from stages.common import StageError, ensure_parent

SCHEMA_ENTRY = "schema.json"
FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can carry

# Every type the pipeline's models (both families, see stages/train.py) are made of, beyond
# the basics skops trusts by default. Keep it explicit: tests/stages/test_modelio.py checks
# that the supported models need exactly these and nothing else.
TRUSTED_TYPES: tuple[str, ...] = (
    # the inference pipeline: featurizer (stages/featurize.py), then the classifier
    "sklearn.pipeline.Pipeline",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.preprocessing._encoders.OrdinalEncoder",
    # hist_gradient_boosting, with its own categorical encoder and input check, stored as
    # FunctionTransformer(partial(check_array, dtype=...))
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn.utils.validation.check_array",
    "functools.partial",
    "numpy.dtype",
    # logistic_regression
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._encoders.OneHotEncoder",
)


@contextmanager
def _estimator_scan_skipped() -> Iterator[None]:
    """While active, scikit-learn's `all_estimators()` finds nothing."""
    import sklearn.utils

    scan = sklearn.utils.all_estimators
    sklearn.utils.all_estimators = lambda *args, **kwargs: []
    try:
        yield
    finally:
        sklearn.utils.all_estimators = scan


def _skops_io() -> ModuleType:
    """`skops.io`, imported (once per process) without its scan of scikit-learn.

    On import, skops lists every scikit-learn estimator to trust by default
    (`sklearn.utils.all_estimators`), which imports every scikit-learn module, and pytest
    with them where it is installed: ~0.2-0.3 s of each model stage (featurize, train,
    evaluate), against ~0.5 s of actual training. Nothing here relies on that default,
    since `TRUSTED_TYPES` names every estimator the models hold, so the scan is skipped.
    Were skops already imported (a notebook, a test), it is used as it is: its defaults
    then also trust every estimator, and `TRUSTED_TYPES` still loads these models.
    """
    if "skops.io" in sys.modules:
        return sys.modules["skops.io"]
    with _estimator_scan_skipped():
        return importlib.import_module("skops.io")


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
    sio = _skops_io()
    return canonical_archive(sio.dumps(model))


def save_model(model: Any, path: str | Path) -> int:
    """Write `model` to `path` reproducibly; returns the size in bytes."""
    data = dumps_model(model)
    ensure_parent(path).write_bytes(data)
    return len(data)


def loads_model(data: bytes, source: str = "<bytes>") -> Any:
    """Load a skops archive, trusting only `TRUSTED_TYPES` (plus skops' own defaults)."""
    sio = _skops_io()
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
