"""Shared test setup: every test runs with its own HOME and git identity, no DVC analytics."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

SYSTEM_FULL = Path("/dev/full")


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
    # Text tables wrap at COLUMNS when it is set; pytest-xdist's workers inherit a width the
    # outputs under test must not depend on (tests that want one set it themselves).
    monkeypatch.delenv("COLUMNS", raising=False)
    return home


def _fails_as_full(path: Path) -> bool:
    try:
        with open(path, "wb", buffering=0) as device:
            device.write(b"x")
    except OSError as exc:
        return exc.errno == errno.ENOSPC
    return False


@pytest.fixture
def full_disk() -> Callable[[Path], Path]:
    """``make(path)``: a file at ``path`` that every write fails on with ENOSPC, as on a full
    disk, returned as the path to write to.

    As root: a private device node like /dev/full (character device 1,7) at ``path``, which
    the code under test may delete. Otherwise a symlink at ``path`` to /dev/full, which such
    a user cannot delete; ``make(path, replaced=True)`` returns /dev/full itself instead, for
    code that removes its output before writing it (the symlink would be replaced by a file).
    Never /dev/full itself for root: code that cleans up outputs could remove the machine's.
    """
    if not SYSTEM_FULL.exists():
        pytest.skip("no /dev/full on this system")

    def make(path: Path, replaced: bool = False) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 7))
            if not _fails_as_full(path):  # a filesystem mounted nodev
                pytest.skip(f"{path}: a device node here does not act as /dev/full")
            return path
        if replaced:
            return SYSTEM_FULL
        path.symlink_to(SYSTEM_FULL)
        return path

    return make
