"""Compatibility with the real tools: GTO and DVC read what mlgate writes, and vice versa."""

from __future__ import annotations

import itertools
import json

import pytest

from tests.mlgate.registry_repo import ARTIFACT, Published, published

__all__ = ["published"]

gto_api = pytest.importorskip("gto.api")


class Clock:
    """Distinct tag times, one second apart: GTO orders stage events by tag time only."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.seconds = itertools.count(1)

    def tick(self) -> None:
        second = next(self.seconds)
        self.monkeypatch.setenv(
            "GIT_COMMITTER_DATE", f"2026-01-01T00:{second // 60:02d}:{second % 60:02d}+00:00"
        )


def run_ok(p: Published, clock: Clock, *args: str) -> str:
    clock.tick()
    result = p.mlgate(*args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def release_new_commit(p: Published, clock: Clock, note: str) -> None:
    clock.tick()
    p.repo.write("notes.txt", note)
    p.repo.commit(note)
    p.push()
    run_ok(p, clock, "release")


def ours(p: Published) -> list[dict]:
    result = p.mlgate("history", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def registry_state(published: Published, monkeypatch: pytest.MonkeyPatch) -> Published:
    """Three releases, promotions through every stage, and one rollback, all by mlgate."""
    p, clock = published, Clock(monkeypatch)
    run_ok(p, clock, "release")
    release_new_commit(p, clock, "second")
    release_new_commit(p, clock, "third")
    for version, stage in [
        ("v0.0.1", "dev"),
        ("v0.0.1", "staging"),
        ("v0.0.1", "prod"),
        ("v0.0.2", "dev"),
        ("v0.0.2", "staging"),
        ("v0.0.2", "prod"),
        ("v0.0.3", "dev"),
    ]:
        run_ok(p, clock, "promote", version, stage)
    run_ok(p, clock, "rollback", "prod", "--message", "v0.0.2 misbehaves")
    return p


def test_gto_show_lists_the_same_versions_and_stages(registry_state: Published) -> None:
    p = registry_state
    mine = ours(p)
    assert [e["version"] for e in mine] == ["v0.0.3", "v0.0.2", "v0.0.1"]
    mine_stages = {stage: e["version"] for e in mine for stage in e["stages"]}
    assert mine_stages == {"dev": "v0.0.3", "staging": "v0.0.2", "prod": "v0.0.1"}

    state = gto_api.show(str(p.root))[ARTIFACT]
    assert state["version"] == "v0.0.3"
    assert state["stage"] == mine_stages
    versions = gto_api.show(str(p.root), name=ARTIFACT)
    assert {v["version"] for v in versions} == {e["version"] for e in mine}
    gto_commits = {v["version"]: v["commit_hexsha"] for v in versions}
    assert gto_commits == {e["version"]: e["sha"] for e in mine}


def test_gto_history_sees_every_release_and_assignment(registry_state: Published) -> None:
    p = registry_state
    events = gto_api.history(str(p.root), artifact=ARTIFACT)
    registrations = sorted(e["version"] for e in events if e["event"] == "registration")
    assert registrations == ["v0.0.1", "v0.0.2", "v0.0.3"]
    assignments = [e for e in events if e["event"] == "assignment"]
    assert len(assignments) == 8  # seven promotions and the rollback
    newest = max(assignments, key=lambda e: e["timestamp"])
    assert (newest["version"], newest["stage"]) == ("v0.0.1", "prod")
    assert "Roll back" in newest["message"] and "v0.0.2 misbehaves" in newest["message"]


def test_dvc_artifacts_api_resolves_latest_and_stages(registry_state: Published) -> None:
    import dvc.api

    p = registry_state
    by_version = {e["version"]: e["sha"] for e in ours(p)}
    latest = dvc.api.artifacts_show(ARTIFACT, repo=str(p.root))
    assert latest == {"rev": by_version["v0.0.3"], "path": "models/model.bin"}
    prod = dvc.api.artifacts_show(ARTIFACT, stage="prod", repo=str(p.root))
    assert prod["rev"] == by_version["v0.0.1"]
    pinned = dvc.api.artifacts_show(ARTIFACT, version="v0.0.2", repo=str(p.root))
    assert pinned["rev"] == by_version["v0.0.2"]


def test_mlgate_continues_a_registry_made_by_gto(
    published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    p, clock = published, Clock(monkeypatch)
    clock.tick()
    gto_api.register(str(p.root), ARTIFACT, "HEAD", version="v1.4.0")
    clock.tick()
    gto_api.assign(str(p.root), ARTIFACT, "dev", version="v1.4.0")
    p.repo.git("push", "-q", "origin", "--tags")
    assert ours(p)[0]["version"] == "v1.4.0" and ours(p)[0]["stages"] == ["dev"]
    assert ours(p)[0]["lineage"] == "missing"
    release_new_commit(p, clock, "next")
    assert ours(p)[0]["version"] == "v1.4.1"
    # GTO's counter continues too: its dev tag was #1.
    assert run_ok(p, clock, "promote", "v1.4.0", "staging") == f"{ARTIFACT}#staging#2"


def test_a_version_deregistered_with_gto_disappears_from_both(
    registry_state: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    p, clock = registry_state, Clock(monkeypatch)
    for _ in range(30):  # after the fixture's tags
        clock.tick()
    gto_api.deregister(str(p.root), ARTIFACT, version="v0.0.3")
    mine = ours(p)
    assert [e["version"] for e in mine] == ["v0.0.2", "v0.0.1"]
    state = gto_api.show(str(p.root))[ARTIFACT]
    assert state["version"] == "v0.0.2"
    assert {v["version"] for v in gto_api.show(str(p.root), name=ARTIFACT)} == {"v0.0.2", "v0.0.1"}
    mine_stages = {stage: e["version"] for e in mine for stage in e["stages"]}
    assert mine_stages == {k: v for k, v in state["stage"].items() if v}
    result = p.mlgate("promote", "v0.0.3", "dev")
    assert result.exit_code == 2 and "was deregistered" in result.stderr
    # The baseline of check is the latest active release, as gto show's latest.
    checked = p.mlgate("check", "--format", "json")
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["baseline"]["ref"] == f"{ARTIFACT}@v0.0.2"
    # The name stays taken; the commit it released is no longer released (GTO would register
    # it again), and the baseline of the next release is the latest active one.
    p.push()
    p.repo.git("push", "-q", "origin", "--tags")
    assert run_ok(p, clock, "release") == f"{ARTIFACT}@v0.0.4"
    release_new_commit(p, clock, "fourth")
    assert [e["version"] for e in ours(p)][:2] == ["v0.0.5", "v0.0.4"]
    message = p.repo.git("for-each-ref", "--format=%(contents)", f"refs/tags/{ARTIFACT}@v0.0.4")
    assert f'"ref": "{ARTIFACT}@v0.0.2"' in message


def test_gto_has_no_commit_for_a_release_tag_on_a_tag_or_a_tree(published: Published) -> None:
    """Why mlgate ignores such tags (tests/mlgate/test_off_commit_tags.py): GTO records a tag
    of a tag with the inner tag object as its "commit" (so a stage tag on the real commit
    would not reach it), and fails outright on a tag of a tree."""
    p = published
    assert p.mlgate("release").exit_code == 0
    p.repo.git(
        "-c",
        "advice.nestedTag=false",
        "tag",
        "-a",
        f"{ARTIFACT}@v1.0.0",
        "-m",
        "x",
        f"{ARTIFACT}@v0.0.1",
    )
    gto_commits = {
        v["version"]: v["commit_hexsha"] for v in gto_api.show(str(p.root), name=ARTIFACT)
    }
    assert p.repo.git("cat-file", "-t", gto_commits["v1.0.0"]) == "tag"
    assert [e["version"] for e in ours(p)] == ["v0.0.1"]
    p.repo.git("tag", "-a", f"{ARTIFACT}@v2.0.0", "-m", "x", p.repo.git("rev-parse", "HEAD^{tree}"))
    with pytest.raises(AttributeError, match="commit_time"):
        gto_api.show(str(p.root), name=ARTIFACT)
    assert [e["version"] for e in ours(p)] == ["v0.0.1"]


NESTED_DVC_YAML = {
    "artifacts": {"clf": {"path": "clf.bin", "type": "model"}},
    "stages": {
        "fit": {
            "cmd": "cp ../inputs/metrics.json clf.bin",
            "deps": ["../inputs/metrics.json"],
            "outs": ["clf.bin"],
        }
    },
}


def test_an_artifact_of_a_nested_dvc_yaml_goes_by_the_name_dvc_and_gto_give_it(
    published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sub/dvc.yaml`'s artifact `clf` is `sub:clf` (tags `sub=clf@...`) for GTO and DVC:
    mlgate releases and promotes it under that name, with its model hash in the lineage,
    while the root dvc.yaml's model stays the default."""
    import dvc.api

    from mlgate import lineage
    from tests.mlgate.registry_repo import tag_message

    p, clock = published, Clock(monkeypatch)
    p.repo.write("sub/dvc.yaml", NESTED_DVC_YAML)
    p.repo.dvc("repro", "-q", "--all-pipelines")
    sha = p.repo.commit("a second model, in a nested pipeline")
    p.push()

    assert run_ok(p, clock, "release") == f"{ARTIFACT}@v0.0.1"  # the root's model
    assert run_ok(p, clock, "release", "--artifact", "sub:clf") == "sub=clf@v0.0.1"
    promoted = run_ok(p, clock, "promote", "v0.0.1", "dev", "--artifact", "sub/dvc.yaml:clf")
    assert promoted == "sub=clf#dev#1"  # DVC's other spelling of the name

    block = lineage.parse(tag_message(p.root, "sub=clf@v0.0.1"))
    locked = p.repo.read("sub/dvc.lock")
    assert block.data["artifact"] == "sub:clf"
    assert block.data["model"]["path"] == "sub/clf.bin"
    assert block.data["model"]["hash"] and block.data["model"]["hash"] in locked

    state = gto_api.show(str(p.root))
    assert {"sub:clf", ARTIFACT} <= set(state)
    nested = gto_api.show(str(p.root), "sub:clf")
    assert [(v["version"], [a["stage"] for a in v["stages"]]) for v in nested] == [
        ("v0.0.1", ["dev"])
    ]
    assert dvc.api.artifacts_show("sub:clf", repo=str(p.root)) == {
        "rev": sha,
        "path": "sub/clf.bin",
    }
    history = p.mlgate("history", "--artifact", "sub/dvc.yaml:clf", "--format", "json")
    assert [e["version"] for e in json.loads(history.stdout)] == ["v0.0.1"]
    assert run_ok(p, clock, "show", "dev", "--artifact", "sub/dvc.yaml:clf").startswith("params: ")


