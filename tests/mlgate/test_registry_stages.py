"""Stage order from .gto and the holder of each stage (promotions, rollbacks, unassignments)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgate.errors import ConfigError, InputError
from mlgate.stages import (
    DEFAULT_STAGES,
    Assignment,
    StageOrder,
    assignments,
    current_holders,
    holder_stack,
    in_stage,
    load_stage_order,
    load_stages,
    newest_tag_time,
    parse_stage_order,
    previous_stage,
)
from mlgate.tags import GitTagRef, Version

V1, V2, V3 = Version(1, 0, 0), Version(1, 1, 0), Version(2, 0, 0)


def at(second: int, stage: str, version: Version, counter: int, **kw: object) -> Assignment:
    date = f"2026-01-01T00:00:{second:02d}+00:00"
    name = f"m#{stage}{'!' if kw.get('unassign') else ''}#{counter}"
    return Assignment(name, stage, version, date, counter, **kw)  # type: ignore[arg-type]


def paired(second: int, stage: str, version: Version, counter: int) -> Assignment:
    """mlgate's un-assign tag of ``version``, pushed with the assignment ``#counter + 1``."""
    return at(
        second, stage, version, counter, unassign=True, paired_with=f"m#{stage}#{counter + 1}"
    )


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


def test_paired_un_assignments_keep_the_stack_for_rollback() -> None:
    # promote v1, v2 (v1 un-assigned with it), v3 (v2 un-assigned), then roll back twice
    events = [at(1, "prod", V1, 1), paired(2, "prod", V1, 2), at(3, "prod", V2, 3)]
    events += [paired(4, "prod", V2, 4), at(5, "prod", V3, 5)]
    assert holder_stack(events, "prod") == [V1, V2, V3]
    assert in_stage(events, "prod") == [V3]
    events += [paired(6, "prod", V3, 6), at(7, "prod", V2, 7, rollback_from=V3)]
    assert holder_stack(events, "prod") == [V1, V2]
    assert in_stage(events, "prod") == [V2]
    events += [paired(8, "prod", V2, 8), at(9, "prod", V1, 9, rollback_from=V2)]
    assert holder_stack(events, "prod") == [V1]
    assert in_stage(events, "prod") == [V1]


def test_an_un_assignment_without_its_assignment_removes_the_version() -> None:
    # the assignment it names is missing (deleted by hand): GTO's rule alone decides
    events = [at(1, "prod", V1, 1), at(2, "prod", V2, 2), paired(3, "prod", V2, 3)]
    assert current_holders(events) == {"prod": V1}


def test_gto_un_assigning_the_holder_empties_a_stage_whose_other_versions_left() -> None:
    # as `gto deprecate m v2 prod` after mlgate promoted v2 over v1: GTO counts nobody in prod
    events = [at(1, "prod", V1, 1), paired(2, "prod", V1, 2), at(3, "prod", V2, 3)]
    events.append(at(4, "prod", V2, 4, unassign=True))
    assert current_holders(events) == {}
    assert in_stage(events, "prod") == []


def test_versions_gto_still_counts_in_a_stage_highest_first() -> None:
    # tags from before un-assignments: every version assigned is still in the stage for GTO
    events = [at(1, "prod", V2, 1), at(2, "prod", V1, 2), at(3, "prod", V3, 3, unassign=True)]
    assert in_stage(events, "prod") == [V2, V1]
    assert current_holders(events) == {"prod": V1}


def tag(name: str, date: str, message: str = "", sha: str = "a" * 40) -> GitTagRef:
    return GitTagRef(name, sha, True, date, message.partition("\n")[0], message)


def test_assignments_read_mlgate_un_assign_tags_and_gto_ones() -> None:
    from mlgate import lineage

    block = {"action": "unassign", "assignment": "m#prod#3"}
    ours = lineage.render("Unassigning stage 'prod' to artifact 'm' version 'v1.0.0'", block)
    tags = [
        tag("m@v1.0.0", "2026-01-01T00:00:01+00:00"),
        tag("m#prod!#2", "2026-01-01T00:00:02+00:00", ours),
        tag("m#prod!#4", "2026-01-01T00:00:04+00:00", "Unassigning stage 'prod' ..."),
    ]
    found = {a.tag: a for a in assignments(tags, "m")}
    assert found["m#prod!#2"].unassign and found["m#prod!#2"].paired_with == "m#prod#3"
    assert found["m#prod!#4"].unassign and found["m#prod!#4"].paired_with is None


def test_newest_tag_time_covers_the_artifacts_release_and_stage_tags_only() -> None:
    tags = [
        tag("m@v1.0.0", "2026-01-01T00:00:01+00:00"),
        tag("m#prod#2", "2026-01-01T00:00:09+01:00"),  # 23:00:09 the day before, in UTC
        tag("m#dev!#3", "2026-01-01T00:00:05+00:00"),
        tag("other#prod#1", "2027-01-01T00:00:00+00:00"),
        tag("m-old@v9.0.0", "2027-01-01T00:00:00+00:00"),
    ]
    assert newest_tag_time(tags, "m") == 1767225605  # 2026-01-01T00:00:05Z
    assert newest_tag_time(tags[3:], "m") is None


def test_without_a_stage_list_any_stage_gto_accepts_is_allowed(tmp_path: Path) -> None:
    for gto_file in (None, "type_allowed: [model]\n"):
        if gto_file is not None:
            (tmp_path / ".gto").write_text(gto_file)
        order = load_stages(tmp_path)
        assert order == StageOrder(DEFAULT_STAGES, listed=False)
        for stage in ("qa", "canary-eu", "eu/prod", "dev", "QA_eu", "Prod2"):
            order.check(stage)
        assert order.previous("qa") is None  # no order rule outside the list
        assert order.previous("prod") == "staging"  # the default order still holds


def test_a_stage_list_allows_only_its_stages_in_its_order(tmp_path: Path) -> None:
    (tmp_path / ".gto").write_text("stages: [qa, live]\n")
    order = load_stages(tmp_path)
    assert order.previous("live") == "qa" and order.previous("qa") is None
    with pytest.raises(InputError, match=r"unknown stage 'prod' \(stages in .gto: qa, live\)"):
        order.check("prod")


@pytest.mark.parametrize(
    ("stage", "problem"),
    [
        ("bad name", "not a stage name GTO accepts"),
        ("qa_", "not a stage name GTO accepts"),
        ("-qa", "not a stage name GTO accepts"),
        ("q#a", "not a stage name GTO accepts"),
    ],
)
def test_a_stage_gto_refuses_is_refused(stage: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        StageOrder().check(stage)
