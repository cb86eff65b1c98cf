import subprocess
from pathlib import Path

import pytest

from mlgate.errors import InputError
from mlgate.tags import (
    GitTagRef,
    Version,
    deregistered,
    latest_release,
    list_tags,
    max_counter,
    parse_release,
    parse_stage,
    taken_versions,
)


def tag(name: str, annotated: bool = True) -> GitTagRef:
    return GitTagRef(name, "a" * 40, annotated, "2026-01-01T00:00:00+00:00", "")


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("v1.0.0", "v1.0.1"),
        ("v1.9.0", "v1.10.0"),
        ("v1.0.0-rc.1", "v1.0.0"),
        ("v0.9.9", "v1.0.0"),
        ("v1.0.0-rc.2", "v1.0.0-rc.10"),
    ],
)
def test_semver_precedence(lower: str, higher: str) -> None:
    assert Version.parse(lower) < Version.parse(higher)


@pytest.mark.parametrize("bad", ["1.0", "v01.0.0", "latest", "v1.0.0.0", ""])
def test_malformed_version(bad: str) -> None:
    with pytest.raises(InputError, match="not a semantic version"):
        Version.parse(bad)


def test_bump() -> None:
    v = Version.parse("v1.2.3")
    assert str(v.bump("patch")) == "v1.2.4"
    assert str(v.bump("minor")) == "v1.3.0"
    assert str(v.bump("major")) == "v2.0.0"


def test_latest_is_by_semver_not_by_listing_order() -> None:
    tags = [
        tag("model@v1.10.0"),
        tag("model@v1.9.0"),
        tag("other@v9.0.0"),
        tag("model@v2.0.0", False),
    ]
    latest = latest_release(tags, "model")
    assert latest is not None and str(latest.version) == "v1.10.0"


def test_parse_stage_and_release() -> None:
    assert parse_release(tag("model#prod#3")) is None
    stage = parse_stage(tag("model#prod#3"))
    assert stage is not None and (stage.stage, stage.counter, stage.unassign) == ("prod", 3, False)
    assert parse_stage(tag("model#prod!#4")).unassign  # type: ignore[union-attr]
    assert parse_release(tag("model@v1.0.0", annotated=False)) is None


def test_list_tags_reads_annotated_and_lightweight(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("commit", "-q", "--allow-empty", "-m", "first")
    git("tag", "-a", "m@v1.0.0", "-m", "release")
    git("tag", "light")
    tags = {t.name: t for t in list_tags(tmp_path)}
    assert tags["m@v1.0.0"].annotated and not tags["light"].annotated
    assert tags["m@v1.0.0"].sha == tags["light"].sha


def test_list_tags_outside_a_repo(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a git repository"):
        list_tags(tmp_path / "missing")


def test_list_tags_with_messages_keeps_multiline_messages(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("commit", "-q", "--allow-empty", "-m", "first")
    git("tag", "-a", "m@v1.0.0", "--cleanup=verbatim", "-m", 'line one\n\n# kept\n{"a": 1}\n')
    git("tag", "-a", "m@v1.0.1", "-m", "second")
    git("tag", "light")
    tags = {t.name: t for t in list_tags(tmp_path, with_messages=True)}
    assert tags["m@v1.0.0"].message == 'line one\n\n# kept\n{"a": 1}\n'
    assert tags["m@v1.0.0"].subject == "line one"
    assert tags["m@v1.0.1"].message.strip() == "second"
    assert tags["light"].message.strip() == "first"  # a lightweight tag shows its commit
    assert list_tags(tmp_path)[0].message == ""


def test_taken_versions_count_every_tag_form() -> None:
    names = ["m@v1.0.0", "m@v1.2.0!", "m@v1.3.0#4", "m#prod#5", "mm@v9.0.0", "m@latest", "x"]
    assert sorted(map(str, taken_versions(names, "m"))) == ["v1.0.0", "v1.2.0", "v1.3.0"]
    assert taken_versions(["sub=m@v2.0.0"], "sub:m") == [Version(2, 0, 0)]


def test_max_counter_is_per_artifact() -> None:
    names = ["m#dev#1", "m#prod#7", "m#prod!#3", "m@v1.0.0", "mm#prod#40", "m@v1.1.0!#9"]
    assert max_counter(names, "m") == 9
    assert max_counter(names, "other") == 0


def test_deregistered_versions_need_annotated_tags() -> None:
    tags = [
        tag("m@v1.0.0!#4"),
        tag("m@v1.1.0!"),
        tag("m@v2.0.0!", annotated=False),
        tag("m@v3.0.0"),
    ]
    assert deregistered(tags, "m") == {Version(1, 0, 0), Version(1, 1, 0)}
