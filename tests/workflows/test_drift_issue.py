"""scripts/drift_issue.py: one drift issue, opened once and then updated, on a fake GitHub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts import drift_issue
from scripts.drift_issue import LABEL, MARKER, InputFileError

DRIFT = {
    "share_drifted": 0.5,
    "n_drifted": 2,
    "n_columns": 4,
    "columns": {
        "age": {"statistic": 0.31, "p_value": 1e-12, "psi": 0.42, "drifted": True},
        "sex": {"statistic": 80.0, "p_value": 1e-9, "psi": 0.9, "drifted": True},
        "race": {"statistic": 1.0, "p_value": 0.5, "psi": 0.01, "drifted": False},
        "hours|week": {"statistic": 0.01, "p_value": 0.9, "psi": 0.0, "drifted": False},
    },
}
GATE = {
    "passed": False,
    "baseline": None,
    "rules": [
        {
            "metric": "metrics/drift.json:share_drifted",
            "value": 0.5,
            "baseline": None,
            "passed": False,
            "skipped": False,
            "severity": "fail",
            "reason": "0.5 > max 0.2",
        },
        {"metric": "n_drifted", "value": 2, "passed": True, "reason": "ok"},
    ],
}
RUN = "https://github.test/octo/mlgate/actions/runs/1"


def files(tmp_path: Path, drift: object = DRIFT, gate: object = GATE) -> list[str]:
    (tmp_path / "drift.json").write_text(json.dumps(drift))
    (tmp_path / "gate.json").write_text(json.dumps(gate))
    return ["--drift", str(tmp_path / "drift.json"), "--gate", str(tmp_path / "gate.json")]


def test_render_lists_failed_gates_and_drifted_columns_by_psi() -> None:
    report = drift_issue.render(DRIFT, GATE, RUN, "drift.json", "gate.json")
    assert report.title == "Data drift: 2 of 4 columns drifted"
    body = report.body
    assert body.startswith(MARKER + "\n")
    assert "| `metrics/drift.json:share_drifted` | 0.5 | 0.5 > max 0.2 |" in body
    assert "n_drifted" not in body.split("### Drifted")[0]  # passing rules are not listed
    assert body.index("`sex`") < body.index("`age`")  # larger PSI first
    assert "`race`" not in body and RUN in body


def test_render_does_not_mutate_its_inputs() -> None:
    before = json.dumps([DRIFT, GATE], sort_keys=True)
    drift_issue.render(DRIFT, GATE, RUN, "d", "g")
    assert json.dumps([DRIFT, GATE], sort_keys=True) == before


@pytest.mark.parametrize(
    ("drift", "gate", "message"),
    [
        ([], GATE, "drift.json: expected an object with 'columns'"),
        ({"columns": 3}, GATE, "drift.json: expected an object with 'columns'"),
        (DRIFT, {"passed": False}, "gate.json: expected the JSON of 'mlgate check"),
    ],
)
def test_render_names_the_bad_file(drift: object, gate: object, message: str) -> None:
    with pytest.raises(InputFileError, match=message):
        drift_issue.render(drift, gate, RUN, "drift.json", "gate.json")


def test_opens_one_issue_then_updates_it(tmp_path, fake_github, github_env, capsys) -> None:
    args = [*files(tmp_path), "--run-url", RUN]
    assert drift_issue.main(args, github_env, fake_github) == 0
    assert "opened issue #1" in capsys.readouterr().out
    assert [lb["name"] for lb in fake_github.issues[0]["labels"]] == [LABEL]

    drifted_more = {**DRIFT, "columns": {**DRIFT["columns"], "race": {"drifted": True}}}
    assert (
        drift_issue.main(
            [*files(tmp_path, drifted_more), "--run-url", RUN], github_env, fake_github
        )
        == 0
    )
    assert "updated issue #1" in capsys.readouterr().out
    assert len(fake_github.issues) == 1
    assert fake_github.issues[0]["title"] == "Data drift: 3 of 4 columns drifted"


def test_an_issue_someone_else_wrote_is_left_alone(tmp_path, fake_github, github_env) -> None:
    fake_github.add_issue("fake", f"{MARKER} mine", [LABEL], {"login": "mallory"})
    assert drift_issue.main([*files(tmp_path), "--run-url", RUN], github_env, fake_github) == 0
    assert len(fake_github.issues) == 2
    assert fake_github.issues[0]["body"] == f"{MARKER} mine"


def test_a_closed_issue_is_not_reopened_a_new_one_is_opened(tmp_path, fake_github, github_env):
    number = fake_github.add_issue("old", MARKER, [LABEL])
    fake_github.issues[number - 1]["state"] = "closed"
    assert drift_issue.main([*files(tmp_path), "--run-url", RUN], github_env, fake_github) == 0
    assert [i["state"] for i in fake_github.issues] == ["closed", "open"]


def test_unreadable_inputs_exit_2_without_api_calls(tmp_path, fake_github, github_env, capsys):
    args = ["--drift", str(tmp_path / "nope.json"), "--gate", str(tmp_path / "g.json")]
    assert drift_issue.main([*args, "--run-url", RUN], github_env, fake_github) == 2
    assert "nope.json: not found" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{not json")
    args = ["--drift", str(tmp_path / "bad.json"), "--gate", str(tmp_path / "bad.json")]
    assert drift_issue.main([*args, "--run-url", RUN], github_env, fake_github) == 2
    assert fake_github.requests == []


def test_api_errors_exit_2(tmp_path, fake_github, github_env) -> None:
    fake_github.fail_with = 500
    assert drift_issue.main([*files(tmp_path), "--run-url", RUN], github_env, fake_github) == 2


# --- the monitoring gate of a scored batch (--monitoring) --------------------------------------

BATCH = {
    "batch": "2026-11",
    "model_version": "v1.2.0",
    "quality": {"quarantine_share": 0.01},
    "drift": {"share_drifted": 0.25, "drifted": ["age", "hours_per_week"]},
    "prediction_drift": {"psi": 0.31},
    "estimated": {"roc_auc": 0.86, "accuracy": 0.8},
    "realized": {"roc_auc": None, "accuracy": None, "labelled_share": 0.0, "unknown_ids": 3},
}
BATCH_GATE = {
    "passed": False,
    "baseline": {"ref": "income-model@v1.2.0", "sha": "a" * 40},
    "rules": [
        {
            "metric": "estimated.roc_auc",
            "value": 0.86,
            "baseline": 0.93,
            "passed": False,
            "reason": "change -0.07 vs baseline 0.93 beyond allowed -0.03",
        },
        {"metric": "quality.quarantine_share", "value": 0.01, "passed": True, "reason": "ok"},
    ],
}


def batch_files(tmp_path: Path, metrics: object = BATCH) -> list[str]:
    (tmp_path / "batch.json").write_text(json.dumps(metrics))
    (tmp_path / "gate.json").write_text(json.dumps(BATCH_GATE))
    return ["--monitoring", str(tmp_path / "batch.json"), "--gate", str(tmp_path / "gate.json")]


def test_the_monitoring_report_names_the_batch_model_failed_gates_and_figures() -> None:
    report = drift_issue.render_monitoring(BATCH, BATCH_GATE, RUN, "b.json", "g.json")
    assert report.title == "Model monitoring: batch 2026-11 failed 1 gate(s)"
    body = report.body
    assert body.startswith(drift_issue.MONITOR_MARKER + "\n")
    assert "| `estimated.roc_auc` | 0.86 | 0.93 | change -0.07" in body
    assert "quarantine_share`" not in body  # passing rules are not listed
    assert "| realized ROC AUC | – |" in body and "| labels for unknown ids | 3 |" in body
    assert "`age`, `hours_per_week`" in body and "`v1.2.0`" in body


def test_the_monitoring_issue_is_its_own_one_issue(tmp_path, fake_github, github_env) -> None:
    assert drift_issue.main([*files(tmp_path), "--run-url", RUN], github_env, fake_github) == 0
    for _ in range(2):
        args = [*batch_files(tmp_path), "--run-url", RUN]
        assert drift_issue.main(args, github_env, fake_github) == 0
    assert len(fake_github.issues) == 2  # one drift issue, one monitoring issue, updated
    labels = [[lb["name"] for lb in issue["labels"]] for issue in fake_github.issues]
    assert labels == [[LABEL], [drift_issue.MONITOR_LABEL]]


def test_monitoring_metrics_of_the_wrong_shape_exit_2(tmp_path, fake_github, github_env) -> None:
    args = [*batch_files(tmp_path, {"share_drifted": 1}), "--run-url", RUN]
    assert drift_issue.main(args, github_env, fake_github) == 2
    assert fake_github.issues == []
