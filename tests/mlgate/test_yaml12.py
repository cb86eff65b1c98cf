"""mlgate reads YAML as DVC does (ruamel's safe loader, YAML 1.2), not by YAML 1.1's rules."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlgate.loaders import parse_yaml

ruamel_yaml = pytest.importorskip("ruamel.yaml")

SCALARS = [
    # integers: YAML 1.1 reads 010 as 8 and 1:30 as 90, and refuses 0o17
    "010",
    "0o17",
    "-0o7",
    "0x1F",
    "0b101",
    "1_000",
    "+12",
    "-0",
    "0",
    "007",
    "08",
    "1:30",
    "190:20:30",
    "0b",
    "0x",
    "12e3",
    "9" * 40,
    # floats
    "1.",
    ".5",
    "1e5",
    "1E-5",
    "1.5e3",
    "-.inf",
    ".Inf",
    ".NaN",
    "1_0.5",
    "1:30.5",
    ".5e+3",
    "+.5",
    "1.0e",
    "6.8523015e+5",
    "685.230_15e+03",
    # booleans and nulls: 1.1's yes/no/on/off/y/n are text in 1.2
    "true",
    "False",
    "TRUE",
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "n",
    "NO",
    "~",
    "null",
    "Null",
    "",
    # timestamps and text
    "2024-01-01",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10 -5",
    "2002-12-14",
    "1.2.3",
    "v1",
    "0.9275",
    "<<x",
]


def ruamel_load(text: str) -> Any:
    return ruamel_yaml.YAML(typ="safe").load(text)


def same(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, float) and isinstance(theirs, float) and math.isnan(ours):
        return math.isnan(theirs)
    return type(ours) is type(theirs) and ours == theirs


@pytest.mark.parametrize("scalar", SCALARS)
def test_plain_scalars_read_as_dvc_reads_them(scalar: str) -> None:
    text = f"value: {scalar}\n{scalar or 'empty'}: key\n"
    ours, theirs = parse_yaml(text, "f.yaml"), ruamel_load(text)
    assert same(ours["value"], theirs["value"]), (ours, theirs)
    # as mapping keys too (the "Norway problem": NO is no boolean)
    assert all(map(same, list(ours)[1:], list(theirs)[1:])), (list(ours), list(theirs))


@given(st.from_regex(r"\A[-+]?[0-9_.:oxbeE]{1,8}\Z"))
def test_number_like_scalars_read_as_dvc_reads_them(scalar: str) -> None:
    text = f"value: {scalar}\n"
    try:
        theirs = ruamel_load(text)["value"]
    except Exception:  # what ruamel (so DVC) refuses, we need not read the same way
        return
    assert same(parse_yaml(text, "f.yaml")["value"], theirs), scalar


def test_a_key_written_twice_is_an_error_as_in_dvc() -> None:
    from mlgate.errors import ConfigError

    text = "gates:\n  baseline: none\n  baseline: latest-release\n"
    with pytest.raises(ruamel_yaml.constructor.DuplicateKeyError):
        ruamel_load(text)
    with pytest.raises(ConfigError, match=r"params.yaml: duplicate key 'baseline' \(line 3\)"):
        parse_yaml(text, "params.yaml")
    merged = "a: &x {k: 1}\nb:\n  <<: *x\n  k: 2\n"  # a merge key may be overridden
    assert parse_yaml(merged, "f.yaml") == ruamel_load(merged)
