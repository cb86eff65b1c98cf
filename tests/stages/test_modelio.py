import io
import json
import math
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.preprocessing import FunctionTransformer

from stages import modelio
from stages.common import StageError
from stages.featurize import fit_featurizer, transform
from stages.modelio import (
    FIXED_DATE,
    TRUSTED_TYPES,
    canonical_archive,
    dumps_model,
    load_model,
    loads_model,
    save_model,
)
from stages.train import fit_model
from tests.stages.modelling_data import (
    FEATURIZE_PARAMS,
    HGB_PARAMS,
    LOGREG_PARAMS,
    schema,
    validated_frame,
)

REPO = Path(__file__).resolve().parents[2]


def fitted(params):
    train = validated_frame()
    featurizer = fit_featurizer(train, schema(), FEATURIZE_PARAMS)
    return fit_model(featurizer, transform(featurizer, train, schema()), "income", params)


@pytest.mark.parametrize("params", [HGB_PARAMS, LOGREG_PARAMS], ids=["hgb", "logreg"])
def test_same_model_gives_same_bytes_and_round_trips(params, tmp_path: Path) -> None:
    first, second = dumps_model(fitted(params)), dumps_model(fitted(params))
    assert first == second  # raw skops output differs: ids, uuids and timestamps
    model = fitted(params)
    size = save_model(model, tmp_path / "m" / "model.skops")
    assert size == (tmp_path / "m" / "model.skops").stat().st_size
    loaded = load_model(tmp_path / "m" / "model.skops")
    frame = validated_frame(50, seed=3, with_target=False)
    assert (loaded.predict_proba(frame) == model.predict_proba(frame)).all()


def test_canonical_archive_fixes_dates_and_order() -> None:
    archive = canonical_archive(sio.dumps(fitted(HGB_PARAMS)))
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        infos = zipped.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names) and "schema.json" in names
    assert {info.date_time for info in infos} == {FIXED_DATE}
    assert canonical_archive(archive) == archive  # idempotent


# Run in a fresh interpreter: how skops gets imported there is how a stage imports it.
STAGE_LIKE_IMPORT = """
import json, sys
import sklearn.utils
from stages.modelio import _skops_io, dumps_model
scan = sklearn.utils.all_estimators
sio = _skops_io()
pytest_imported = "pytest" in sys.modules
from skops.io import _trusted_types
from tests.stages.test_modelio import HGB_PARAMS, LOGREG_PARAMS, fitted
needed = set()
for params in (HGB_PARAMS, LOGREG_PARAMS):
    needed |= set(sio.get_untrusted_types(data=dumps_model(fitted(params))))
json.dump({
    "needed": sorted(needed),
    "default_estimators": _trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES,
    "scan_restored": sklearn.utils.all_estimators is scan,
    "pytest_imported": pytest_imported,
}, sys.stdout)
"""


