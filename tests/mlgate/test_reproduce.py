"""`mlgate reproduce`: the stages that write gated metrics run even where DVC would skip
them, and what they write must be what the commit holds (volatile outputs aside)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mlgate.api import ABSENT
from mlgate.cli import cli
from mlgate.metrics import StageOutput
from mlgate.reproduce import Difference, differences, without_volatile
from tests.mlgate.registry_repo import chdir
from tests.mlgate.repo_factory import ScratchRepo, run
from tests.mlgate.repro_repo import (
    P95,
    _two_stage_template,
    build_nested,
    forge,
    run_log,
    runs,
    two_stage,
)

__all__ = ["_two_stage_template", "run_log", "two_stage"]  # fixtures, imported for pytest

HEADING = "committed metrics do not reproduce"


def mlgate(root: Path, *args: str) -> Result:
    with chdir(root):
        return CliRunner().invoke(cli, list(args))


def table_rows(output: str) -> list[list[str]]:
    """The rows of the difference table (after its heading and rule), split on spaces."""
    lines = output[output.index(HEADING) :].splitlines()
    return [line.split() for line in lines[3:] if line.strip()]


def weaker_model_with_forged_metrics(repo: ScratchRepo) -> None:
    """The attack: a weaker model's params, committed with the previous metrics.json whose
    md5 and size are patched into dvc.lock, so `dvc status` is clean."""
    previous = json.loads(repo.read("metrics/metrics.json"))
    params = repo.read("params.yaml").replace("quality: 0.93", "quality: 0.9")
    repo.write("params.yaml", params)
    repo.repro()
    assert json.loads(repo.read("metrics/metrics.json"))["roc_auc"] == 0.9
    forge(repo, "metrics/metrics.json", previous)
    repo.commit("a weaker model, with the previous metrics")


# --- the attack ----------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["this clone", "a fresh clone (CI)"])
def test_forged_metrics_pass_check_but_not_reproduce(
    two_stage: ScratchRepo, run_log: Path, tmp_path: Path, where: str
) -> None:
    weaker_model_with_forged_metrics(two_stage)
    assert "up to date" in two_stage.dvc("status").stdout
    assert mlgate(two_stage.root, "check").exit_code == 0  # the forgery passes the gates
    repo = two_stage
    if where == "a fresh clone (CI)":  # no DVC cache, no model: DVC rebuilds train first
        run(["git", "clone", "-q", str(two_stage.root), str(tmp_path / "ci")], tmp_path)
        repo = ScratchRepo(tmp_path / "ci")
    run_log.unlink(missing_ok=True)

    result = mlgate(repo.root, "reproduce")

    assert result.exit_code == 1, result.output
    assert f"{HEADING} at HEAD (" in result.stdout
    assert table_rows(result.stdout) == [
        ["metrics/metrics.json", "roc_auc", "0.93", "0.9"],
        ["metrics/metrics.json", "accuracy", "0.88", "0.85"],
    ]
    expected = ["train", "evaluate"] if where == "a fresh clone (CI)" else ["evaluate"]
    assert runs(run_log) == expected  # evaluate ran once: forced, since DVC skipped it
    assert "(they write gated metrics): evaluate" in result.stdout
    assert result.stderr == ""


def test_an_honest_commit_reproduces_and_its_skipped_producer_is_rerun(
    two_stage: ScratchRepo, run_log: Path
) -> None:
    result = mlgate(two_stage.root, "reproduce")
    assert result.exit_code == 0, result.output
    assert runs(run_log) == ["evaluate"]  # train is up to date and writes no gated metrics
    assert "Running stage 'evaluate'" in result.stdout  # DVC's own lines are shown
    assert "Stage 'train' didn't change, skipping" in result.stdout
    assert "(they write gated metrics): evaluate" in result.stdout
    assert "committed metrics reproduce: metrics/metrics.json at HEAD (" in result.stdout
    assert "volatile, judged as measured in this run: metrics/inference.json" in result.stdout
    assert two_stage.git("status", "--porcelain") == ""


def test_a_producer_dvc_runs_anyway_runs_once(two_stage: ScratchRepo, run_log: Path) -> None:
    """A committed change to evaluate's code, not reproduced: DVC reruns evaluate itself."""
    two_stage.write("evaluate.py", two_stage.read("evaluate.py") + "# a comment\n")
    two_stage.commit("evaluate: a comment, dvc.lock not updated")
    result = mlgate(two_stage.root, "reproduce")
    assert result.exit_code == 0, result.output
    assert runs(run_log) == ["evaluate"]
    assert result.stdout.count("Running stage 'evaluate'") == 1
    assert "dvc repro ran: evaluate\n" in result.stdout
    assert "would have skipped" not in result.stdout


