"""A full disk under any command: one line on stderr and exit 2, no traceback, and `check`
exits 1 only for failed gates (issue 16, hostile input).

Output goes to a file that fails as a full disk does (tests/conftest.py's ``full_disk``),
through a real process: click flushes what it prints, so the error comes from a write that
CliRunner's in-memory capture could not fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlgate import gitio
from mlgate.cli import cli
from tests.mlgate.registry_repo import chdir
from tests.mlgate.repo_factory import ScratchRepo

SRC = Path(__file__).resolve().parents[2] / "src"


def mlgate_into(repo: ScratchRepo, stdout: int, *args: str) -> subprocess.CompletedProcess[str]:
    """``mlgate ARGS`` in ``repo`` with its standard output on the file descriptor ``stdout``."""
    return subprocess.run(
        [sys.executable, "-m", "mlgate", *args],
        cwd=repo.root,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["check"],
        ["check", "--format", "json"],
        ["check", "--format", "md"],
        ["history"],
        ["--help"],
        ["check", "--help"],
    ],
    ids=" ".join,
)
def test_output_to_a_full_disk_is_one_line_and_exit_2(
    scratch_repo: ScratchRepo, tmp_path: Path, full_disk: Callable[..., Path], args: list[str]
) -> None:
    full = full_disk(tmp_path / "out.txt")
    with open(full, "wb") as output:
        done = mlgate_into(scratch_repo, output.fileno(), *args)
    assert (done.returncode, done.stderr) == (
        2,
        "mlgate: error: cannot write the output: No space left on device\n",
    )


def test_output_into_a_closed_pipe_is_one_line_and_exit_2(scratch_repo: ScratchRepo) -> None:
    """Not exit 1 (click's own answer to EPIPE), which `check` means as "a gate failed"."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = mlgate_into(scratch_repo, write_end, "check")
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (
        2,
        "mlgate: error: cannot write the output: Broken pipe\n",
    )


def test_a_report_written_to_a_full_disk_is_one_line(
    scratch_repo: ScratchRepo, tmp_path: Path, full_disk: Callable[..., Path]
) -> None:
    full = full_disk(tmp_path / "report.md")
    done = mlgate_into(
        scratch_repo, subprocess.DEVNULL, "report", "--base", "main", "--output", str(full)
    )
    assert (done.returncode, done.stderr) == (
        2,
        f"mlgate: error: {full}: cannot write the report (No space left on device)\n",
    )


@pytest.mark.parametrize(
    "stderr",
    [
        "error: unable to create temporary file: No space left on device\n"
        "fatal: unable to write tag file\n",
        "fatal: unable to write loose object file: No space left on device\n",
    ],
)
def test_a_tag_git_cannot_write_for_a_full_disk_says_so(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch, stderr: str
) -> None:
    """git's own words, as git writes them when the disk is full (object-file.c), reach the
    one line: `release` and `promote` create tags through the same gitio call."""
    real_run = gitio._run

    def full_for_tags(repo_root, args, stdin, env=None):
        if args[:2] == ("tag", "-a"):
            return subprocess.CompletedProcess(["git", *args], 128, b"", stderr.encode())
        return real_run(repo_root, args, stdin, env)

    monkeypatch.setattr(gitio, "_run", full_for_tags)
    with chdir(scratch_repo.root):
        result = CliRunner().invoke(cli, ["release", "--no-push"])
    assert result.exit_code == 2
    cause = stderr.splitlines()[0]
    assert result.stderr == f"mlgate: error: git tag failed in '{scratch_repo.root}': {cause}\n"
