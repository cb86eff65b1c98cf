"""Tags named like a release or a stage that point at a tree, a blob or another tag.

``git tag -a income-model@v1.0.0 <tree>`` is possible, and GTO fails on it (or, for a tag of a
tag, takes the inner tag object for the commit). None of them is a release or a stage
assignment: history says so, no baseline uses one, promote refuses one, and the version
name stays taken.
"""

from __future__ import annotations

import json

import pytest

from tests.mlgate.registry_repo import ARTIFACT, Published, published, tag_names

__all__ = ["published"]

KINDS = {
    "tree": "points at a tree (a directory), not a commit",
    "blob": "points at a blob (a file), not a commit",
    "tag": "points at another tag, not a commit",
}


def tag_off_commit(p: Published, name: str, kind: str) -> None:
    """An annotated tag ``name`` on HEAD's tree, on a file, or on another annotated tag."""
    if kind == "tag":
        p.repo.git("tag", "-a", "inner", "-m", "an ordinary tag", "HEAD")
    target = {"tree": "HEAD^{tree}", "blob": "HEAD:dvc.yaml", "tag": "inner"}[kind]
    p.repo.git(
        "-c",
        "advice.nestedTag=false",
        "tag",
        "-a",
        name,
        "-m",
        "odd",
        p.repo.git("rev-parse", target),
    )


@pytest.fixture(params=sorted(KINDS))
def odd_release(published: Published, request: pytest.FixtureRequest) -> tuple[Published, str]:
    """v0.0.1 released by mlgate on the first commit, then a second commit whose tree (or a
    file, or a tag on it) carries the name v1.0.0."""
    p = published
    assert p.mlgate("release").exit_code == 0
    p.repo.write("notes.txt", "second")
    p.repo.commit("second")
    p.push()
    tag_off_commit(p, f"{ARTIFACT}@v1.0.0", request.param)
    return p, request.param


def test_history_lists_it_as_ignored_with_the_reason(odd_release: tuple[Published, str]) -> None:
    p, kind = odd_release
    line = f"ignored {ARTIFACT}@v1.0.0: {KINDS[kind]}"
    result = p.mlgate("history", "--format", "json")
    assert result.exit_code == 0, result.output
    assert [entry["version"] for entry in json.loads(result.stdout)] == ["v0.0.1"]
    assert result.stderr.strip() == line  # the JSON on stdout stays a list of releases
    text = p.mlgate("history").stdout.splitlines()
    assert text[2].startswith("v0.0.1") and text[-1] == line


def test_check_and_report_skip_it_as_the_latest_release(
    odd_release: tuple[Published, str],
) -> None:
    p, _ = odd_release
    result = p.mlgate("check", "--rev", "HEAD", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["baseline"]["ref"] == f"{ARTIFACT}@v0.0.1"
    report = p.mlgate("report", "--base", "HEAD~1")
    assert report.exit_code == 0, report.output
    assert "v1.0.0" not in report.stdout


def test_release_skips_it_as_baseline_and_never_reuses_its_version(
    odd_release: tuple[Published, str],
) -> None:
    p, kind = odd_release
    result = p.mlgate("release")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert (
        lines[0] == f"ignored {ARTIFACT}@v1.0.0: {KINDS[kind]}; its version is taken all the same"
    )
    assert f"gates passed against {ARTIFACT}@v0.0.1" in result.stdout
    assert lines[-1] == f"{ARTIFACT}@v1.0.1"
    head = p.repo.git("rev-parse", "HEAD")
    assert p.repo.git("rev-parse", f"{ARTIFACT}@v1.0.1^{{}}") == head
    again = p.mlgate("release")  # the real release of this commit is found, not a new one
    assert again.exit_code == 0 and "is already released as" in again.stdout


def test_promote_refuses_to_stage_it(odd_release: tuple[Published, str]) -> None:
    p, kind = odd_release
    before = tag_names(p.root)
    result = p.mlgate("promote", "v1.0.0", "dev")
    assert result.exit_code == 2, result.output
    assert result.stderr == f"mlgate: error: {ARTIFACT}@v1.0.0 is not a release: it {KINDS[kind]}\n"
    assert tag_names(p.root) == before


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_stage_tag_off_a_commit_holds_no_stage(published: Published, kind: str) -> None:
    p = published
    assert p.mlgate("release").exit_code == 0
    assert p.mlgate("promote", "v0.0.1", "dev").exit_code == 0
    tag_off_commit(p, f"{ARTIFACT}#staging#2", kind)
    result = p.mlgate("history", "--format", "json")
    assert [entry["stages"] for entry in json.loads(result.stdout)] == [["dev"]]
    assert result.stderr.strip() == f"ignored {ARTIFACT}#staging#2: {KINDS[kind]}"
    # its counter stays taken, as GTO numbers every tag of the artifact
    assert p.mlgate("promote", "v0.0.1", "staging").stdout.splitlines()[-1] == (
        f"{ARTIFACT}#staging#3"
    )
    # and rollback cannot land on it
    refused = p.mlgate("rollback", "staging", "--message", "x")
    assert refused.exit_code == 2 and "no earlier version held it" in refused.stderr
