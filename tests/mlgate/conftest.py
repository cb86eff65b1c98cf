"""Fixtures for mlgate tests: scratch git + DVC repositories (see repo_factory.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.mlgate.repo_factory import ScratchRepo


@contextmanager
def isolated_identity(home: Path) -> Iterator[None]:
    """HOME and git identity for a build that outlives one test (session or module scope):
    the autouse isolated_env fixture is function-scoped."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "mlgate tests",
            "GIT_AUTHOR_EMAIL": "tests@mlgate.invalid",
            "GIT_COMMITTER_NAME": "mlgate tests",
            "GIT_COMMITTER_EMAIL": "tests@mlgate.invalid",
            "DVC_NO_ANALYTICS": "1",
            "DVC_SITE_CACHE_DIR": str(home / ".dvc-site-cache"),
        }.items():
            mp.setenv(key, value)
        yield


@pytest.fixture(scope="session")
def _template_repo(tmp_path_factory: pytest.TempPathFactory) -> ScratchRepo:
    with isolated_identity(tmp_path_factory.mktemp("template-home")):
        return ScratchRepo.create(tmp_path_factory.mktemp("template") / "repo")


@pytest.fixture
def scratch_repo(_template_repo: ScratchRepo, tmp_path: Path) -> ScratchRepo:
    """A fresh copy of a reproduced, committed scratch repo with default metrics and gates."""
    return _template_repo.copy_to(tmp_path / "repo")
