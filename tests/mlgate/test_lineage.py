"""The lineage block in tag messages: round trip, and tolerance of damaged messages."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from mlgate import lineage
from mlgate.lineage import BEGIN, END, END_PREFIX


def test_round_trip_keeps_every_field() -> None:
    block = {"commit": "a" * 40, "metrics": {"accuracy": 0.85, "f1": 0.7}, "params": {"x": [1]}}
    message = lineage.render("income-model v1.0.0: gates passed", block, ("reason: first",))
    parsed = lineage.parse(message)
    assert parsed.status == lineage.OK
    assert parsed.data["commit"] == "a" * 40
    assert parsed.data["params"] == {"x": [1]}
    assert parsed.metrics == {"accuracy": 0.85, "f1": 0.7}
    assert message.splitlines()[0] == "income-model v1.0.0: gates passed"
    assert message.splitlines()[1] == ""  # git takes the first paragraph as the subject
    assert "reason: first" in message


def test_render_refuses_multiline_summary() -> None:
    with pytest.raises(ValueError):
        lineage.render("two\nlines", {})


def test_render_writes_strict_json_from_any_params() -> None:
    import datetime

    block = {"params": {"day": datetime.date(2026, 1, 2), "x": float("nan"), "t": (1, 2)}}
    parsed = lineage.parse(lineage.render("ok", block))
    assert parsed.status == lineage.OK
    assert parsed.data["params"] == {"day": "2026-01-02", "x": "nan", "t": [1, 2]}


def test_metrics_drop_non_numbers() -> None:
    message = lineage.render("s", {"metrics": {"a": 1, "b": "x", "c": True, "d": None}})
    assert lineage.parse(message).metrics == {"a": 1.0}


def test_metrics_drop_numbers_beyond_every_float() -> None:
    # A tag message is anyone's text: a 400-digit integer must be ignored, not raise.
    huge = "9" * 400
    body = '{"schema": 1, "metrics": {"a": 1, "b": ' + huge + ', "c": -' + huge + "}}"
    assert lineage.parse(f"s\n\n{lineage.BEGIN}\n{body}\n{lineage.END}\n").metrics == {"a": 1.0}


def test_message_without_block_is_missing() -> None:
    parsed = lineage.parse("Registering artifact income-model version v0.0.1")
    assert parsed.status == lineage.MISSING
    assert parsed.data == {}
    assert parsed.metrics == {}


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (f's\n\n{BEGIN}\n{{"schema": 1, "metrics": {{\n{END}\n', "not valid JSON"),
        (f's\n\n{BEGIN}\n{{"schema": 1}}\n', "not terminated"),
        (f"s\n\n{BEGIN}\n[1, 2]\n{END}\n", "not a JSON object"),
        (f's\n\n{BEGIN}\n{{"metrics": {{}}}}\n{END}\n', "schema"),
        (f"s\n\n{{}}\n{END}\n", "no begin marker"),
    ],
)
def test_damaged_block_is_corrupt_not_an_exception(message: str, problem: str) -> None:
    parsed = lineage.parse(message)
    assert parsed.status == lineage.CORRUPT
    assert problem in parsed.problem
    assert parsed.metrics == {}


def test_truncated_real_message_is_corrupt() -> None:
    message = lineage.render("s", {"metrics": {"accuracy": 0.8}})
    cut = message[: message.index(END_PREFIX) - 5]
    assert lineage.parse(cut).status == lineage.CORRUPT


def test_block_is_plain_json_between_markers() -> None:
    message = lineage.render("s", {"a": 1})
    body = message.split(BEGIN)[1].split(END_PREFIX)[0]
    assert json.loads(body) == {"a": 1, "schema": lineage.SCHEMA}


def test_any_change_to_the_json_is_caught_by_the_checksum() -> None:
    message = lineage.render("s", {"metrics": {"accuracy": 0.8}, "params": {"a": 1}})
    edited = message.replace('"a": 1', '"a": 2')  # still valid JSON
    for read in (lineage.parse, lineage.headline):
        assert read(message).status == lineage.OK
        broken = read(edited)
        assert broken.status == lineage.CORRUPT and "checksum mismatch" in broken.problem


def test_headline_reads_only_the_metrics_and_matches_parse() -> None:
    block = {"metrics": {"accuracy": 0.8, "fairness.sex.x": 0.1}, "params": {"metrics": 3}}
    message = lineage.render("s", block)
    assert lineage.headline(message).data == {"metrics": block["metrics"]}
    assert lineage.headline(message).metrics == lineage.parse(message).metrics


def test_headline_without_checksum_parses_in_full() -> None:
    message = f's\n\n{BEGIN}\n{{"schema": 1, "metrics": {{"a": 1}}}}\n{END}\n'
    assert lineage.headline(message).metrics == {"a": 1.0}
    assert lineage.headline(message.replace('"a": 1}', '"a": ')).status == lineage.CORRUPT


def test_unknown_checksum_kind_is_corrupt() -> None:
    message = lineage.render("s", {"a": 1}).replace("crc32:", "md5:")
    assert "unknown checksum" in lineage.parse(message).problem


def test_release_record_reads_a_block_once_into_typed_fields() -> None:
    block = {
        "gates": {"passed": True, "baseline": {"ref": "m@v1.0.0"}, "rules": [{}, {}]},
        "model": {"path": "models/model.bin", "hash": "abc"},
        "dvc_lock": {
            "z.csv": {"kind": "dep", "hash": "h2", "stage": "prepare"},
            "a.csv": {"kind": "dep", "hash": "h1", "stage": "prepare"},
            "models/model.bin": {"kind": "out", "hash": "abc", "stage": "train"},
        },
        "params": {"params.yaml": {"a": 1, "b": 2}},
    }
    record = lineage.ReleaseRecord.from_block(block)
    assert record.block is block
    assert (record.gates_passed, record.baseline_ref, record.rule_count) == (True, "m@v1.0.0", 2)
    assert (record.model_path, record.model_hash) == ("models/model.bin", "abc")
    assert [i.path for i in record.inputs] == ["a.csv", "z.csv"]  # deps only, by path
    assert record.inputs[0] == lineage.LockedInput("a.csv", "h1", "prepare")
    assert record.params == (("params.yaml", 2),)


@pytest.mark.parametrize(
    "block",
    [
        {},
        {"gates": [], "model": "m", "dvc_lock": 3, "params": None},
        {"gates": {"baseline": {}, "rules": 7, "baseline_note": ""}, "model": {"path": ""}},
        {"dvc_lock": {"x": "dep", "y": {"kind": "out"}}, "params": {"p.yaml": [1, 2]}},
    ],
)
def test_release_record_of_another_tools_block_reads_wrong_shapes_as_absent(
    block: dict[str, object],
) -> None:
    """A block is anyone's text: a value of the wrong shape is absent, never an exception."""
    record = lineage.ReleaseRecord.from_block(block)
    assert not record.gates_passed and record.baseline_ref is None
    assert record.baseline_note is None and record.rule_count == 0
    assert record.model_path is None and record.model_hash is None and record.inputs == ()
    assert record.params in ((), (("p.yaml", 0),))


