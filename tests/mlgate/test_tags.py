import subprocess
from dataclasses import replace
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
    off_commit,
    parse_release,
    parse_stage,
    releases,
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


# Arabic-Indic, Devanagari and fullwidth digits: Python's \\d and int() accept them, semver
# does not (its digits are 0-9), and "v9\u0669.0.0" must not pass for v99.0.0.
NOT_ASCII = ["v9\u0669.0.0", "v1.\u0967.0", "v1.0.\uff11", "v1.0.0-rc.\u0663"]


@pytest.mark.parametrize("bad", NOT_ASCII)
def test_version_digits_are_ascii(bad: str) -> None:
    with pytest.raises(InputError, match="not a semantic version"):
        Version.parse(bad)


def test_tags_with_other_scripts_digits_are_no_releases_or_stages() -> None:
    assert parse_release(tag("model@v9\u0669.0.0")) is None
    assert parse_stage(tag("model#prod#\u0663")) is None
    tags = [tag("model@v9.0.0"), tag("model@v9\u0669.0.0")]
    latest = latest_release(tags, "model")
    assert latest is not None and str(latest.version) == "v9.0.0"
    assert [str(v) for v in taken_versions({t.name for t in tags}, "model")] == ["v9.0.0"]
    assert max_counter({"model#prod#2", "model#prod#\u0669\u0669"}, "model") == 2


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


def test_list_tags_reads_what_each_tag_points_at(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)
        return done.stdout.decode().strip()

    git("init", "-q")
    (tmp_path / "f").write_text("x")
    git("add", "f")
    git("commit", "-q", "-m", "first")
    git("tag", "-a", "m@v1.0.0", "-m", "on the commit")
    git("tag", "-a", "m@v2.0.0", "-m", "on the tree", git("rev-parse", "HEAD^{tree}"))
    git("tag", "-a", "m@v3.0.0", "-m", "on a file", git("rev-parse", "HEAD:f"))
    git("-c", "advice.nestedTag=false", "tag", "-a", "m#prod#1", "-m", "on a tag", "m@v1.0.0")
    git("tag", "light-tree", git("rev-parse", "HEAD^{tree}"))
    tags = {t.name: t for t in list_tags(tmp_path)}
    assert {name: t.target_type for name, t in tags.items()} == {
        "m@v1.0.0": "commit",
        "m@v2.0.0": "tree",
        "m@v3.0.0": "blob",
        "m#prod#1": "tag",
        "light-tree": "tree",
    }
    assert tags["m@v2.0.0"].sha == git("rev-parse", "HEAD^{tree}")
    assert [r.name for r in releases(list(tags.values()), "m")] == ["m@v1.0.0"]
    assert parse_stage(tags["m#prod#1"]) is None


def test_off_commit_names_release_and_stage_tags_of_the_artifact_only() -> None:
    tags = [
        tag("m@v1.0.0"),
        replace(tag("m@v2.0.0"), target_type="tree"),
        replace(tag("m#prod#3"), target_type="blob"),
        replace(tag("sub=m@v1.0.0"), target_type="tag"),
        replace(tag("mm@v1.0.0"), target_type="tree"),
        replace(tag("m@v4.0.0", annotated=False), target_type="tree"),
        replace(tag("notes"), target_type="tree"),
    ]
    assert off_commit(tags, "m") == [
        ("m#prod#3", "points at a blob (a file), not a commit"),
        ("m@v2.0.0", "points at a tree (a directory), not a commit"),
    ]
    assert off_commit(tags, "sub:m") == [("sub=m@v1.0.0", "points at another tag, not a commit")]
    assert parse_release(tags[1]) is None and parse_stage(tags[2]) is None


def test_list_tags_outside_a_repo(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a git repository"):
        list_tags(tmp_path / "missing")
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(InputError, match="not a git repository"):
        list_tags(tmp_path / "a-file")  # no directory to run git in
    (tmp_path / "plain").mkdir()
    with pytest.raises(InputError, match=r"^cannot list tags in '.*plain': not a git repository"):
        list_tags(tmp_path / "plain")  # git runs there and says no


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


def test_the_artifact_to_act_on_prefers_the_root_dvc_yaml_as_dvc_does() -> None:
    from mlgate.dvcfiles import choose_artifact
    from mlgate.errors import ConfigError

    root_model = {"path": "models/model.bin", "type": "model"}
    nested = {"path": "sub/clf.bin", "type": "model"}
    declared = {"demo-model": root_model, "data": {"path": "d.csv"}, "sub:clf": nested}
    assert choose_artifact(declared) == "demo-model"  # the root's only model
    assert choose_artifact(declared, "sub:clf") == "sub:clf"
    assert choose_artifact(declared, "sub/dvc.yaml:clf") == "sub:clf"  # DVC's spelling
    assert choose_artifact({"sub:clf": nested}) == "sub:clf"  # the root declares none
    # a model anywhere goes before a root artifact of another type; then the root's go first
    assert choose_artifact({"data": {"path": "d.csv"}, "sub:clf": nested}) == "sub:clf"
    assert choose_artifact({"data": {"path": "d.csv"}, "sub:d": {"path": "e"}}) == "data"
    with pytest.raises(ConfigError, match=r"several artifacts \(demo-model, other\)"):
        choose_artifact({**declared, "other": root_model})  # two root models: no guessing
    with pytest.raises(ConfigError, match=r"no artifact 'clf' \(declared: data, demo-model"):
        choose_artifact(declared, "clf")
    with pytest.raises(ConfigError, match=r"several artifacts \(a:m, b:m\)"):
        choose_artifact({"a:m": nested, "b:m": nested})
    # a name GTO cannot tag (DVC only warns) is refused, chosen by default or by name
    for bad in ("Demo_Model", "demo.model", "modèle", "-m", "m-"):
        with pytest.raises(ConfigError, match=f"artifact '{bad}' cannot be released"):
            choose_artifact({bad: root_model})
        with pytest.raises(ConfigError, match=f"artifact '{bad}' cannot be released"):
            choose_artifact({bad: root_model, **declared}, bad)
    assert choose_artifact({"Data_Set": {"path": "d"}, "m": root_model}) == "m"
