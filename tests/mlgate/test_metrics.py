"""Metrics and params declarations, reading and flattening, dvc.lock parsing."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlgate.errors import ConfigError, InputError
from mlgate.gates import as_number
from mlgate.gitio import Snapshot
from mlgate.loaders import parse_structured
from mlgate.metrics import (
    MetricsAt,
    flatten,
    metrics_files,
    params_files,
    parse_lock,
    read_dvc_yaml,
    read_metrics,
)


def declared(
    root: Path, dvc_yaml: dict[str, Any], files: dict[str, Any] | None = None
) -> tuple[list[str], list[str]]:
    """The metrics and params files of a working tree holding ``dvc.yaml`` and ``files``
    (mappings written as YAML), as DVC's resolver reads them."""
    root.mkdir(parents=True, exist_ok=True)
    for path, content in {"dvc.yaml": dvc_yaml, **(files or {})}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    snap = Snapshot(root)
    data = read_dvc_yaml(snap)
    return metrics_files(snap, data), params_files(snap, data)


DVC_YAML = {
    "vars": [{"paths": {"metrics": "metrics/m.json", "out": ["a.json", "b.json"]}}],
    "metrics": ["${paths.metrics}", "./extra/../top.json"],
    "stages": {
        "evaluate": {
            "cmd": "x",
            "wdir": "sub",
            "params": ["evaluate", {"custom.yaml": ["k"]}],
            "metrics": [{"scores.json": {"cache": False}}, "${paths.out[1]}"],
        },
        "loop": {"foreach": [1, 2], "do": {"cmd": "y", "metrics": ["${item}.json"]}},
    },
}


def test_declared_metrics_resolve_templates_wdir_and_order(tmp_path: Path) -> None:
    metrics, params = declared(tmp_path, DVC_YAML)
    assert metrics == [
        "metrics/m.json",
        "top.json",
        "sub/scores.json",
        "sub/b.json",
        "1.json",
        "2.json",
    ]
    # evaluate's bare key 'evaluate' is in params.yaml of its wdir, as in DVC
    assert params == ["params.yaml", "sub/params.yaml", "sub/custom.yaml"]


FOREACH_YAML = {
    "vars": [{"models": {"tree": {"depth": 3}, "linear": {"depth": 0}}, "folds": [1, 2]}],
    "stages": {
        "listed": {
            "foreach": ["a", "b", "a"],  # a repeated value is one stage, as in DVC
            "do": {"cmd": "x", "wdir": "runs/${item}", "metrics": ["m.json"]},
        },
        "keyed": {
            "foreach": "${models}",
            "do": {
                "cmd": "x",
                "params": [{"params/${key}.yaml": ["lr"]}],
                "metrics": ["keyed/${key}-${item.depth}.json"],
            },
        },
        "records": {
            "foreach": [{"name": "x", "on": True}, {"name": "y", "on": False}],
            "do": {"cmd": "x", "metrics": ["rec/${item.name}-${item.on}.json"]},
        },
        "referenced": {
            "foreach": "${folds}",
            "do": {"cmd": "x", "metrics": [{"fold${item}.json": {"cache": False}}]},
        },
    },
}


def test_foreach_over_list_dict_records_and_reference(tmp_path: Path) -> None:
    metrics, params = declared(tmp_path, FOREACH_YAML)
    assert metrics == [
        "runs/a/m.json",
        "runs/b/m.json",
        "keyed/tree-3.json",
        "keyed/linear-0.json",
        "rec/x-true.json",
        "rec/y-false.json",
        "fold1.json",
        "fold2.json",
    ]
    assert params == ["params.yaml", "params/tree.yaml", "params/linear.yaml"]


MATRIX_YAML = {
    "vars": [{"seeds": [1, 2]}],
    "stages": {
        "grid": {
            "matrix": {"model": ["tree", "linear"], "seed": "${seeds}"},
            "cmd": "x",
            "wdir": "grid",
            "params": [{"${item.model}.yaml": ["seed"]}],
            "metrics": ["${item.model}/${item.seed}.json", "${key}.json"],
        },
        "nested": {
            "matrix": {"cfg": [{"a": 1}, {"a": 2}]},
            "cmd": "x",
            "metrics": ["cfg-${item.cfg.a}-${key}.json"],
        },
    },
}


