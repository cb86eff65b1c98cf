"""Properties of version computation: the next version is above every name in use."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from mlgate.release import next_version
from mlgate.stages import Assignment, holder_stack
from mlgate.tags import Version

versions = st.builds(
    Version,
    st.integers(0, 30),
    st.integers(0, 30),
    st.integers(0, 30),
    st.sampled_from(["", "rc.1", "rc.2", "alpha"]),
)
forms = st.sampled_from(["{a}@{v}", "{a}@{v}!", "{a}@{v}#7", "{a}#prod#3", "x{a}@{v}"])


@given(
    st.lists(st.tuples(versions, forms), max_size=20), st.sampled_from(["patch", "minor", "major"])
)
def test_next_version_is_above_every_taken_name(tags: list[tuple[Version, str]], bump: str) -> None:
    names = {form.format(a="m", v=version) for version, form in tags}
    chosen = next_version(names, "m", bump)
    assert f"m@{chosen}" not in names
    for version, form in tags:
        if form.startswith("{a}@"):
            assert version < chosen
    assert chosen.prerelease == ""


def test_first_version_per_bump() -> None:
    assert str(next_version(set(), "m", "patch")) == "v0.0.1"  # as GTO's first version
    assert str(next_version(set(), "m", "minor")) == "v0.1.0"
    assert str(next_version(set(), "m", "major")) == "v1.0.0"
    assert str(next_version({"m@v1.2.3", "m@v1.10.0"}, "m", "patch")) == "v1.10.1"


@given(st.lists(st.integers(0, 5), min_size=1, max_size=15))
def test_promotions_only_leave_the_last_promoted_version_on_top(order: list[int]) -> None:
    events = [
        Assignment(f"m#prod#{i}", "prod", Version(1, v, 0), "2026-01-01T00:00:00+00:00", i + 1)
        for i, v in enumerate(order)
    ]
    stack = holder_stack(list(reversed(events)), "prod")  # listing order does not matter
    assert stack[-1] == Version(1, order[-1], 0)
    assert all(a != b for a, b in itertools.pairwise(stack))  # no repeats in a row