def test_trusted_list_is_exactly_what_the_model_families_need() -> None:
    """Stages import skops without its estimator scan: nothing is trusted for being an
    estimator, so the explicit list must name every type the models hold, and no more."""
    result = subprocess.run(
        [sys.executable, "-c", STAGE_LIKE_IMPORT],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    imported = json.loads(result.stdout)
    assert imported["default_estimators"] == []  # the scan was skipped ...
    assert imported["scan_restored"]  # ... only while skops was being imported
    assert not imported["pytest_imported"]  # the scan's import of sklearn.utils._testing
    assert set(imported["needed"]) == set(TRUSTED_TYPES)  # no type trusted that none needs


SKOPS_IMPORTED_FIRST = """
import skops.io
from skops.io import _trusted_types
assert _trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES  # every estimator trusted by default
from stages.modelio import dumps_model, loads_model
from tests.stages.test_modelio import HGB_PARAMS, fitted, validated_frame
model, frame = fitted(HGB_PARAMS), validated_frame(20, seed=5, with_target=False)
loaded = loads_model(dumps_model(model))
assert (loaded.predict_proba(frame) == model.predict_proba(frame)).all()
"""


def test_models_load_when_skops_was_imported_with_its_defaults() -> None:
    # a notebook or a test that imported skops itself: the stages use it as it is
    subprocess.run([sys.executable, "-c", SKOPS_IMPORTED_FIRST], cwd=REPO, check=True)


def test_untrusted_types_are_refused() -> None:
    data = dumps_model(FunctionTransformer(math.sqrt))
    with pytest.raises(StageError, match=r"model.skops: refusing to load untrusted types.*sqrt"):
        loads_model(data, "model.skops")


def test_unreadable_archives_are_errors(tmp_path: Path) -> None:
    with pytest.raises(StageError, match="not a readable skops model archive"):
        loads_model(b"not a zip", "x.skops")
    with pytest.raises(StageError, match=r"missing\.skops: cannot read model"):
        load_model(tmp_path / "missing.skops")


# A model stage as `python -m` starts it: where scipy.special lands among the imported modules
# decides how long skops' import searches for the module of each scipy ufunc.
STAGE_IMPORT_ORDER = """
import json, sys
sys.argv, sys.orig_argv = ["-m"], [sys.executable, "-m", "stages.{name}"]
import stages.{name}
from stages.modelio import _skops_io
_skops_io()
from skops.io import _trusted_types
order = list(sys.modules)
json.dump({{
    "ufuncs_at": order.index("scipy.special._ufuncs"),
    "pandas_at": order.index("pandas"),
    "sklearn_at": order.index("sklearn"),
    "names": _trusted_types.SCIPY_UFUNC_TYPE_NAMES,
}}, sys.stdout)
"""

# skops imported after everything else, as before: the names it finds must be the same
SKOPS_IMPORTED_LAST = """
import json, sys
import pandas, sklearn.base, sklearn.ensemble, sklearn.metrics
from stages.modelio import _skops_io
_skops_io()
from skops.io import _trusted_types
json.dump(_trusted_types.SCIPY_UFUNC_TYPE_NAMES, sys.stdout)
"""


def _fresh_json(code: str):
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", ["featurize", "train", "evaluate"])
def test_model_stages_import_scipy_special_before_pandas_and_sklearn(name: str) -> None:
    imported = _fresh_json(STAGE_IMPORT_ORDER.format(name=name))
    assert imported["ufuncs_at"] < imported["pandas_at"]
    assert imported["ufuncs_at"] < imported["sklearn_at"]
    assert imported["names"]  # skops still lists scipy's ufuncs ...
    if name == "train":  # ... under the names it finds when imported last (one run is enough)
        assert imported["names"] == _fresh_json(SKOPS_IMPORTED_LAST)


def _first_split(nodes, categorical: bool) -> int:
    splits = (nodes["is_leaf"] == 0) & ((nodes["is_categorical"] != 0) == categorical)
    assert splits.any(), "the fitted model has no such split to tamper with"
    return int(splits.argmax())


def _root_left_loops(tree, _) -> None:
    tree.nodes["left"][0] = 0  # predict would walk the root forever


def _right_past_the_end(tree, _) -> None:
    tree.nodes["right"][_first_split(tree.nodes, False)] = len(tree.nodes)


def _unknown_feature(tree, _) -> None:
    tree.nodes["feature_idx"][_first_split(tree.nodes, False)] = 99


def _bitset_past_the_end(tree, _) -> None:
    tree.nodes["bitset_idx"][_first_split(tree.nodes, True)] = 10_000


def _categorical_split_on_a_number(tree, classifier) -> None:
    split = _first_split(tree.nodes, False)
    tree.nodes["is_categorical"][split] = 1
    assert not classifier._bin_mapper.is_categorical_[tree.nodes["feature_idx"][split]]


def _nodes_of_floats(tree, _) -> None:
    tree.nodes = np.zeros(len(tree.nodes))


TREES = r"refusing a model whose trees are not well formed \("


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (_root_left_loops, TREES + "a left child outside the tree or not after its parent"),
        (_right_past_the_end, TREES + "a right child outside the tree or not after its parent"),
        (_unknown_feature, TREES + "a split on a feature the model does not have"),
        (
            _bitset_past_the_end,
            TREES + "a categorical split on a numeric feature or without its bitset",
        ),
        (
            _categorical_split_on_a_number,
            TREES + "a categorical split on a numeric feature or without",
        ),
        # scikit-learn casts the nodes while loading, and fails: the file is unreadable
        (_nodes_of_floats, "not a readable skops model archive .*Cannot cast"),
    ],
)
def test_a_model_whose_trees_would_crash_predict_is_refused(tamper, problem: str) -> None:
    """skops does not trust TreePredictor by default (scikit-learn follows its node indices
    without bounds checks); the pipeline trusts it by name, so loading checks every tree."""
    model = fitted(HGB_PARAMS)
    classifier = model[-1]
    # a tree with splits of both kinds, so that every tamper finds the split it changes
    tree = next(
        tree
        for iteration in classifier._predictors
        for tree in iteration
        if {True, False} <= set(tree.nodes["is_categorical"][tree.nodes["is_leaf"] == 0] != 0)
    )
    tamper(tree, classifier)
    with pytest.raises(StageError, match=f"model.skops: .*{problem}"):
        loads_model(dumps_model(model), "model.skops")


