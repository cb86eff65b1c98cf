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

Where the model stages import scipy.special, which decides how long skops' import takes,
is stages/__init__.py's business.
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

import numpy as np

from stages.common import StageError, writing

SCHEMA_ENTRY = "schema.json"
FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can carry

# What a model archive may unpack to, checked before skops reads any of it: skops reads
# schema.json whole and parses it with no limit, so a 2 MB archive whose schema.json
# inflates to 2 GiB took 2.2 GB of memory before failing (docs/notes/dvc-gto-behaviour.md,
# section 7). The sizes checked are the zip's declared ones, which Python's zipfile (skops'
# reader) never reads past: more data than declared fails its CRC check instead.
# Measured on this pipeline's models (2026-12): the default gradient boosting model (159
# trees) has a 1.0 MB schema.json (~6.4 KB a tree; json.loads peaks at ~2.3x that), 520
# members and 1.5 MB unpacked in all; the featurizer 0.2 MB, 10 members. The limits leave
# room for ~60x the trees, and keep the parse of a hostile schema.json near 150 MB.
MAX_SCHEMA_BYTES = 64 * 2**20
MAX_MEMBERS = 100_000
MAX_UNPACKED_BYTES = 2**30

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
    with them where it is installed: ~0.3 s of each model stage (featurize, train,
    evaluate), against ~0.5 s of actual training (train, CPU seconds, median of 7 runs
    measured as in stages/__init__.py: 3.17 skipped, 3.51 scanned). Nothing here relies on
    that default, since `TRUSTED_TYPES` names every estimator the models hold, so the scan
    is skipped.
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
    with writing(path) as target:
        target.write_bytes(data)
    return len(data)


def archive_problem(data: bytes) -> str | None:
    """Why a skops archive is too large to load (see MAX_SCHEMA_BYTES), or None; reads only
    the zip's directory. A file that is not such an archive raises what zipfile raises."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
        schema = archive.getinfo(SCHEMA_ENTRY)
    if len(members) > MAX_MEMBERS:
        return f"{len(members):,} members (at most {MAX_MEMBERS:,})"
    if schema.file_size > MAX_SCHEMA_BYTES:
        return f"a {SCHEMA_ENTRY} of {schema.file_size:,} bytes (at most {MAX_SCHEMA_BYTES:,})"
    unpacked = sum(member.file_size for member in members)
    if unpacked > MAX_UNPACKED_BYTES:
        return f"{unpacked:,} bytes unpacked (at most {MAX_UNPACKED_BYTES:,})"
    return None


def loads_model(data: bytes, source: str = "<bytes>") -> Any:
    """Load a skops archive, trusting only `TRUSTED_TYPES` (plus skops' own defaults)."""
    unreadable = (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, ValueError, EOFError)
    try:
        too_large = archive_problem(data)
    except unreadable as exc:
        raise StageError(f"{source}: not a readable skops model archive ({exc})") from exc
    if too_large:
        raise StageError(f"{source}: refusing a model archive of {too_large}, unread")
    sio = _skops_io()
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        model = sio.loads(data, trusted=list(TRUSTED_TYPES))
    except UntrustedTypesFoundException as exc:
        raise StageError(f"{source}: refusing to load untrusted types ({exc})") from exc
    except RecursionError as exc:  # a schema.json nested deeper than json.loads goes
        raise StageError(f"{source}: not a readable skops model archive (nested too deep)") from exc
    # TypeError, AttributeError: an object's state that its class cannot take (scikit-learn's
    # TreePredictor casts its nodes while loading)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise StageError(f"{source}: not a readable skops model archive ({exc})") from exc
    problem = next(filter(None, map(tree_problem, _tree_ensembles(model))), None)
    if problem:
        raise StageError(f"{source}: refusing a model whose trees are not well formed ({problem})")
    return model


def _tree_ensembles(model: Any) -> Iterator[Any]:
    """The gradient boosting models in `model` (itself, or a step of a pipeline)."""
    if hasattr(model, "_predictors"):
        yield model
    for _, step in getattr(model, "steps", []):
        yield from _tree_ensembles(step)


def tree_problem(ensemble: Any) -> str | None:
    """What makes a fitted gradient boosting model unsafe to predict with, or None.

    scikit-learn's compiled predict follows each tree's node array without bounds checks,
    which is why skops does not trust `TreePredictor` by default: a crafted file could make
    it read outside its arrays, or loop forever. `TRUSTED_TYPES` names it (the pipeline's
    own models need it), so every tree is checked here instead: each split's children come
    after it and inside the tree (so every walk ends at a leaf), its feature exists, and a
    categorical split is on a categorical feature and has its category bitset. ~10 ms for
    the default model's 159 trees.
    """
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    n_features = getattr(ensemble, "n_features_in_", None)
    categorical = getattr(getattr(ensemble, "_bin_mapper", None), "is_categorical_", None)
    if not isinstance(n_features, int) or not (
        isinstance(categorical, np.ndarray) and categorical.shape == (n_features,)
    ):
        return "no feature count, or categorical flags of another size"
    for iteration in ensemble._predictors:
        for tree in iteration:
            nodes = getattr(tree, "nodes", None)
            if not (
                isinstance(nodes, np.ndarray)
                and nodes.dtype == PREDICTOR_RECORD_DTYPE
                and nodes.ndim == 1
                and len(nodes)
            ):
                return "a tree whose nodes are not scikit-learn's node records"
            split = np.flatnonzero(nodes["is_leaf"] == 0)
            for side in ("left", "right"):
                child = nodes[side][split].astype(np.int64)
                if ((child <= split) | (child >= len(nodes))).any():
                    return f"a {side} child outside the tree or not after its parent"
            features = nodes["feature_idx"][split]
            if ((features < 0) | (features >= n_features)).any():
                return f"a split on a feature the model does not have ({n_features} features)"
            on_categories = split[nodes["is_categorical"][split] != 0]
            bitsets: list[Any] = [
                getattr(tree, name, None)
                for name in ("raw_left_cat_bitsets", "binned_left_cat_bitsets")
            ]
            if not all(
                isinstance(bits, np.ndarray)
                and bits.dtype == np.uint32
                and bits.ndim == 2
                and bits.shape[1] == 8
                for bits in bitsets
            ):
                return "category bitsets of an unexpected layout"
            known = min(len(bits) for bits in bitsets)
            if len(on_categories) and not (
                categorical[nodes["feature_idx"][on_categories]].all()
                and (nodes["bitset_idx"][on_categories] < known).all()
            ):
                return "a categorical split on a numeric feature or without its bitset"
    return None


def load_model(path: str | Path) -> Any:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise StageError(f"{path}: cannot read model ({exc.strerror})") from exc
    return loads_model(data, str(path))
