"""Issue 16, item 2: a gate judges numbers the pipeline wrote, at every revision it reads.

A gated metrics file must be an output of a stage, and its content must be what dvc.lock
records for it (the hash dvc.lock names); anything else is refused with exit 2, the file
and both hashes named.
"""

from __future__ import annotations

import hashlib
import json

import pytest
import yaml
from click.testing import CliRunner, Result

from mlgate.cli import cli
from tests.mlgate.repo_factory import DVC_YAML, ScratchRepo, metrics_with


def mlgate(repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.chdir(repo.root)
    return CliRunner().invoke(cli, list(args))


def one_line(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def test_a_hand_edited_committed_metrics_file_is_refused_by_check_and_report(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch_repo.git("branch", "base")
    recorded = md5(scratch_repo.read("metrics/metrics.json"))
    forged = json.dumps(metrics_with(roc_auc=0.99))
    scratch_repo.write("metrics/metrics.json", forged)
    scratch_repo.commit("better numbers, by hand")
    for args in (("check", "--rev", "HEAD"), ("report", "--base", "base")):
        line = one_line(mlgate(scratch_repo, monkeypatch, *args))
        assert "metrics/metrics.json at " in line  # HEAD (sha), or the sha the report names
        assert f"dvc.lock records md5 {recorded} (stage 'train')" in line
        assert f"the file has md5 {md5(forged)}" in line


def test_the_working_tree_is_held_to_its_lock_even_when_stale_is_allowed(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch_repo.write("metrics/metrics.json", metrics_with(roc_auc=0.99))
    line = one_line(mlgate(scratch_repo, monkeypatch, "check", "--allow-stale"))
    assert line.startswith("mlgate: error: metrics/metrics.json: not what the pipeline wrote")


def test_a_top_level_metrics_file_no_stage_writes_cannot_gate(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    dvc = json.loads(json.dumps(DVC_YAML))
    dvc["metrics"] = ["claimed.json"]
    scratch_repo.write("dvc.yaml", dvc)
    scratch_repo.write("claimed.json", {"roc_auc": 0.99, "extra": 1})
    gates = yaml.safe_load(scratch_repo.read("params.yaml"))["gates"]
    gates["rules"][0]["metric"] = "claimed.json:roc_auc"
    scratch_repo.write_params(gates=gates)
    scratch_repo.dvc("repro", "-f", "-q")  # a forced rebuild does not make it the pipeline's
    scratch_repo.commit("a committed file as the metrics")
    for args in (("check",), ("check", "--rev", "HEAD")):
        line = one_line(mlgate(scratch_repo, monkeypatch, *args))
        assert "params.yaml" in line and "which no stage of dvc.yaml writes" in line


def test_a_lock_entry_from_a_stage_that_does_not_write_the_file_is_refused(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    forged = json.dumps(metrics_with(roc_auc=0.99))
    scratch_repo.write("metrics/metrics.json", forged)
    lock = yaml.safe_load(scratch_repo.read("dvc.lock"))
    lock["stages"]["zzz"] = {
        "cmd": "true",
        "outs": [{"path": "metrics/metrics.json", "hash": "md5", "md5": md5(forged), "size": 1}],
    }
    scratch_repo.write("dvc.lock", lock)
    scratch_repo.commit("a lock that vouches for the forged file")
    line = one_line(mlgate(scratch_repo, monkeypatch, "check", "--rev", "HEAD"))
    assert "dvc.lock records no hash for it from stage 'train'" in line


def test_the_baseline_is_held_to_its_lock_too(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch_repo.write("metrics/metrics.json", metrics_with(roc_auc=0.5))  # a low bar to beat
    scratch_repo.commit("forged baseline")
    scratch_repo.tag_release("v1.0.0")
    scratch_repo.set_metrics(metrics_with(roc_auc=0.93))
    scratch_repo.repro()
    scratch_repo.commit("honest head")
    line = one_line(mlgate(scratch_repo, monkeypatch, "check", "--rev", "HEAD"))
    assert "metrics/metrics.json at demo-model@v1.0.0 (" in line
    assert "not what the pipeline wrote" in line


def test_honest_commits_pass_at_head_and_baseline(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch_repo.release(metrics_with(roc_auc=0.93), "v1.0.0")
    scratch_repo.set_metrics(metrics_with(roc_auc=0.931))
    scratch_repo.repro()
    scratch_repo.commit("better")
    for args in (("check",), ("check", "--rev", "HEAD")):
        result = mlgate(scratch_repo, monkeypatch, *args)
        assert result.exit_code == 0, result.output
