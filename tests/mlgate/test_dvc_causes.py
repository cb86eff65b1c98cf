"""An error from DVC or git keeps its own cause in mlgate's one line (issue 16, item 4):
`mlgate check` in DVC projects whose repository is broken in the ways tried for that item.

Cases tried that already said why, and so need nothing here: no commits and a detached
worktree (check works), a HEAD on a missing branch or object (check of the working tree
works), a broken or unknown `.dvc/config` key (DVC's "config file error: ..." line), an
`rwlock` held by another pid (DVC's "... is busy, it is being blocked by ..."), a corrupt
git index (git's "index file smaller than expected").
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner, Result

from mlgate.cli import cli
from tests.mlgate.registry_repo import chdir
from tests.mlgate.repo_factory import ScratchRepo, run


def check(repo: ScratchRepo) -> Result:
    with chdir(repo.root):
        return CliRunner().invoke(cli, ["check"])


def test_an_import_whose_source_is_gone_says_why_not_scm_error(
    scratch_repo: ScratchRepo, tmp_path: Path
) -> None:
    source = ScratchRepo(tmp_path / "source")
    source.root.mkdir()
    source.git("init", "-q", "-b", "main")
    source.dvc("init", "-q")
    source.write("data.txt", "hello\n")
    source.dvc("add", "-q", "data.txt")
    source.commit("data")
    scratch_repo.dvc("import", "-q", str(source.root), "data.txt", "-o", "imported.txt")
    scratch_repo.commit("import data.txt")
    assert check(scratch_repo).exit_code == 0
    source.root.rename(tmp_path / "gone")
    result = check(scratch_repo)
    assert result.exit_code == 2
    assert re.fullmatch(
        f"mlgate: error: dvc status failed in '{re.escape(str(scratch_repo.root))}': "
        f"SCM error: Failed to clone repo '{re.escape(str(source.root))}' to '[^']+': "
        f"No git repository was found at {re.escape(str(source.root))}\n",
        result.stderr,
    ), result.stderr


def test_a_corrupt_rwlock_says_what_json_found(scratch_repo: ScratchRepo) -> None:
    (scratch_repo.root / ".dvc" / "tmp").mkdir(exist_ok=True)
    scratch_repo.write(".dvc/tmp/rwlock", "{not json")
    result = check(scratch_repo)
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "Unable to read RWLock-file '.dvc/tmp/rwlock'. JSON structure is corrupted: "
        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)\n"
    )


HOLD_LOCK = """
import sys
from dvc.repo import Repo
with Repo(sys.argv[1]).lock:
    print("held", flush=True)
    sys.stdin.read()  # until the test closes it
"""


def test_a_lock_held_by_another_dvc_process_is_dvcs_line_without_colour_codes(
    scratch_repo: ScratchRepo,
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(scratch_repo.root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        result = check(scratch_repo)
    finally:
        holder.communicate("")
    assert result.exit_code == 2
    assert "\\x1b" not in result.stderr and "\x1b" not in result.stderr
    assert result.stderr.startswith(
        f"mlgate: error: dvc status failed in '{scratch_repo.root}': Unable to acquire lock. "
    )
    assert "Check the page <https://dvc.org/doc/user-guide/troubleshooting#lock-issue>" in (
        result.stderr
    )


def test_a_dvc_config_error_is_said_once(scratch_repo: ScratchRepo) -> None:
    with (scratch_repo.root / ".dvc" / "config").open("a") as config:
        config.write("[core\n")
    result = check(scratch_repo)
    assert result.exit_code == 2
    reason = "Invalid line ('[core') (matched as neither section nor keyword) at line 3."
    assert result.stderr.endswith(f": config file error: {reason}\n")
    assert result.stderr.count(reason) == 1


def test_a_git_repository_git_cannot_open_keeps_gits_reason(
    scratch_repo: ScratchRepo, tmp_path: Path
) -> None:
    with (scratch_repo.root / ".git" / "config").open("a") as config:
        config.write("[core\n")
    result = check(scratch_repo)
    assert result.exit_code == 2
    assert re.fullmatch(
        f"mlgate: error: git rev-parse failed in '{re.escape(str(scratch_repo.root))}': "
        r"fatal: bad config line \d+ in file \.git/config\n",
        result.stderr,
    ), result.stderr
    elsewhere = scratch_repo.copy_to(tmp_path / "elsewhere")
    run(["rm", "-rf", ".git"], elsewhere.root)
    (elsewhere.root / ".git").write_text(f"gitdir: {tmp_path / 'gone'}\n")
    result = check(elsewhere)
    assert result.stderr == (
        f"mlgate: error: git rev-parse failed in '{elsewhere.root}': "
        f"fatal: not a git repository: {tmp_path / 'gone'}\n"
    )
    plain = tmp_path / "plain"
    (plain / ".dvc").mkdir(parents=True)
    with chdir(plain):
        result = CliRunner().invoke(cli, ["check"])
    assert result.stderr == f"mlgate: error: '{plain}' is not inside a git repository\n"
