"""Test helpers of the registry tests: a scratch DVC repo published to a local bare remote.

Builds on ``repo_factory.ScratchRepo`` (the shared scratch repository); everything here is
local, no network: the "remote" is a bare repository in the test's tmp directory.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mlgate.cli import cli
from tests.mlgate.repo_factory import ARTIFACT, ScratchRepo, metrics_with, run

__all__ = ["ARTIFACT", "Published", "metrics_with", "published", "tag_names"]


@dataclass
class Published:
    """A scratch repo whose ``main`` is pushed to a bare ``origin``."""

    repo: ScratchRepo
    remote: Path

    @property
    def root(self) -> Path:
        return self.repo.root

    def mlgate(self, *args: str, cwd: Path | None = None) -> Result:
        with chdir(cwd or self.root):
            return CliRunner().invoke(cli, list(args))

    def push(self) -> None:
        self.repo.git("push", "-q", "origin", "HEAD:main")

    def remote_tags(self) -> set[str]:
        out = run(["git", "for-each-ref", "--format=%(refname:strip=2)", "refs/tags"], self.remote)
        return set(out.stdout.split())

    def clone(self, path: Path) -> ScratchRepo:
        """A second working copy (with the DVC outputs, so its pipeline is up to date)."""
        clone = self.repo.copy_to(path)
        clone.git("remote", "set-url", "origin", str(self.remote))
        return clone


@contextmanager
def chdir(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def tag_names(root: Path) -> set[str]:
    out = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname:strip=2)", "refs/tags"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(out.stdout.split())


def tag_message(root: Path, tag: str) -> str:
    """The message of an annotated tag (a release's lineage block)."""
    out = subprocess.run(
        ["git", "for-each-ref", "--format=%(contents)", f"refs/tags/{tag}"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def new_remote(repo: ScratchRepo, path: Path) -> Path:
    run(["git", "init", "-q", "--bare", "-b", "main", str(path)], repo.root)
    repo.git("remote", "add", "origin", str(path))
    repo.git("push", "-q", "origin", "main")
    return path


@pytest.fixture
def published(scratch_repo: ScratchRepo, tmp_path: Path) -> Published:
    return Published(scratch_repo, new_remote(scratch_repo, tmp_path / "remote.git"))