# --- archives that unpack to more than a model (issue 16, hostile input) -------------------


def _declaring(archive: bytes, sizes: dict[str, int]) -> bytes:
    """`archive` with the uncompressed sizes of the named members rewritten in its central
    directory (what zipfile reads): a few bytes that declare gigabytes."""
    data = bytearray(archive)
    position = 0
    while (position := data.find(b"PK\x01\x02", position)) >= 0:
        name_length = struct.unpack_from("<H", data, position + 28)[0]
        name = data[position + 46 : position + 46 + name_length].decode()
        if name in sizes:
            struct.pack_into("<I", data, position + 24, sizes[name])
        position += 46 + name_length
    return bytes(data)


@pytest.fixture
def unread(monkeypatch):
    """Fails the test if skops is reached: a refusal must come before anything is read."""

    def reached():
        raise AssertionError("skops was reached")

    monkeypatch.setattr(modelio, "_skops_io", reached)


def _archive(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for name, content in members.items():
            zipped.writestr(name, content)
    return buffer.getvalue()


def test_a_schema_that_unpacks_to_gigabytes_is_refused_unread(unread) -> None:
    bomb = _declaring(_archive({"schema.json": b"{}"}), {"schema.json": 3_000_000_000})
    with zipfile.ZipFile(io.BytesIO(bomb)) as zipped:  # what skops would have read
        assert zipped.getinfo("schema.json").file_size == 3_000_000_000
    with pytest.raises(
        StageError,
        match=r"^model.skops: refusing a model archive of a schema.json of 3,000,000,000 bytes "
        r"\(at most 67,108,864\), unread$",
    ):
        loads_model(bomb, "model.skops")


def test_a_schema_that_really_inflates_past_the_limit_is_refused(monkeypatch, unread) -> None:
    # a real deflate bomb (1,000:1 of zeros), scaled down with the limit to stay fast
    monkeypatch.setattr(modelio, "MAX_SCHEMA_BYTES", 2**20)
    bomb = _archive({"schema.json": b" " * (2**20 + 1)})
    assert len(bomb) < 5_000
    with pytest.raises(StageError, match=r"schema.json of 1,048,577 bytes \(at most 1,048,576\)"):
        loads_model(bomb, "model.skops")


def test_members_past_the_limits_are_refused_unread(monkeypatch, unread) -> None:
    arrays = _declaring(
        _archive({"schema.json": b"{}", "1.npy": b"", "2.npy": b""}),
        {"1.npy": 2**31, "2.npy": 2**31},
    )
    with pytest.raises(StageError, match=r"of 4,294,967,298 bytes unpacked \(at most"):
        loads_model(arrays, "model.skops")
    monkeypatch.setattr(modelio, "MAX_MEMBERS", 2)
    with pytest.raises(StageError, match=r"of 3 members \(at most 2\), unread"):
        loads_model(_archive({"schema.json": b"{}", "1.npy": b"", "2.npy": b""}), "model.skops")


def test_the_pipelines_models_are_well_inside_the_limits() -> None:
    for params in (HGB_PARAMS, LOGREG_PARAMS):
        assert modelio.archive_problem(dumps_model(fitted(params))) is None


@pytest.mark.parametrize(
    ("members", "says"),
    [
        ({"1.npy": b""}, "There is no item named 'schema.json'"),
        ({"schema.json": b"[" * 100_000 + b"]" * 100_000}, "nested too deep"),
    ],
)
def test_an_archive_skops_cannot_read_is_one_error(members, says: str) -> None:
    with pytest.raises(
        StageError, match=f"model.skops: not a readable skops model archive .*{says}"
    ):
        loads_model(_archive(members), "model.skops")
