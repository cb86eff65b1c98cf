"""scripts/retrain_pr.py and scripts/monitor_record.py: the pieces of the retraining pull
request and of the batch job's record (the whole loop: tests/workflows/test_timeline.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from scripts import job_runner, monitor_record, retrain_pr
from scripts.github_api import GitHub
from stages.common import read_yaml

PARAMS = """ingest:
  # where the data comes from
  train_source: data/raw/adult.data.gz
  train_batches: []            # labelled batches
  test_source: data/raw/adult.test.gz
"""


def test_train_batches_change_on_their_own_line_only() -> None:
    updated = retrain_pr.with_train_batches(PARAMS, ["2027-01", "2027-02"])
    assert read_yaml(updated, "p")["ingest"]["train_batches"] == ["2027-01", "2027-02"]
    before, after = PARAMS.splitlines(), updated.splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [
        ("  train_batches: []            # labelled batches",
         '  train_batches: ["2027-01", "2027-02"]  # labelled batches'),
    ]  # fmt: skip


def test_train_batches_are_added_after_the_train_source_when_absent() -> None:
    text = PARAMS.replace("  train_batches: []            # labelled batches\n", "")
    updated = retrain_pr.with_train_batches(text, ["2027-01"])
    assert read_yaml(updated, "p")["ingest"]["train_batches"] == ["2027-01"]
    assert updated.splitlines()[3] == '  train_batches: ["2027-01"]'
    with pytest.raises(retrain_pr.RetrainError, match="no ingest.train_source"):
        retrain_pr.with_train_batches("train: {}\n", ["2027-01"])


def test_only_new_labelled_batches_are_candidates(tmp_path: Path) -> None:
    labels = tmp_path / "monitoring" / "labels"
    labels.mkdir(parents=True)
    for name in ("2027-02", "2027-01", "2027-03"):
        (labels / f"{name}.parquet").write_bytes(b"")
    assert retrain_pr.labelled_ids(tmp_path) == ["2027-01", "2027-02", "2027-03"]
    assert retrain_pr.listed_batches({"ingest": {"train_batches": ["2027-01"]}}) == ["2027-01"]
    assert retrain_pr.listed_batches({"ingest": {}}) == []


def gate(*rules: tuple[str, bool, str]) -> dict[str, object]:
    return {
        "passed": all(ok or severity == "warn" for _, ok, severity in rules),
        "rules": [
            {"metric": m, "value": 0.5, "baseline": 0.9, "passed": ok, "severity": severity,
             "reason": f"{m} reason"}
            for m, ok, severity in rules
        ],
    }  # fmt: skip


def write(folder: Path, name: str, data: object) -> None:
    (folder / name).write_text(json.dumps(data))


def test_the_trigger_is_the_failed_gate_labelled_first_warnings_ignored(tmp_path: Path) -> None:
    metrics = {"batch": "2027-05", "model_version": "v1.0.0", "realized": {"roc_auc": 0.8}}
    write(tmp_path, "batch.json", {**metrics, "batch": "2027-06"})
    write(tmp_path, "batch-gate.json", gate(("realized.roc_auc", False, "warn")))
    assert retrain_pr.read_trigger(tmp_path) is None  # a warning alone starts nothing
    write(tmp_path, "labelled.json", metrics)
    write(tmp_path, "labelled-gate.json", gate(("realized.roc_auc", False, "fail")))
    trigger = retrain_pr.read_trigger(tmp_path)
    assert trigger is not None and trigger.batch == "2027-05" and trigger.version == "v1.0.0"
    assert [r["metric"] for r in trigger.failed] == ["realized.roc_auc"]
    text = "\n".join(retrain_pr.trigger_text(trigger, "https://run"))
    assert "batch `2027-05`, scored by `v1.0.0` in [this monitor run](https://run)" in text
    assert "| `realized.roc_auc` | 0.5 | 0.9 | realized.roc_auc reason |" in text
    assert "| realized ROC AUC | 0.8 |" in text


def test_a_failing_model_still_gets_its_pull_request_marked_as_failing() -> None:
    title, body = retrain_pr.pull_request_text(
        ["2027-05"], ["2027-04", "2027-05"], False, "m@v1.0.0", None, "REPORT", ""
    )
    assert title == "Retrain on labelled batches 2027-05 [failing release gates]"
    assert body.startswith(retrain_pr.MARKER) and "FAILS its release gates" in body
    assert "Requested by hand" in body and "`2027-04`, `2027-05`" in body
    assert body.rstrip().endswith("REPORT") and "close and reopen it" in body


def test_one_pull_request_is_opened_then_updated() -> None:
    state = job_runner.FakeGitHubState()
    with job_runner.fake_github(state) as api:
        github = GitHub(job_runner.REPO_NAME, job_runner.TOKEN, api)
        assert retrain_pr.upsert_pull(github, "mlgate/retrain", "main", "t1", "b1") == (
            "opened",
            100,
        )
        assert retrain_pr.upsert_pull(github, "mlgate/retrain", "main", "t2", "b2") == (
            "updated",
            100,
        )
        assert retrain_pr.upsert_pull(github, "other", "main", "t3", "b3") == ("opened", 101)
    assert [(p["title"], p["body"]) for p in state.opened] == [("t2", "b2"), ("t3", "b3")]


def run(cwd: Path, *args: str) -> str:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=True).stdout


def test_the_record_commits_monitoring_only_and_pushes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    origin, work = tmp_path / "origin.git", tmp_path / "work"
    run(tmp_path, "git", "init", "-q", "--bare", "-b", "main", str(origin))
    run(tmp_path, "git", "clone", "-q", str(origin), str(work))
    (work / "monitoring").mkdir()
    (work / "README").write_text("x\n")
    run(work, "git", "add", "-A")
    run(work, "git", "commit", "-q", "-m", "start")
    run(work, "git", "push", "-q", "origin", "HEAD:main")
    monkeypatch.chdir(work)
    env = {"DEFAULT_BRANCH": "main", "GITHUB_TOKEN": "t"}
    assert monitor_record.main([], env) == 0  # nothing to record
    (work / "monitoring" / "metrics.json").write_text(
        json.dumps({"batch": "2027-01", "model_version": "v1.0.0"})
    )
    assert monitor_record.main([], env) == 0
    message = run(origin, "git", "log", "-1", "--format=%s", "main")
    assert message.strip() == "monitor: batch 2027-01 judged, scored by v1.0.0 [skip ci]"
    (work / "README").write_text("changed\n")
    (work / "monitoring" / "metrics.json").write_text("{}")
    assert monitor_record.main([], env) == 1  # a record never carries code or params
    assert run(origin, "git", "rev-list", "--count", "main").strip() == "2"


def test_the_token_goes_only_to_github_for_one_command() -> None:
    assert monitor_record.auth_args("") == []
    (flag, setting) = monitor_record.auth_args("secret")
    assert flag == "-c" and setting.startswith("http.https://github.com/.extraheader=")
    assert "secret" not in setting  # base64, as actions/checkout stores it
