"""Every bad input of `mlgate check`, each with its exit code and one-line message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mlgate.cli import cli
from tests.mlgate.repo_factory import DEFAULT_GATES, DVC_YAML, ScratchRepo, metrics_with


def check(repo_root: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.chdir(repo_root)
    return CliRunner().invoke(cli, ["check", *args])


def one_error_line(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlgate: error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def gates_with(**rule0: object) -> dict:
    gates = json.loads(json.dumps(DEFAULT_GATES))
    gates["rules"][0].update(rule0)
    return gates


def commit_params(repo: ScratchRepo, text: str) -> None:
    repo.write("params.yaml", text)
    repo.commit("params")


@pytest.mark.parametrize(
    ("params_text", "message"),
    [
        (
            "train:\n  seed: 1\ngates: [\n",
            "params.yaml at HEAD (",
        ),
        ("train:\n  seed: 1\n", "no 'gates:' section"),
    ],
)
def test_malformed_or_missing_gates(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch, params_text: str, message: str
) -> None:
    commit_params(scratch_repo, params_text)
    line = one_error_line(check(scratch_repo.root, monkeypatch, "--rev", "HEAD"))
    assert message in line


def test_malformed_yaml_names_file_and_line(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch_repo.write("gates.yaml", "gates:\n  rules: [\n")
    line = one_error_line(check(scratch_repo.root, monkeypatch, "--gates", "gates.yaml"))
    assert line.startswith("mlgate: error: gates.yaml: malformed YAML (line")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"maximum": 1}, "gates.rules[0]: unknown key 'maximum'"),
        ({"min": "high"}, "gates.rules[0] (roc_auc).min: expected a number, got 'high'"),
        ({"direction": "up"}, "gates.rules[0] (roc_auc).direction: expected higher or lower"),
        ({"max": 0.5}, "contradictory bounds, min 0.92 > max 0.5"),
        ({"metric": "roc_acu"}, "gates rule 'roc_acu': no metrics file declared in dvc.yaml"),
        ({"metric": "other.json:roc_auc"}, "'other.json' is not a metrics file declared"),
    ],
)
def test_bad_rules_are_configuration_errors(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch, change: dict, message: str
) -> None:
    scratch_repo.write_params(gates=gates_with(**change))
    line = one_error_line(check(scratch_repo.root, monkeypatch, "--allow-stale"))
    assert message in line
    assert "params.yaml" in line


HUGE = "1" + "0" * 400  # beyond every float; YAML and JSON read it as an exact int


@pytest.mark.parametrize(("key", "raw"), [("min", HUGE), ("max_regression", "-" + HUGE)])
def test_a_bound_beyond_every_float_is_a_configuration_error(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch, key: str, raw: str
) -> None:
    scratch_repo.write(
        "params.yaml",
        f"gates:\n  rules:\n  - metric: roc_auc\n    direction: higher\n    {key}: {raw}\n",
    )
    line = one_error_line(check(scratch_repo.root, monkeypatch, "--allow-stale"))
    assert line == (
        f"mlgate: error: params.yaml: gates.rules[0] (roc_auc).{key}: expected a finite number, "
        "got an integer too large for a float (401 digits)"
    )


def test_an_unknown_main_metric_fails_the_check_naming_its_key(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    gates = {**gates_with(), "main_metric": "nope"}
    scratch_repo.write_params(gates=gates)
    line = one_error_line(check(scratch_repo.root, monkeypatch, "--allow-stale"))
    assert "params.yaml: gates.main_metric 'nope': no metrics file declared" in line


def test_file_qualified_metric_and_ambiguous_metric(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    dvc = json.loads(json.dumps(DVC_YAML))
    dvc["metrics"] = ["extra.json"]
    scratch_repo.write("dvc.yaml", dvc)
    scratch_repo.write("extra.json", {"roc_auc": 0.5})
    line = one_error_line(check(scratch_repo.root, monkeypatch, "--allow-stale"))
    assert (
        "gates rule 'roc_auc' is ambiguous" in line and "write it as 'extra.json:roc_auc'" in line
    )
    scratch_repo.write_params(gates=gates_with(metric="extra.json:roc_auc"))
    # extra.json is named by the top-level metrics: only; no stage writes it, so anyone can
    # edit it: a gate on it is a configuration error (issue 16), not a verdict on 0.5.
    line = one_error_line(check(scratch_repo.root, monkeypatch, "--allow-stale"))
    assert "the gates read extra.json, which no stage of dvc.yaml writes" in line


def test_missing_metrics_file(scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    (scratch_repo.root / "metrics" / "metrics.json").unlink()
    scratch_repo.commit("lose metrics")
    line = one_error_line(check(scratch_repo.root, monkeypatch, "--rev", "HEAD"))
    assert "metrics/metrics.json at HEAD (" in line
    assert "declared in dvc.yaml but not found" in line


def test_malformed_metrics_file(scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch_repo.write("metrics/metrics.json", '{"roc_auc": 0.9')
    line = one_error_line(check(scratch_repo.root, monkeypatch, "--allow-stale"))
    assert "metrics/metrics.json: malformed JSON" in line


@pytest.mark.parametrize(
    ("raw", "word"), [("NaN", "NaN"), ("Infinity", "infinite"), ('"0.95"', "not a number")]
)
def test_nan_inf_and_string_metrics_fail_their_rule(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch, raw: str, word: str
) -> None:
    text = json.dumps(metrics_with(roc_auc=0.0)).replace("0.0", raw, 1)
    scratch_repo.set_committed_metrics(text)
    scratch_repo.commit("weird metric")
    result = check(scratch_repo.root, monkeypatch, "--rev", "HEAD", "--format", "json")
    assert result.exit_code == 1, result.output
    roc = json.loads(result.stdout)["rules"][0]
    assert roc["passed"] is False and roc["value"] is None and word in roc["reason"]


@pytest.mark.parametrize("path", ["metrics/metrics.json", "metrics/metrics.yaml"])
@pytest.mark.parametrize("raw", [HUGE, "-" + HUGE])
def test_a_metric_beyond_every_float_fails_its_rule_like_infinity(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch, path: str, raw: str
) -> None:
    if path.endswith(".yaml"):
        dvc = json.loads(json.dumps(DVC_YAML).replace("metrics/metrics.json", path))
        scratch_repo.write("dvc.yaml", dvc)
    scratch_repo.write("inputs/metrics.json", json.dumps(metrics_with(roc_auc=0.0)))
    scratch_repo.write(
        "inputs/metrics.json", scratch_repo.read("inputs/metrics.json").replace("0.0", raw, 1)
    )
    scratch_repo.repro()  # the pipeline writes it: a hand-written file would be refused
    scratch_repo.commit("huge metric")
    for output in ("json", "md", "text"):
        result = check(scratch_repo.root, monkeypatch, "--rev", "HEAD", "--format", output)
        assert result.exit_code == 1, result.output
        assert "value too large for a float (401 digits) at HEAD (" in result.stdout
    result = check(scratch_repo.root, monkeypatch, "--rev", "HEAD", "--format", "json")
    roc = json.loads(result.stdout)["rules"][0]
    assert roc["passed"] is False and roc["value"] is None


def test_metric_missing_at_head_fails_its_rule(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch_repo.git("branch", "base")
    metrics = metrics_with()
    del metrics["accuracy"]
    scratch_repo.set_committed_metrics(metrics)
    scratch_repo.commit("accuracy gone")
    result = check(
        scratch_repo.root, monkeypatch, "--rev", "HEAD", "--baseline", "base", "--format", "json"
    )
    assert result.exit_code == 1
    accuracy = json.loads(result.stdout)["rules"][1]
    assert accuracy["passed"] is False and "value missing at HEAD" in accuracy["reason"]


def test_metric_missing_at_baseline_fails_change_rule(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics = metrics_with()
    del metrics["roc_auc"]
    scratch_repo.set_committed_metrics(metrics)
    scratch_repo.commit("no roc_auc yet")
    scratch_repo.tag_release("v0.1.0")
    scratch_repo.set_committed_metrics(metrics_with())
    scratch_repo.commit("roc_auc added")
    result = check(scratch_repo.root, monkeypatch, "--rev", "HEAD", "--format", "json")
    assert result.exit_code == 1
    roc = json.loads(result.stdout)["rules"][0]
    assert roc["passed"] is False and roc["baseline"] is None
    assert "baseline value missing at demo-model@v0.1.0" in roc["reason"]


def test_repo_with_no_commits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "empty"
    (root / ".dvc").mkdir(parents=True)
    ScratchRepo(root).git("init", "-q")
    line = one_error_line(check(root, monkeypatch, "--rev", "HEAD"))
    assert "the git repository has no commits yet" in line


def test_an_orphan_branch_has_no_commits_yet(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch_repo.git("checkout", "-q", "--orphan", "fresh")
    line = one_error_line(check(scratch_repo.root, monkeypatch, "--rev", "HEAD"))
    assert "the current branch has no commits yet" in line
    line = one_error_line(check(scratch_repo.root, monkeypatch, "--rev", "typo"))
    assert "unknown git ref 'typo'" in line


def test_not_a_dvc_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    line = one_error_line(check(tmp_path, monkeypatch))
    assert "is not inside a DVC project" in line


def test_traceback_flag_reraises(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(scratch_repo.root)
    result = CliRunner().invoke(cli, ["--traceback", "check", "--rev", "nope"])
    assert result.exit_code == 1 and result.exception is not None
    assert "unknown git ref" in str(result.exception)


def test_malformed_dvc_yaml(scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch_repo.write("dvc.yaml", "stages:\n  train: [\n")
    line = one_error_line(check(scratch_repo.root, monkeypatch, "--allow-stale"))
    assert line.startswith("mlgate: error: dvc.yaml: malformed YAML (line")


def test_dvc_yaml_without_metrics(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    dvc = json.loads(json.dumps(DVC_YAML))
    del dvc["stages"]["train"]["metrics"]
    scratch_repo.write("dvc.yaml", dvc)
    line = one_error_line(check(scratch_repo.root, monkeypatch, "--allow-stale"))
    assert "dvc.yaml: declares no metrics files" in line


@pytest.mark.parametrize("target", ["/nonexistent/metrics.json", "loop"])
def test_a_dependency_dvc_cannot_stat_is_one_error_line(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    """A broken symlink or a symlink loop as a stage dependency: DVC's status raises a bare
    OSError, which must not print a traceback with exit 1 (a failed gate)."""
    dep = scratch_repo.root / "inputs" / "metrics.json"
    dep.unlink()
    dep.symlink_to(dep if target == "loop" else target)
    line = one_error_line(check(scratch_repo.root, monkeypatch))
    assert line.startswith("mlgate: error: dvc status failed in ")
    assert "inputs/metrics.json" in line


def test_an_error_quoting_a_newline_stays_one_line(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = one_error_line(check(scratch_repo.root, monkeypatch, "--rev", "HEAD  x\nfoo"))
    assert "'HEAD  x foo'" in line  # line breaks go, a double space inside stays
    (scratch_repo.root / ".dvc" / "config").write_text("[core\nremote = x\n[[\n")
    line = one_error_line(check(scratch_repo.root, monkeypatch))  # DVC's two-line message
    assert "config" in line


@pytest.mark.parametrize("declared", ["../outside.json", "/tmp/outside-metrics.json"])
def test_a_metrics_path_outside_the_repository_is_refused(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch, declared: str
) -> None:
    """A gate judges the project's own numbers: dvc.yaml cannot point it at a file elsewhere
    on the machine (DVC itself clamps such a path to the repository root)."""
    outside = scratch_repo.root.parent / "outside.json"
    outside.write_text(json.dumps(metrics_with()), encoding="utf-8")
    pipeline = {**DVC_YAML, "metrics": [declared]}
    scratch_repo.write("dvc.yaml", pipeline)
    scratch_repo.commit("metrics from elsewhere")
    for args in (["--rev", "HEAD"], ["--allow-stale"]):
        line = one_error_line(check(scratch_repo.root, monkeypatch, *args))
        assert "metrics file outside the repository" in line


def test_a_metrics_file_that_links_out_of_the_repository_is_refused(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = scratch_repo.root.parent / "elsewhere.json"
    outside.write_text(json.dumps(metrics_with(roc_auc=0.99)), encoding="utf-8")
    metrics = scratch_repo.root / "metrics" / "metrics.json"
    metrics.unlink()
    metrics.symlink_to(outside)
    line = one_error_line(check(scratch_repo.root, monkeypatch, "--allow-stale"))
    assert "metrics/metrics.json" in line and "outside the repository" in line
