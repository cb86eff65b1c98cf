"""What the tools users run leave behind is ignored, so it never blocks `mlgate release`."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_dvc_plots_output_is_ignored() -> None:
    # `dvc plots show` writes dvc_plots/index.html; untracked, release sees uncommitted changes
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "--quiet", "dvc_plots/index.html"],
        cwd=REPO,
        check=False,
    )
    assert ignored.returncode == 0


def test_scoring_cache_is_ignored() -> None:
    # `make score` keeps fetched models and its unfinished files there; untracked, they
    # would block `mlgate release`
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "--quiet", "monitoring/.cache/models/v1.0.0.skops"],
        cwd=REPO,
        check=False,
    )
    assert ignored.returncode == 0
