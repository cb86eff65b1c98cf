"""Issue 16, items 1-2: numbers come from where DVC keeps them, and must be the pipeline's.

A project laid out as dvclive writes it: the ``train`` stage logs with dvclive into ``eval/``,
a cached directory output (git ignores it), and the top-level ``metrics:`` points inside it
at ``eval/metrics.json``, whose keys are nested (``test.roc_auc``). Two commits (auc 0.9,
then 0.8) are pushed to a local DVC remote. mlgate must read each revision's numbers as
``dvc metrics show`` does: from the cache by the lock's hash through the ``.dir`` manifest,
from the remote when the cache lacks them, and say how to fetch them when neither has them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from benchmarks.bench_cached_metrics import TRAIN  # the dvclive stage both build
from mlgate import api
from mlgate.cli import cli
from tests.mlgate.conftest import isolated_identity
from tests.mlgate.repo_factory import DVC_BIN, run

pytest.importorskip("dvclive")


GATES: dict[str, Any] = {
    "baseline": "none",
    "rules": [{"metric": "test.roc_auc", "direction": "higher", "min": 0.5}],
}


def git(root: Path, *args: str) -> str:
    return run(["git", *args], root).stdout.strip()


def dvc(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run([DVC_BIN, *args], root, check=check)


def write_params(root: Path, auc: float, gates: dict[str, Any] | None = None) -> None:
    params = {"train": {"auc": auc}, "gates": gates or GATES}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def build(root: Path, remote: Path) -> None:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    dvc(root, "init", "-q")
    dvc(root, "remote", "add", "-d", "store", str(remote))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "dvc init")  # dvclive needs a commit to exist
    (root / "train.py").write_text(TRAIN)
    pipeline = {
        "stages": {
            "train": {
                "cmd": f"{sys.executable} train.py",
                "deps": ["train.py"],
                "params": ["train.auc"],
                "outs": ["eval", "model.pkl"],
            }
        },
        "metrics": ["eval/metrics.json"],
        "artifacts": {"model": {"path": "model.pkl", "type": "model"}},
    }
    (root / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    for auc in (0.9, 0.8):
        write_params(root, auc)
        dvc(root, "repro", "-q")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", f"auc {auc}")
        dvc(root, "push", "-q")


@pytest.fixture(scope="module")
def _built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("dvclive")
    with isolated_identity(tmp_path_factory.mktemp("dvclive-home")):
        build(base / "project", base / "remote")
    return base


@pytest.fixture
def project(_built: Path, tmp_path: Path) -> Path:
    """A copy of the project with its local cache, next to its own copy of the remote."""
    shutil.copytree(_built / "remote", tmp_path / "remote")
    shutil.copytree(_built / "project", tmp_path / "project", symlinks=True)
    dvc(tmp_path / "project", "remote", "modify", "store", "url", str(tmp_path / "remote"))
    return tmp_path / "project"


@pytest.fixture
def clone(project: Path, tmp_path: Path) -> Path:
    """A fresh git clone: no DVC cache at all, the remote as the project configures it."""
    target = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(project), str(target))
    dvc(target, "remote", "modify", "--local", "store", "url", str(tmp_path / "remote"))
    return target


def mlgate(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.chdir(root)
    return CliRunner().invoke(cli, list(args))


def dvc_metrics(root: Path, rev: str) -> dict[str, float]:
    """What ``dvc metrics diff`` says the file holds at ``rev`` (flattened keys)."""
    out = dvc(root, "metrics", "diff", rev, "HEAD", "--json", "--all").stdout
    return {key: value["old"] for key, value in json.loads(out)["eval/metrics.json"].items()}


def judged(root: Path, monkeypatch: pytest.MonkeyPatch, rev: str | None) -> dict[str, float]:
    """The numbers ``mlgate check`` judges at ``rev`` (None: the working tree)."""
    monkeypatch.chdir(root)
    return api.check(root, rev).metrics


def test_metrics_in_the_cache_are_read_as_dvc_reads_them(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not git(project, "ls-files", "eval")  # not in git: only in DVC's cache
    for rev in ("HEAD~1", "HEAD"):
        ours = judged(project, monkeypatch, rev)
        assert ours == dvc_metrics(project, rev)
    assert ours["test.roc_auc"] == 0.8
    worktree = judged(project, monkeypatch, None)
    assert worktree == ours


def test_a_clone_without_cache_reads_from_the_remote(
    clone: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not (clone / ".dvc" / "cache").exists()
    ours = judged(clone, monkeypatch, "HEAD~1")
    assert ours["test.roc_auc"] == 0.9
    assert ours == dvc_metrics(clone, "HEAD~1")


def test_neither_cache_nor_remote_is_one_line_with_the_fetch_command(
    clone: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.rmtree(tmp_path / "remote")
    (tmp_path / "remote").mkdir()
    result = mlgate(clone, monkeypatch, "check", "--rev", "HEAD", "--format", "json")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "eval/metrics.json at HEAD (" in lines[0]
    assert "a DVC-cached output of stage 'train'" in lines[0]
    assert "dvc fetch eval/metrics.json" in lines[0]


def test_no_remote_configured_says_so(clone: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dvc(clone, "remote", "remove", "--local", "store")
    dvc(clone, "remote", "remove", "store")
    # the working tree's config (a revision's is the one committed there, as DVC reads it)
    result = mlgate(clone, monkeypatch, "check", "--allow-stale")
    assert result.exit_code == 2, result.output
    assert "no DVC remote is configured" in result.output
    assert "dvc fetch eval/metrics.json" in result.output


def test_the_baseline_is_read_from_the_cache(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git(project, "tag", "-a", "model@v1.0.0", "-m", "Registering", "HEAD~1")
    gates = {
        "baseline": "latest-release",
        "rules": [{"metric": "test.roc_auc", "direction": "higher", "max_regression": 0.05}],
    }
    write_params(project, 0.8, gates)
    result = mlgate(project, monkeypatch, "check", "--allow-stale", "--format", "json")
    assert result.exit_code == 1, result.output
    rule = json.loads(result.stdout)["rules"][0]
    assert rule["baseline"] == 0.9 and rule["value"] == 0.8


def test_history_and_show_list_releases_made_by_other_tools_from_the_cache(
    clone: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git(clone, "tag", "-a", "model@v1.0.0", "-m", "Registering artifact model version v1.0.0",
        "HEAD~1")  # fmt: skip
    git(clone, "tag", "-a", "model@v1.0.1", "-m", "Registering artifact model version v1.0.1")
    result = mlgate(clone, monkeypatch, "history", "--format", "json")
    assert result.exit_code == 0, result.output
    found = {row["version"]: row["metrics"] for row in json.loads(result.stdout)}
    assert found["v1.0.0"]["test.roc_auc"] == 0.9
    assert found["v1.0.1"]["test.roc_auc"] == 0.8


def test_report_reads_both_sides_from_the_cache(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git(project, "branch", "base", "HEAD~1")
    result = mlgate(project, monkeypatch, "report", "--base", "base")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if "test.roc_auc" in line)
    assert "0.9" in row and "0.8" in row, row


def test_a_forged_committed_copy_is_refused_with_both_hashes(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forged = project / "eval" / "metrics.json"
    forged.write_text(json.dumps({"test": {"roc_auc": 0.99}}))
    git(project, "add", "-f", "eval/metrics.json")  # DVC itself would show this copy
    git(project, "commit", "-q", "-m", "better numbers")
    result = mlgate(project, monkeypatch, "check", "--rev", "HEAD")
    assert result.exit_code == 2, result.output
    assert "eval/metrics.json at HEAD (" in result.output
    assert "not what the pipeline wrote: dvc.lock records md5 " in result.output
    assert "the file has md5 " in result.output


def test_a_corrupt_cache_object_is_refused(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    digest = next(o["md5"] for o in lock["stages"]["train"]["outs"] if o["path"] == "eval")
    manifest = project / ".dvc/cache/files/md5" / digest[:2] / digest[2:]
    entry = next(e for e in json.loads(manifest.read_text()) if e["relpath"] == "metrics.json")
    obj = project / ".dvc/cache/files/md5" / entry["md5"][:2] / entry["md5"][2:]
    obj.chmod(0o644)
    obj.write_text(json.dumps({"test": {"roc_auc": 0.99}}))
    result = mlgate(project, monkeypatch, "check", "--rev", "HEAD")
    assert result.exit_code == 2, result.output
    assert "corrupt copy of md5 " + entry["md5"] in result.output
