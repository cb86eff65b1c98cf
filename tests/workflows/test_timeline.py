"""scripts/timeline.py: a short year in production, replayed with the real workflow jobs.

The fast tests check the monthly batches; the slow one runs three months end to end
(release v1 → promote → monthly batch jobs → a failed gate → the retrain job's pull request
→ merge → release → promote → the next month scored by the new version) against a bare git
remote, moto's S3 server and the GitHub API stand-in, then traces every decision from git.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from scripts import job_runner, local_ci
from scripts.timeline import CONCEPT_OCCUPATIONS, POSITIVE, TEST_SPLIT, make_months

ROOT = Path(__file__).resolve().parents[2]


def test_months_are_distinct_people_shifted_more_each_month(tmp_path: Path) -> None:
    months = make_months(ROOT / TEST_SPLIT, tmp_path, 4, 1500, concept_from=3, shift=1.5)
    assert [m.name for m in months] == ["2027-01", "2027-02", "2027-03", "2027-04"]
    batches = [pd.read_parquet(m.batch) for m in months]
    ages = [batch["age"].mean() for batch in batches]
    assert ages == sorted(ages) and ages[-1] > ages[0] + 3  # older each month
    for batch, month in zip(batches, months, strict=True):
        assert "income" not in batch.columns and batch["id"].is_unique
        assert not batch.drop(columns="id").duplicated().any()
        labels = pd.read_parquet(month.labels)
        assert list(labels.columns) == ["id", "income"]
        assert labels["id"].tolist() == batch["id"].tolist()
    ids = pd.concat([b["id"] for b in batches])
    assert ids.is_unique  # ids never repeat across months


def test_the_concept_change_flips_only_the_subgroups_high_incomes(tmp_path: Path) -> None:
    months = make_months(ROOT / TEST_SPLIT, tmp_path, 2, 3000, concept_from=2, shift=0.0)
    for month, changed in zip(months, (False, True), strict=True):
        batch = pd.read_parquet(month.batch)
        labels = pd.read_parquet(month.labels)["income"]
        subgroup = (batch["sex"] == "Male") & batch["occupation"].isin(CONCEPT_OCCUPATIONS)
        high_in_subgroup = int((labels[subgroup] == POSITIVE).sum())
        assert (high_in_subgroup == 0) is changed
        assert (labels[~subgroup] == POSITIVE).any()


def test_bad_timeline_options_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert local_ci.main(["--timeline", "--rows", "5"]) == 2
    assert "--rows 100..10000" in capsys.readouterr().err


def git(remote: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=remote, capture_output=True, text=True, check=True)
    return done.stdout


@pytest.mark.slow
@pytest.mark.timeout(2400)  # three releases and four workflow jobs: 8-15 minutes here
def test_three_months_detect_retrain_release_and_trace_it_from_git(tmp_path: Path) -> None:
    pytest.importorskip("moto.server")
    pytest.importorskip("dvc_s3")
    scratch = tmp_path / "scratch"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts.local_ci",
            "--timeline",
            "--months",
            "3",
            "--rows",
            "1500",
            "--concept-from",
            "2",
            "--shift",
            "1.5",
            "--workdir",
            str(scratch),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=2400,
        check=False,
    )
    out = done.stdout
    assert done.returncode in (0, 1), out[-4000:] + done.stderr[-2000:]
    year = out.split("=== the year, month by month", 1)[1].split("=== tags", 1)[0]
    lines = [line.strip() for line in year.strip().splitlines()]
    assert [line[:7] for line in lines] == ["2027-01", "2027-02", "2027-03"], year
    assert "prod v0.0.1" in lines[0] and "gates pass" in lines[0]
    # month 2: the shifted batch fails its gate; the retraining pull request passes its
    # release gates, is merged, released and promoted
    assert "gates FAIL" in lines[1] and "merged, released v0.0.2, promoted to prod" in lines[1]
    assert "prod v0.0.2" in lines[2]  # the next month is scored by the new version
    assert "realized AUC" in lines[2] and "(2027-02)" in lines[2]

    remote = scratch / "remote.git"
    tags = job_runner.remote_tags(remote)
    assert {"income-model@v0.0.1", "income-model@v0.0.2"} <= set(tags)
    # which version scored which batch: the batch records on main
    for batch, version in (("2027-01", "v0.0.1"), ("2027-02", "v0.0.1"), ("2027-03", "v0.0.2")):
        record = json.loads(git(remote, "show", f"main:monitoring/batches/{batch}.json"))
        assert record["model_version"] == version, batch
        # each batch's log and inputs DVC-tracked on their own: a job pulls one batch
        assert git(remote, "show", f"main:monitoring/predictions/{batch}.parquet.dvc"), batch
    # the labelled batch's gate compared with the release that scored it (v0.0.1), though
    # prod held v0.0.2 when its labels arrived (scripts/monitor_baseline.py)
    gates = scratch / "artifacts" / "monitoring-gates"  # month 3's batch job kept them
    assert json.loads((gates / "labelled.json").read_text())["batch"] == "2027-02"
    baseline = json.loads((gates / "labelled-gate.json").read_text())["baseline"]
    assert baseline["ref"] == "income-model@v0.0.1"
    # which batches trained which version: params and the model card at the release
    params = git(remote, "show", "income-model@v0.0.2:params.yaml")
    assert 'train_batches: ["2027-01"]' in params
    assert "train_batches: []" in git(remote, "show", "income-model@v0.0.1:params.yaml")
    card = git(remote, "show", "income-model@v0.0.2:reports/model_card.md")
    assert "| labelled batches appended | `2027-01`" in card
    assert git(remote, "show", "income-model@v0.0.2:data/labelled/2027-01.parquet.dvc")
    # which gate triggered which pull request: the merge commit and the retraining commit
    log = git(remote, "log", "--format=%B", "income-model@v0.0.2")
    assert "Merge pull request #100: Retrain on labelled batches 2027-01" in log
    assert "Retrain on labelled batches 2027-01: passes the release gates" in log
    assert "Why: the monitoring gate failed on batch 2027-02 (scored by v0.0.1): " in log
    assert "monitor: batch 2027-02 judged, scored by v0.0.1 [skip ci]" in log