def test_a_nested_folder_name_gto_allows_reads_back(
    published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GTO allows upper case and '_' in the folder part: the tag must read back as a release
    (else a second release would make v0.0.2 and check would see no baseline)."""
    p, clock = published, Clock(monkeypatch)
    p.repo.write("My_Sub/dvc.yaml", NESTED_DVC_YAML)
    p.repo.dvc("repro", "-q", "--all-pipelines")
    p.repo.commit("a nested model in My_Sub")
    p.push()
    assert run_ok(p, clock, "release", "--artifact", "My_Sub:clf") == "My_Sub=clf@v0.0.1"
    assert run_ok(p, clock, "release", "--artifact", "My_Sub:clf") == "My_Sub=clf@v0.0.1"
    assert "My_Sub:clf" in gto_api.show(str(p.root))


def test_a_nested_folder_that_cannot_be_in_a_tag_name_is_refused(published: Published) -> None:
    p = published
    p.repo.write("my sub/dvc.yaml", NESTED_DVC_YAML)
    p.repo.commit("a nested pipeline in a folder with a space")
    p.push()
    result = p.mlgate("release", "--artifact", "my sub:clf", "--no-push", "--dry-run")
    assert result.exit_code == 2, result.output
    assert "cannot be a git tag name" in result.stderr
