"""Stage order from .gto and the holder of each stage (promotions, rollbacks, unassignments)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgate.errors import ConfigError, InputError
from mlgate.stages import (
    DEFAULT_STAGES,
    Assignment,
    current_holders,
    holder_stack,
    load_stage_order,
    parse_stage_order,
    previous_stage,
)
from mlgate.tags import Version

V1, V2, V3 = Version(1, 0, 0), Version(1, 1, 0), Version(2, 0, 0)


def at(second: int, stage: str, version: Version, counter: int, **kw: object) -> Assignment:
    date = f"2026-01-01T00:00:{second:02d}+00:00"
    return Assignment(f"m#{stage}#{counter}", stage, version, date, counter, **kw)  # type: ignore[arg-type]


def test_default_order_without_gto_file(tmp_path: Path) -> None:
    assert load_stage_order(tmp_path) == DEFAULT_STAGES == ("dev", "staging", "prod")


def test_order_from_gto_file(tmp_path: Path) -> None:
    (tmp_path / ".gto").write_text("type_allowed: [model]\nstages: [qa, live]\n")
    assert load_stage_order(tmp_path) == ("qa", "live")
    assert parse_stage_order("types: [model]\n") == DEFAULT_STAGES
    assert parse_stage_order("") == DEFAULT_STAGES


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("stages: prod\n", "non-empty list"),
        ("stages: []\n", "non-empty list"),
        ("stages: [dev, 'bad name']\n", "'bad name' is not a valid stage name"),
        ("stages: [dev, dev]\n", "twice"),
        ("- a\n", "mapping"),
        ("stages: [dev\n", "malformed YAML"),
    ],
)
def test_bad_gto_file_names_file_and_key(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as info:
        parse_stage_order(text, "/repo/.gto")
    assert "/repo/.gto" in str(info.value)


def test_previous_stage_and_unknown_stage() -> None:
    assert previous_stage(DEFAULT_STAGES, "dev") is None
    assert previous_stage(DEFAULT_STAGES, "prod") == "staging"
    with pytest.raises(InputError, match=r"unknown stage 'qa'.*dev, staging, prod"):
        previous_stage(DEFAULT_STAGES, "qa")


def test_latest_assignment_holds_the_stage() -> None:
    events = [at(1, "prod", V1, 1), at(2, "prod", V2, 2), at(3, "staging", V3, 3)]
    assert current_holders(events) == {"prod": V2, "staging": V3}
    assert holder_stack(events, "prod") == [V1, V2]


def test_same_second_is_ordered_by_counter_not_listing_order() -> None:
    events = [at(5, "prod", V2, 8), at(5, "prod", V1, 7)]
    assert current_holders(events)["prod"] == V2


def test_rollback_pops_so_two_rollbacks_walk_back_two_promotions() -> None:
    events = [at(1, "prod", V1, 1), at(2, "prod", V2, 2), at(3, "prod", V3, 3)]
    events.append(at(4, "prod", V2, 4, rollback_from=V3))
    assert holder_stack(events, "prod") == [V1, V2]
    events.append(at(5, "prod", V1, 5, rollback_from=V2))
    assert holder_stack(events, "prod") == [V1]


def test_plain_reassignment_pushes_again() -> None:
    events = [at(1, "prod", V1, 1), at(2, "prod", V2, 2), at(3, "prod", V1, 3)]
    assert holder_stack(events, "prod") == [V1, V2, V1]


def test_unassignment_removes_the_version() -> None:
    events = [at(1, "prod", V1, 1), at(2, "prod", V2, 2), at(3, "prod", V2, 3, unassign=True)]
    assert current_holders(events) == {"prod": V1}
    events.append(at(4, "prod", V1, 4, unassign=True))
    assert current_holders(events) == {}


def test_inputs_are_not_mutated() -> None:
    events = [at(2, "prod", V2, 2), at(1, "prod", V1, 1)]
    snapshot = list(events)
    holder_stack(events, "prod")
    assert events == snapshot
