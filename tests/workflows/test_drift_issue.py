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
