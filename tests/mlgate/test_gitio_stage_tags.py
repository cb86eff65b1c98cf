"""The git operations behind stage changes: dated tags and all-or-none pushes of several."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgate import gitio, publish
from tests.mlgate.test_gitio import git


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "commit", "-q", "--allow-empty", "-m", "first")
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "main")
    return root


def test_a_tag_gets_the_date_asked_for(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2026-01-02T03:04:05+00:00")
    assert gitio.committer_time(repo) == (1767323045, "+0000")
    gitio.create_annotated_tag_at(repo, "m#prod#1", "HEAD", "# kept\n", 1767323047, "+0200")
    assert git(repo, "for-each-ref", "--format=%(taggerdate:raw)", "refs/tags/m#prod#1") == (
        "1767323047 +0200"
    )
    assert git(repo, "for-each-ref", "--format=%(contents)", "refs/tags/m#prod#1") == "# kept"
    with pytest.raises(gitio.GitError, match="already exists"):
        gitio.create_annotated_tag_at(repo, "m#prod#1", "HEAD", "again", 1767323048, "+0000")


def test_several_tags_are_pushed_all_or_none(repo: Path) -> None:
    for name in ("a", "b", "c"):
        git(repo, "tag", "-a", "-m", name, name)
    assert publish.push_tags(repo, "origin", ["a", "b"]).outcome is publish.Pushed.ACCEPTED
    assert publish.push_tags(repo, "origin", ["a", "b"]).outcome is publish.Pushed.ALREADY
    git(repo, "tag", "-d", "b")
    git(repo, "tag", "-a", "-m", "another b", "b")
    result = publish.push_tags(repo, "origin", ["c", "b"])
    assert result.outcome is publish.Pushed.TAKEN and "already exists" in result.detail
    remote = git(repo, "ls-remote", "--tags", "origin")
    assert "refs/tags/c" not in remote  # c was not pushed without b
    missing = publish.push_tags(repo, "nowhere", ["c", "b"])
    assert missing.outcome is publish.Pushed.REFUSED