def test_matrix_is_the_cartesian_product_named_like_dvc(tmp_path: Path) -> None:
    metrics, params = declared(tmp_path, MATRIX_YAML)
    assert metrics == [
        "grid/tree/1.json",
        "grid/tree-1.json",
        "grid/tree/2.json",
        "grid/tree-2.json",
        "grid/linear/1.json",
        "grid/linear-1.json",
        "grid/linear/2.json",
        "grid/linear-2.json",
        "cfg-1-cfg0.json",
        "cfg-2-cfg1.json",
    ]
    assert params == ["params.yaml", "grid/tree.yaml", "grid/linear.yaml"]


def test_matrix_axis_may_be_a_string_or_a_reference_to_a_mapping(tmp_path: Path) -> None:
    """DVC iterates a string axis over its characters and a referenced mapping over its
    keys; an axis with nothing in it generates no stage."""
    doc = {
        "vars": [{"models": {"tree": {}, "linear": {}}}],
        "stages": {
            "grid": {
                "matrix": {"ch": "ab", "model": "${models}"},
                "cmd": "x",
                "metrics": ["${key}.json"],
            },
            "none": {"matrix": {"a": "", "b": [1]}, "cmd": "x", "metrics": ["${key}.json"]},
        },
    }
    assert declared(tmp_path, doc)[0] == [
        "a-tree.json",
        "a-linear.json",
        "b-tree.json",
        "b-linear.json",
    ]


STAGE_VARS_YAML = {
    "vars": [{"paths": {"out": "out"}}],
    "stages": {
        "own": {
            "vars": [{"name": "own"}, "local.yaml:cfg", {"paths": {"more": "m"}}],
            "cmd": "x",
            "wdir": "w",
            "params": [{"${cfg}.yaml": ["lr"]}, "seed"],
            "metrics": ["${paths.out}/${name}-${paths.more}-${base}.json"],
        },
        "each": {
            "foreach": ["a", "b"],
            "do": {
                "vars": [{"suffix": "z"}, "params.yaml"],
                "cmd": "x",
                "params": [{"${item}-${suffix}.yaml": ["k"]}],
                "metrics": ["${item}-${suffix}.json"],
            },
        },
    },
}


def test_stage_vars_add_to_the_context_of_their_stage(tmp_path: Path) -> None:
    """A stage's own vars (files relative to its wdir) resolve its paths, merged into the
    file's context key by key; naming an already loaded file again is allowed."""
    files = {"params.yaml": {"base": 0}, "w/local.yaml": {"cfg": "tune", "other": 1}}
    metrics, params = declared(tmp_path / "a", STAGE_VARS_YAML, files)
    assert metrics == ["w/out/own-m-0.json", "a-z.json", "b-z.json"]
    assert params == [
        "params.yaml",
        "w/tune.yaml",
        "w/params.yaml",
        "w/local.yaml",  # its ${cfg} names a params file: DVC tracks the value as a param
        "a-z.yaml",
        "b-z.yaml",
    ]
    # a stage's vars are its own: another stage naming them cannot resolve
    other = {"cmd": "x", "metrics": ["${name}"]}
    leaky = {**STAGE_VARS_YAML, "stages": {**STAGE_VARS_YAML["stages"], "other": other}}
    with pytest.raises(ConfigError, match=r"'stages.other.metrics' .*Could not find 'name'"):
        declared(tmp_path / "b", leaky, files)


@pytest.mark.parametrize(
    ("stage", "message"),
    [
        ({"foreach": [1], "cmd": "x"}, "DVC's schema: extra keys not allowed"),
        ({"foreach": 3, "do": {"cmd": "x"}}, r"expected dict .*\['foreach'\]"),
        ({"foreach": "${nope}", "do": {"cmd": "x"}}, "Could not find 'nope'"),
        ({"foreach": [1], "do": {"cmd": "x"}, "wdir": "w"}, r"extra keys .*\['wdir'\]"),
        ({"matrix": ["a"], "cmd": "x"}, r"expected a dictionary .*\['matrix'\]"),
        ({"matrix": {"a": "${n}"}, "cmd": "x"}, "DVC cannot resolve it"),
        ({"matrix": {"a": {"b": 1}}, "cmd": "x"}, r"expected str .*\['matrix'\]\['a'\]"),
        ({"matrix": {}, "cmd": "x"}, "DVC cannot resolve it"),
        ({"vars": [{"n": 2}], "cmd": "x"}, "cannot redefine 'n'"),
        ({"vars": ["${s}.yaml"], "cmd": "x"}, "'stages.bad.vars' .*interpolating is not allowed"),
        ({"vars": {"a": 1}, "cmd": "x"}, r"expected a list .*\['vars'\]"),
        ({"vars": ["nope.yaml"], "cmd": "x"}, "'nope.yaml' does not exist"),
        ({"matrix": {"a": [1]}, "do": {"cmd": "x"}}, r"extra keys .*\['matrix'\]"),
        ({"foreach": [1], "do": {"cmd": "x", "wdir": "${item.x}"}}, "Could not find 'item.x'"),
        ({"cmd": "x", "metrics": ["${paths.nope}"]}, "Could not find 'paths.nope'"),
        ({"cmd": "x", "metrics": "m.json"}, r"expected a list .*\['metrics'\]"),
    ],
)
def test_what_dvc_cannot_resolve_is_one_line_config_error(
    tmp_path: Path, stage: dict[str, object], message: str
) -> None:
    files = {"params.yaml": {"n": 1, "s": "ab", "paths": {}}}
    with pytest.raises(ConfigError, match=f"^dvc.yaml: .*{message}") as caught:
        declared(tmp_path, {"stages": {"bad": stage}}, files)
    assert "\n" not in str(caught.value)
    assert caught.value.__cause__ is not None  # DVC's own error (or its schema's) is kept


