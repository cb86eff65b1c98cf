"""mlgate skips DVC's schema for plain dvc.lock / dvc.yaml shapes (``dvcadapter._plain_*``),
which is sound only if every document those checks accept, DVC's own schema accepts too.
Documents are generated near the plain shape, with values and keys DVC refuses mixed in,
and both are asked."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import voluptuous as vol
from dvc.schema import COMPILED_LOCKFILE_SCHEMA, MULTI_STAGE_SCHEMA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgate import dvcadapter
from mlgate.errors import ConfigError, InputError

ODD = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.just([]), st.just({}))
NAME = st.text(max_size=3)


def mostly(good: st.SearchStrategy[Any], odd: st.SearchStrategy[Any] = ODD) -> Any:
    """``good``, or (rarely) a value of another type."""
    return st.sampled_from([True] * 29 + [False]).flatmap(lambda keep: good if keep else odd)


CHECKSUM = mostly(st.sampled_from(["", "ab", "abc", "d41d8cd98f00b204e9800998ecf8427e.dir"]))
LOCK_ENTRY = st.fixed_dictionaries(
    {"path": mostly(NAME)},
    optional={
        "md5": CHECKSUM,
        "hash": mostly(st.just("md5")),
        "size": mostly(st.integers(0, 9)),
        "nfiles": mostly(st.integers(0, 9)),
        "isexec": mostly(st.booleans()),
    },
)
LOCK_STAGE = st.fixed_dictionaries(
    {"cmd": mostly(st.one_of(NAME, st.lists(NAME, max_size=2)))},
    optional={
        "deps": mostly(st.lists(LOCK_ENTRY, max_size=3)),
        "outs": mostly(st.lists(LOCK_ENTRY, max_size=3)),
        "params": mostly(
            st.dictionaries(
                mostly(NAME, st.integers(0, 1)),
                mostly(st.dictionaries(mostly(NAME, st.integers(0, 1)), ODD, max_size=2)),
                max_size=2,
            )
        ),
    },
)
LOCK = st.fixed_dictionaries(
    {"schema": mostly(st.just("2.0"), st.sampled_from(["1.0", 2.0, None]))},
    optional={
        "stages": mostly(
            st.dictionaries(mostly(NAME, st.integers(0, 1)), mostly(LOCK_STAGE), min_size=1)
        ),
    },
)

OUT_FLAGS = st.fixed_dictionaries(
    {},
    optional={
        "cache": mostly(st.booleans()),
        "persist": mostly(st.booleans()),
        "push": mostly(st.booleans()),
        "remote": mostly(NAME),
        "desc": mostly(NAME),
        "type": mostly(NAME),
        "meta": ODD,
    },
)
OUT = mostly(
    st.one_of(NAME, st.dictionaries(mostly(NAME, st.integers(0, 1)), mostly(OUT_FLAGS), max_size=2))
)
STRINGS = mostly(st.lists(mostly(NAME), max_size=3))
STAGE = mostly(
    st.fixed_dictionaries(
        {"cmd": mostly(st.one_of(NAME, st.lists(NAME, max_size=2)))},
        optional={
            "deps": STRINGS,
            "params": mostly(st.lists(mostly(st.one_of(NAME, st.just({"p.yaml": ["a"]}))))),
            "vars": mostly(st.lists(mostly(st.one_of(NAME, st.just({"a": 1}))), max_size=2)),
            "outs": mostly(st.lists(OUT, max_size=3)),
            "metrics": mostly(st.lists(OUT, max_size=3)),
            "wdir": mostly(NAME),
            "frozen": mostly(st.booleans()),
            "always_changed": mostly(st.booleans()),
            "desc": mostly(NAME),
            "meta": ODD,
        },
    )
)
DVC_YAML = st.fixed_dictionaries(
    {},
    optional={
        "stages": mostly(
            st.dictionaries(mostly(NAME, st.one_of(st.integers(0, 1), st.none())), STAGE)
        ),
        "vars": mostly(st.lists(mostly(st.one_of(NAME, st.just({"a": 1}))), max_size=2)),
        "params": STRINGS,
        "metrics": STRINGS,
    },
)
DVC_SECTIONS = vol.Schema(
    {key: MULTI_STAGE_SCHEMA[key] for key in ("stages", "vars", "params", "metrics")},
    extra=vol.ALLOW_EXTRA,
)


def dvc_accepts(schema: Any, data: Any) -> bool:
    try:
        schema(data)
    except vol.Invalid:
        return False
    return True


CHECKED = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def nodes(data: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) of a document, to mutate one."""
    found: list[tuple[Any, Any]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            found += [(data, key), *nodes(value)]
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += [(data, index), *nodes(value)]
    return found


KEYS = ["x", "files", "cloud", "plots", "hash", "foreach", "do", "matrix", "frozen", "datasets"]


def mutated(draw: st.DrawFn, document: Any) -> Any:
    """``document`` with one value replaced by one of another type, or one key added."""
    document = copy.deepcopy(document)
    places = nodes(document)
    if places and draw(st.booleans()):
        container, key = draw(st.sampled_from(places))
        if isinstance(container, dict) and draw(st.booleans()):
            container[draw(st.sampled_from(KEYS))] = draw(ODD)
        else:
            container[key] = draw(ODD)
    return document


@st.composite
def locks(draw: st.DrawFn) -> Any:
    return mutated(draw, draw(LOCK))


@st.composite
def dvc_yamls(draw: st.DrawFn) -> Any:
    return mutated(draw, draw(DVC_YAML))


@CHECKED
@given(locks())
def test_every_plain_lock_is_one_dvc_accepts(data: dict[str, Any]) -> None:
    if dvcadapter._plain_lock(data):
        assert dvc_accepts(COMPILED_LOCKFILE_SCHEMA, data), data


@CHECKED
@given(dvc_yamls())
def test_every_plain_dvc_yaml_is_one_dvc_accepts(data: dict[str, Any]) -> None:
    if dvcadapter._plain_dvc_yaml(data):
        assert dvc_accepts(DVC_SECTIONS, data), data


def test_the_plain_shapes_cover_ordinary_files() -> None:
    """The fast path is taken for what projects commit (else it saves nothing)."""
    lock = {
        "schema": "2.0",
        "stages": {
            "train": {
                "cmd": "python train.py",
                "deps": [{"path": "train.py", "hash": "md5", "md5": "a" * 32, "size": 3}],
                "params": {"params.yaml": {"train.lr": 0.1}},
                "outs": [
                    {
                        "path": "eval",
                        "hash": "md5",
                        "md5": "b" * 32 + ".dir",
                        "size": 9,
                        "nfiles": 2,
                    },
                ],
            }
        },
    }
    pipeline = {
        "vars": ["params.yaml", {"paths": {"m": "m.json"}}],
        "stages": {
            "train": {
                "cmd": ["python train.py"],
                "deps": ["train.py"],
                "params": ["train", {"other.yaml": ["a"]}],
                "outs": ["eval", {"m.json": {"cache": False, "meta": {"volatile": True}}}],
                "metrics": [{"scores.json": {"cache": False}}],
            }
        },
        "metrics": ["eval/metrics.json"],
    }
    assert dvcadapter._plain_lock(lock)
    assert dvcadapter._plain_dvc_yaml(pipeline)


@pytest.mark.parametrize(
    "lock",
    [
        {"schema": "2.0", "stages": {"s": {"cmd": "x", "outs": [{"md5": "abc"}]}}},  # no path
        {"schema": "3.0", "stages": {}},
        {"schema": "2.0", "stages": {"s": {"outs": []}}},  # no cmd
    ],
)
def test_broken_locks_still_get_dvcs_verdict(lock: dict[str, Any]) -> None:
    with pytest.raises(InputError, match="unreadable dvc.lock"):
        dvcadapter.validate_lock(lock, "dvc.lock")


def test_broken_dvc_yaml_still_gets_dvcs_verdict() -> None:
    with pytest.raises(ConfigError, match="does not match DVC's schema"):
        dvcadapter._validate({"stages": {"s": {"cmd": "x", "deps": "a"}}}, "dvc.yaml")
