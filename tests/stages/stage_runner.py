"""Run a stage module the way dvc does (`python -m stages.<name>`) in a scratch directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]


def run_stage(
    name: str,
    args: list[str],
    cwd: Path,
    params: dict[str, Any],
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the stage; `env` adds variables to (or overrides) the inherited environment."""
    (cwd / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    env = {**os.environ, **(env or {}), "PYTHONPATH": str(REPO)}
    env.pop("MLGATE_TRACEBACK", None)
    return subprocess.run(
        [sys.executable, "-m", f"stages.{name}", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