def _sealed(body: str) -> str:
    """A tag message around ``body`` with a checksum that vouches for it, as a forger who
    knows the format would write it."""
    end = f"{END_PREFIX} crc32:{lineage._crc(body)}-----"
    return f"x v1.0.0: gates passed\n\n{BEGIN}\n{body}\n{end}\n"


TWICE = {  # each laid out as render writes (top-level keys indented by one space)
    "metrics written twice": '\n "metrics": {"auc": 0.5},\n "metrics": {"auc": 0.99},',
    "a metric written twice": '\n "metrics": {"auc": 0.5, "auc": 0.99},',
    "commit written twice": '\n "commit": "a",\n "commit": "b",\n "metrics": {},',
    "another key written twice": '\n "gates": {},\n "gates": {"passed": 1},\n "metrics": {},',
}
TWICE = {name: "{" + keys + '\n "schema": 1\n}' for name, keys in TWICE.items()}


@pytest.mark.parametrize("body", TWICE.values(), ids=TWICE.keys())
def test_a_key_written_twice_is_corrupt(body: str) -> None:
    """json keeps the last of two equal keys, a reader of the text may take the first: a
    block that says two things is believed in neither."""
    parsed = lineage.parse(_sealed(body))
    assert parsed.status == lineage.CORRUPT and "twice" in parsed.problem


@pytest.mark.parametrize("body", list(TWICE.values())[:3], ids=list(TWICE)[:3])
def test_headline_refuses_a_key_it_reads_written_twice(body: str) -> None:
    parsed = lineage.headline(_sealed(body))
    assert parsed.status == lineage.CORRUPT and "twice" in parsed.problem


@pytest.mark.parametrize("read", [lineage.parse, lineage.headline])
def test_a_block_nested_100000_deep_is_corrupt_not_a_crash(
    read: Callable[[str], lineage.Lineage],
) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    parsed = read(_sealed('{\n "metrics": ' + deep + ',\n "schema": 1\n}'))
    assert parsed.status == lineage.CORRUPT