def test_volatile_outputs_are_judged_as_measured_never_restored(
    two_stage: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(P95, "80")  # this run "measures" 80 ms; the commit holds 5
    result = mlgate(two_stage.root, "reproduce")
    assert result.exit_code == 0, result.output
    measured = json.loads(two_stage.read("metrics/inference.json"))
    assert measured == {"latency": {"p95_ms": 80.0}}
    check = mlgate(two_stage.root, "check", "--format", "json")
    assert check.exit_code == 1, check.output  # max 50: the measured value fails the gate
    rules = {rule["metric"]: rule for rule in json.loads(check.stdout)["rules"]}
    assert rules["latency.p95_ms"]["value"] == 80.0 and not rules["latency.p95_ms"]["passed"]
    changed = two_stage.git("status", "--porcelain").splitlines()
    assert sorted(line.split()[-1] for line in changed) == ["dvc.lock", "metrics/inference.json"]


def test_rerunning_after_a_volatile_change_is_allowed(
    two_stage: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(P95, "7")
    assert mlgate(two_stage.root, "reproduce").exit_code == 0
    monkeypatch.setenv(P95, "9")
    assert mlgate(two_stage.root, "reproduce").exit_code == 0
    assert json.loads(two_stage.read("metrics/inference.json"))["latency"]["p95_ms"] == 9.0


@pytest.mark.parametrize(
    ("committed", "row"),
    [
        (
            {"roc_auc": 0.93, "accuracy": 0.88, "fairness": {"gap": 0.05}, "extra": 1},
            ["metrics/metrics.json", "extra", "1", "(absent)"],
        ),
        (
            {"roc_auc": 0.93, "accuracy": 0.88},
            ["metrics/metrics.json", "fairness.gap", "(absent)", "0.05"],
        ),
        (
            {"roc_auc": 0.93, "accuracy": 0.88, "fairness": {"gap": 0.04}},
            ["metrics/metrics.json", "fairness.gap", "0.04", "0.05"],
        ),
    ],
    ids=["key-added", "key-removed", "nested-key-changed"],
)
def test_every_key_counts(
    two_stage: ScratchRepo, committed: dict[str, object], row: list[str]
) -> None:
    forge(two_stage, "metrics/metrics.json", committed)
    two_stage.commit("forged")
    result = mlgate(two_stage.root, "reproduce")
    assert result.exit_code == 1, result.output
    assert table_rows(result.stdout) == [row]


def test_a_nested_producer_writing_into_a_directory_output(tmp_path: Path, run_log: Path) -> None:
    repo = build_nested(tmp_path / "nested")
    run_log.unlink(missing_ok=True)
    result = mlgate(repo.root, "reproduce")
    assert result.exit_code == 0, result.output
    assert runs(run_log) == ["evaluate"]
    assert "(they write gated metrics): sub/dvc.yaml:evaluate" in result.stdout
    assert "committed metrics reproduce: sub/eval/metrics.json at HEAD" in result.stdout

    edited = json.loads(repo.read("sub/eval/metrics.json"))
    repo.write("sub/eval/metrics.json", {**edited, "roc_auc": 0.99})
    repo.commit("metrics edited by hand")
    result = mlgate(repo.root, "reproduce")
    assert result.exit_code == 1, result.output
    assert table_rows(result.stdout) == [["sub/eval/metrics.json", "roc_auc", "0.99", "0.93"]]


# --- refusals and errors: exit 2, one line ---------------------------------------------------


def error_line(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlgate: error: "), result.stderr
    return lines[0]


def test_a_gated_file_no_stage_writes_is_a_configuration_error(two_stage: ScratchRepo) -> None:
    two_stage.write("metrics/extra.json", {"speed": 3})
    dvc_yaml = two_stage.read("dvc.yaml").replace(
        "- metrics/inference.json\n", "- metrics/inference.json\n- metrics/extra.json\n"
    )
    two_stage.write("dvc.yaml", dvc_yaml)
    params = two_stage.read("params.yaml") + "  main_metric: speed\n"
    two_stage.write("params.yaml", params)
    two_stage.commit("a gated file that no stage writes")
    line = error_line(mlgate(two_stage.root, "reproduce"))
    assert "metrics/extra.json at HEAD" in line and "no stage writes" in line


def test_a_frozen_producer_is_refused_before_anything_runs(
    two_stage: ScratchRepo, run_log: Path
) -> None:
    two_stage.write(
        "dvc.yaml",
        two_stage.read("dvc.yaml").replace("  evaluate:\n", "  evaluate:\n    frozen: true\n"),
    )
    two_stage.commit("freeze evaluate")
    line = error_line(mlgate(two_stage.root, "reproduce"))
    assert "stage 'evaluate' is frozen" in line
    assert runs(run_log) == []


def test_a_failing_stage_is_one_line_with_dvcs_cause(two_stage: ScratchRepo) -> None:
    two_stage.write("evaluate.py", "raise SystemExit(3)\n")
    two_stage.commit("broken evaluate")
    line = error_line(mlgate(two_stage.root, "reproduce"))
    assert "failed to reproduce 'evaluate'" in line and "exited with 3" in line


def test_an_uncommitted_change_is_refused(two_stage: ScratchRepo, run_log: Path) -> None:
    two_stage.write("params.yaml", two_stage.read("params.yaml").replace("0.93", "0.94"))
    line = error_line(mlgate(two_stage.root, "reproduce"))
    assert "uncommitted changes (params.yaml)" in line
    assert runs(run_log) == []


# --- the pure parts --------------------------------------------------------------------------


def test_differences_compare_key_by_key() -> None:
    assert differences({"a": 1, "b": math.nan}, {"a": 1.0, "b": math.nan}, "m.json") == []
    assert differences({"a": True}, {"a": 1}, "m.json") == [Difference("m.json", "a", True, 1)]
    assert differences(None, {"a": 1}, "m.json") == [Difference("m.json", "a", ABSENT, 1)]
    assert differences({"a": [1, 2]}, None, "m.json") == [Difference("m.json", "a", [1, 2], ABSENT)]


def test_without_volatile_drops_only_the_volatile_hash_and_size() -> None:
    volatile = [StageOutput("dvc.yaml", "evaluate", "", "metrics/timing.json", True)]
    lock = {
        "schema": "2.0",
        "stages": {
            "evaluate": {
                "cmd": "x",
                "outs": [
                    {"path": "metrics/timing.json", "hash": "md5", "md5": "a", "size": 1},
                    {"path": "metrics/metrics.json", "hash": "md5", "md5": "b", "size": 2},
                ],
            },
            "other": {"outs": [{"path": "metrics/timing.json", "md5": "c", "size": 3}]},
        },
    }
    stripped = without_volatile(lock, volatile)
    outs = stripped["stages"]["evaluate"]["outs"]
    assert outs[0] == {"path": "metrics/timing.json", "hash": "md5"}
    assert outs[1] == lock["stages"]["evaluate"]["outs"][1]
    assert stripped["stages"]["other"] == lock["stages"]["other"]  # another stage's entry
    assert lock["stages"]["evaluate"]["outs"][0]["md5"] == "a"  # the input is not mutated


def test_the_table_prints_control_characters_escaped() -> None:
    """A key holding a newline stays on its row: CI reads '::' commands from line starts."""
    from mlgate.render import text
    from mlgate.reproduce import ReproduceResult

    result = ReproduceResult(
        "HEAD (abc1234)",
        ("evaluate",),
        (),
        ("m.json",),
        (),
        (Difference("m.json", "a\n::error::x", "x\ry", ABSENT),),
    )
    lines = text.reproduce(result).splitlines()
    assert lines[-1].split() == ["m.json", "a\\n::error::x", '"x\\ry"', "(absent)"]
    assert not any(line.startswith("::") for line in lines)
