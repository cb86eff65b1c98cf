"""Shared test setup: every test runs with its own HOME and git identity, no DVC analytics."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "mlgate tests")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "tests@mlgate.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "mlgate tests")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "tests@mlgate.invalid")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(home / ".dvc-site-cache"))
    return home