def test_vars_merge_as_in_dvc(tmp_path: Path) -> None:
    files = {"params.yaml": {"a": {"b": 1}}, "more.yaml": {"c": 2, "d": 3}}
    doc = {
        "vars": ["more.yaml:c", {"e": 4}, {"a": {"f": 5}}, "params.yaml"],
        "metrics": ["${a.b}-${a.f}-${c}-${e}.json"],
    }
    # mappings merge key by key, as in DVC
    assert declared(tmp_path / "a", doc, files)[0] == ["1-5-2-4.json"]
    with pytest.raises(ConfigError, match="^dvc.yaml: .*cannot redefine 'a.b'"):
        declared(tmp_path / "b", {"vars": [{"a": {"b": 2}}]}, files)
    with pytest.raises(ConfigError, match="'nope.yaml' does not exist"):
        declared(tmp_path / "c", {"vars": ["nope.yaml"]}, files)


def test_a_nested_dvc_yaml_has_no_default_params_file(tmp_path: Path) -> None:
    """DVC reads only what a nested dvc.yaml's stages name, plus the root params.yaml."""
    files = {"sub/dvc.yaml": {"stages": {"s": {"cmd": "x", "params": [{"p.yaml": ["k"]}]}}}}
    assert declared(tmp_path, {"stages": {}}, files)[1] == ["params.yaml", "sub/p.yaml"]


def test_bad_declarations_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^dvc.yaml: .*expected a list"):
        declared(tmp_path / "a", {"metrics": "m.json"})
    with pytest.raises(ConfigError, match=r"^dvc.yaml: .*\['stages'\]\['a'\]"):
        declared(tmp_path / "b", {"stages": {"a": "cmd"}})
    with pytest.raises(ConfigError, match="entries must be a path or"):
        declared(tmp_path / "c", {"stages": {"a": {"cmd": "x", "metrics": [{"a": {}, "b": {}}]}}})


def test_flatten_dots_nested_keys_and_keeps_leaves() -> None:
    nested = {"a": {"b": {"c": 1}}, "d": [1, 2], "e": {}, "f": "x"}
    assert flatten(nested) == {"a.b.c": 1, "d": [1, 2], "e": {}, "f": "x"}
    assert nested == {"a": {"b": {"c": 1}}, "d": [1, 2], "e": {}, "f": "x"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 1.0),
        (0.5, 0.5),
        (math.nan, None),
        (math.inf, None),
        pytest.param(10**400, None, id="huge-int"),  # float() raises OverflowError
        pytest.param(-(10**400), None, id="huge-negative-int"),
        (10**300, 1e300),
        ("1", None),
        (True, None),
        (None, None),
        ([1], None),
    ],
)
def test_as_number(value: object, expected: float | None) -> None:
    assert as_number(value) == expected


def test_parse_structured_by_extension() -> None:
    assert parse_structured('{"a": NaN}', "m.json", "m.json")["a"] != 0
    assert parse_structured("a: 1", "m.yaml", "m.yaml") == {"a": 1}
    assert parse_structured("a = 1", "m.toml", "m.toml") == {"a": 1}
    with pytest.raises(InputError, match=r"m.json: malformed JSON \(line 1"):
        parse_structured("{", "m.json", "m.json")
    with pytest.raises(InputError, match="m.yaml: malformed YAML"):
        parse_structured("a: [", "m.yaml", "m.yaml")


