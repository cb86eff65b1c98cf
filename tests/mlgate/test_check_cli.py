"""`mlgate check` end to end with CliRunner in scratch git + DVC repositories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mlgate import api
from mlgate.cli import cli
from tests.mlgate.repo_factory import DEFAULT_GATES, DVC_YAML, ScratchRepo, metrics_with


def invoke(repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.chdir(repo.root)
    return CliRunner().invoke(cli, ["check", *args])


def as_json(result: Result) -> dict:
    return json.loads(result.stdout)


def test_passes_without_release_and_says_change_rule_skipped(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = invoke(scratch_repo, monkeypatch, "--format", "json")
    assert result.exit_code == 0, result.output
    data = as_json(result)
    assert data["passed"] is True
    assert data["baseline"] is None
    roc = data["rules"][0]
    assert roc["metric"] == "roc_auc"
    assert roc["passed"] is True and roc["skipped"] is False  # min still applies
    assert "no release of 'demo-model' yet" in roc["reason"]
    assert set(roc) == {"metric", "value", "baseline", "passed", "skipped", "severity", "reason"}


def test_fails_with_exit_1_when_regressing_beyond_tolerance_vs_latest_release(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch_repo.release(metrics_with(roc_auc=0.95), "v1.0.0")
    scratch_repo.release(metrics_with(roc_auc=0.935), "v1.2.0")
    scratch_repo.release(metrics_with(roc_auc=0.99), "v1.10.0-rc.1")  # prerelease sorts lower
    scratch_repo.set_metrics(metrics_with(roc_auc=0.9949))
    scratch_repo.repro()
    # The newest by semver is v1.10.0-rc.1? No: 1.10.0-rc.1 > 1.2.0, so it is the baseline.
    result = invoke(scratch_repo, monkeypatch, "--format", "json")
    data = as_json(result)
    assert data["baseline"]["ref"] == "demo-model@v1.10.0-rc.1"
    assert result.exit_code == 0, result.output
    scratch_repo.set_metrics(metrics_with(roc_auc=0.9849))
    scratch_repo.repro()
    result = invoke(scratch_repo, monkeypatch, "--format", "json")
    assert result.exit_code == 1, result.output
    data = as_json(result)
    assert data["passed"] is False
    assert data["rules"][0]["baseline"] == 0.99
    assert data["rules"][0]["value"] == 0.9849


def test_boundary_regression_exactly_at_tolerance_passes(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch_repo.release(metrics_with(roc_auc=0.93), "v1.0.0")
    scratch_repo.set_metrics(metrics_with(roc_auc=0.925))  # 0.93 - 0.005 exactly
    scratch_repo.repro()
    assert invoke(scratch_repo, monkeypatch).exit_code == 0
    scratch_repo.set_metrics(metrics_with(roc_auc=0.9249))
    scratch_repo.repro()
    assert invoke(scratch_repo, monkeypatch).exit_code == 1


def test_warn_rule_failing_does_not_fail_the_check(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch_repo.set_metrics(metrics_with(latency__p95_ms=50.0))
    scratch_repo.repro()
    result = invoke(scratch_repo, monkeypatch, "--format", "json")
    assert result.exit_code == 0, result.output
    latency = as_json(result)["rules"][3]
    assert latency["severity"] == "warn" and latency["passed"] is False


def test_stale_working_tree_is_refused_unless_allowed(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch_repo.set_metrics(metrics_with(roc_auc=0.5))  # dependency changed, not reproduced
    result = invoke(scratch_repo, monkeypatch)
    assert result.exit_code == 2
    assert "mlgate: error: the pipeline is stale" in result.stderr
    assert "train" in result.stderr
    assert "Traceback" not in result.output
    allowed = invoke(scratch_repo, monkeypatch, "--allow-stale")
    assert allowed.exit_code == 0, allowed.output  # metrics file itself is unchanged


def test_editing_gates_does_not_make_the_pipeline_stale(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    gates = json.loads(json.dumps(DEFAULT_GATES))
    gates["rules"][0]["min"] = 0.95
    scratch_repo.write_params(gates=gates)
    result = invoke(scratch_repo, monkeypatch, "--format", "json")
    assert result.exit_code == 1, result.output
    assert "0.93 < min 0.95" in as_json(result)["rules"][0]["reason"]


@pytest.mark.parametrize("cut", ["mid-key", "after-stage-name"])
def test_truncated_dvc_lock_is_refused(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch, cut: str
) -> None:
    lock = scratch_repo.read("dvc.lock")
    end = lock.index("outs:") + 3 if cut == "mid-key" else lock.index("train:") + 7
    scratch_repo.write("dvc.lock", lock[:end])
    result = invoke(scratch_repo, monkeypatch)
    assert result.exit_code == 2
    assert result.stderr.startswith("mlgate: error: dvc.lock")
    assert "unreadable" in result.stderr or "malformed YAML" in result.stderr


def test_rev_is_read_from_git_objects_without_checkout(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = scratch_repo.git("rev-parse", "HEAD")
    scratch_repo.set_committed_metrics(metrics_with(accuracy=0.5))
    scratch_repo.commit("worse accuracy")
    result = invoke(scratch_repo, monkeypatch, "--rev", "HEAD", "--format", "json")
    assert result.exit_code == 1
    assert as_json(result)["rules"][1]["value"] == 0.5
    result = invoke(scratch_repo, monkeypatch, "--rev", first, "--baseline", "none")
    assert result.exit_code == 0, result.output
    assert scratch_repo.git("rev-parse", "HEAD") != first  # nothing was checked out


def test_baseline_git_ref_and_text_output(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch_repo.git("branch", "base")
    scratch_repo.set_committed_metrics(metrics_with(roc_auc=0.921))
    scratch_repo.commit("slightly worse")
    result = invoke(scratch_repo, monkeypatch, "--rev", "HEAD", "--baseline", "base")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["status", "metric", "value", "baseline", "change", "rule", "reason"]
    assert any(line.split()[:2] == ["FAIL", "roc_auc"] for line in lines[2:])
    assert "\x1b[" not in result.stdout  # not a terminal: no colour
    assert "FAILED: 1 of 4 gate(s)" in lines[-1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--baseline", "no-such-branch"], "unknown git ref 'no-such-branch'"),
        (["--rev", "nope"], "unknown git ref 'nope'"),
        (["--gates", "missing.yaml"], "missing.yaml: gates file not found"),
        (["--baseline", ""], "'' is not a git ref"),
    ],
)
def test_bad_refs_and_files_exit_2(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    result = invoke(scratch_repo, monkeypatch, *args)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"mlgate: error: {message}" or message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_api_check_contract(scratch_repo: ScratchRepo) -> None:
    scratch_repo.release(metrics_with(roc_auc=0.931), "v0.1.0")
    result = api.check(Path(scratch_repo.root))
    assert result.passed is True
    assert result.baseline == api.BaselineRef(
        "demo-model@v0.1.0", scratch_repo.git("rev-parse", "HEAD")
    )
    assert result.metrics["fairness.sex.equalized_odds_difference"] == 0.08
    assert result.as_dict()["baseline"] == {
        "ref": "demo-model@v0.1.0",
        "sha": scratch_repo.git("rev-parse", "HEAD"),
    }


def test_always_changed_stage_alone_is_not_stale(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    dvc = json.loads(json.dumps(DVC_YAML))
    dvc["stages"]["stamp"] = {"cmd": "true", "always_changed": True}
    scratch_repo.write("dvc.yaml", dvc)
    scratch_repo.repro()
    assert "always changed" in scratch_repo.dvc("status").stdout
    assert invoke(scratch_repo, monkeypatch).exit_code == 0