@pytest.mark.parametrize(
    ("path", "text"),
    [("m.json", '{"a": N}'), ("m.yaml", "a: N"), ("m.toml", "a = N"), ("p.yaml", "b: [N]")],
)
def test_a_number_too_long_for_python_is_a_malformed_file(path: str, text: str) -> None:
    kind = path.rsplit(".", 1)[1].upper()
    with pytest.raises((InputError, ConfigError)) as excinfo:
        parse_structured(text.replace("N", "1" * 5000), path, f"{path} at HEAD")
    message = str(excinfo.value)
    assert message.startswith(f"{path} at HEAD: malformed {kind} (") and "5000 digits" in message
    assert "set_int_max_str_digits" not in message


def test_an_impossible_yaml_date_is_a_malformed_file() -> None:
    with pytest.raises(InputError, match=r"^m.yaml: malformed YAML \(month must be in 1..12\)"):
        parse_structured("released: 2024-13-01", "m.yaml", "m.yaml")


def test_read_metrics_marks_absent_files_and_rejects_non_mappings(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"x": {"y": 1}, "z": 2}')
    (tmp_path / "b.json").write_text('{"z": 3}')
    (tmp_path / "list.json").write_text("[1, 2]")
    snap = Snapshot(tmp_path)
    found = read_metrics(snap, ["a.json", "b.json", "missing.json"], locks={})
    assert found.files["missing.json"] is None
    assert found.flat() == {"x.y": 1, "a.json:z": 2, "b.json:z": 3}
    with pytest.raises(InputError, match="list.json: expected a mapping of metric names"):
        read_metrics(snap, ["list.json"])


def test_metrics_numbers_drops_unjudgeable_values() -> None:
    at = MetricsAt("wt", {"m.json": {"a": 1, "b": "x", "c": math.nan}})
    assert at.numbers() == {"a": 1.0}


LOCK = """schema: '2.0'
stages:
  train:
    cmd: python train.py
    deps:
    - path: data/train.csv
      hash: md5
      md5: aaa
      size: 10
    outs:
    - path: model.pkl
      hash: md5
      md5: bbb
      size: 20
  evaluate:
    cmd: python evaluate.py
    deps:
    - path: model.pkl
      hash: md5
      md5: bbb
      size: 20
    outs:
    - path: metrics.json
      hash: md5
      md5: ccc
      size: 5
"""


def test_parse_lock_outs_win_over_deps() -> None:
    files = parse_lock(LOCK, "dvc.lock")
    assert files["model.pkl"].kind == "out" and files["model.pkl"].stage == "train"
    assert files["data/train.csv"].hash == "aaa" and files["data/train.csv"].size == 10
    assert set(files) == {"data/train.csv", "model.pkl", "metrics.json"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (LOCK[: LOCK.index("outs:") + 3], "malformed YAML"),
        ("schema: '2.0'\nstages:\n  train:\n", "unreadable dvc.lock"),
        ("schema: '1.0'\nstages: {}\n", "unreadable dvc.lock"),
        ("- a\n", "expected a mapping at the top level"),
        (LOCK.replace("      md5: aaa\n", ""), "has no hash"),
    ],
)
def test_unreadable_lock_is_input_error(text: str, message: str) -> None:
    with pytest.raises(InputError) as excinfo:
        parse_lock(text, "dvc.lock")
    assert str(excinfo.value).startswith("dvc.lock")
    assert message in str(excinfo.value)


def test_metrics_files_include_nested_dvc_yaml(tmp_path: Path) -> None:
    from mlgate.gitio import snapshot

    root = tmp_path / "p"
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "dvc.yaml").write_text("metrics: [top.json]\n")
    (root / "sub" / "deep" / "dvc.yaml").write_text(
        "vars: [{out: m.json}]\nmetrics: ['${out}', ../up.json]\n"
    )
    (root / "sub" / "params.yaml").write_text("x: 1\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "x"], cwd=root, check=True)
    (root / "later").mkdir()
    (root / "later" / "dvc.yaml").write_text("metrics: [l.json]\n")  # untracked, not ignored
    expected = ["top.json", "sub/deep/m.json", "sub/up.json"]
    assert metrics_files(snapshot(root, "HEAD", ""), {"metrics": ["top.json"]}) == expected
    worktree = metrics_files(Snapshot(root), {"metrics": ["top.json"]})
    assert worktree == [*expected[:1], "later/l.json", *expected[1:]]


def test_an_empty_vars_file_is_no_params_file(tmp_path: Path) -> None:
    """DVC tracks the values a template uses; an empty file holds none."""
    dvc_yaml = {"vars": ["empty.yaml"], "stages": {"s": {"cmd": "echo ${lr}"}}}
    files = {"params.yaml": {"lr": 0.1}, "empty.yaml": {}}
    assert declared(tmp_path, dvc_yaml, files)[1] == ["params.yaml"]
