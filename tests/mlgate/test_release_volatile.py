"""`mlgate release` after `mlgate reproduce`: a tree that differs from its commit only in
volatile outputs (timings) and their dvc.lock hashes is released, judged and recorded as
measured; any other difference is still refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mlgate import lineage
from tests.mlgate.registry_repo import Published, new_remote, tag_message, tag_names
from tests.mlgate.repo_factory import ScratchRepo
from tests.mlgate.repro_repo import (
    ARTIFACT,
    P95,
    _two_stage_template,
    run_log,
    two_stage,
)

__all__ = ["_two_stage_template", "run_log", "two_stage"]  # fixtures, imported for pytest

TAG = f"{ARTIFACT}@v0.0.1"


@pytest.fixture
def reproduced(
    two_stage: ScratchRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Published:
    """The two-stage project pushed to a bare origin, then reproduced with the timing
    measured at 7 ms (the commit holds 5): inference.json and dvc.lock are modified."""
    published = Published(two_stage, new_remote(two_stage, tmp_path / "remote.git"))
    monkeypatch.setenv(P95, "7")
    result = published.mlgate("reproduce")
    assert result.exit_code == 0, result.output
    changed = {line.split()[-1] for line in two_stage.git("status", "--porcelain").splitlines()}
    assert changed == {"dvc.lock", "metrics/inference.json"}
    return published


def committed_lock_entry(repo: ScratchRepo, path: str) -> dict[str, object]:
    lock = yaml.safe_load(repo.git("show", "HEAD:dvc.lock"))
    return next(
        out for stage in lock["stages"].values() for out in stage["outs"] if out["path"] == path
    )


def test_release_judges_and_records_the_measured_timings(reproduced: Published) -> None:
    result = reproduced.mlgate("release")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == TAG
    block = lineage.parse(tag_message(reproduced.root, TAG))
    assert block.status == lineage.OK
    assert block.metrics["latency.p95_ms"] == 7.0  # measured in this run, not the commit's 5
    assert block.metrics["roc_auc"] == 0.93
    timing = block.data["dvc_lock"]["metrics/inference.json"]
    assert timing["hash"] == committed_lock_entry(reproduced.repo, "metrics/inference.json")["md5"]
    assert TAG in reproduced.remote_tags()


def test_a_measured_timing_over_its_gate_fails_the_release(
    reproduced: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(P95, "80")  # over the gate's max 50, where the commit says 5
    assert reproduced.mlgate("reproduce").exit_code == 0
    result = reproduced.mlgate("release")
    assert result.exit_code == 1, result.output
    assert TAG not in tag_names(reproduced.root)


def refused(published: Published) -> str:
    result = published.mlgate("release")
    assert result.exit_code == 2, result.output
    assert TAG not in tag_names(published.root)
    return result.stderr


def test_refuses_another_change_beside_the_timings(reproduced: Published) -> None:
    (reproduced.root / "notes.txt").write_text("x", encoding="utf-8")
    assert "uncommitted changes (notes.txt)" in refused(reproduced)


def test_refuses_a_lock_that_differs_beyond_the_volatile_hashes(reproduced: Published) -> None:
    repo = reproduced.repo
    lock = yaml.safe_load(repo.read("dvc.lock"))
    lock["stages"]["train"]["params"]["params.yaml"]["train.quality"] = 0.5
    repo.write("dvc.lock", lock)
    assert "uncommitted changes (dvc.lock)" in refused(reproduced)


def test_refuses_a_volatile_entry_that_changed_beyond_its_hash(reproduced: Published) -> None:
    repo = reproduced.repo
    lock = yaml.safe_load(repo.read("dvc.lock"))
    for out in lock["stages"]["evaluate"]["outs"]:
        if out["path"] == "metrics/inference.json":
            out["cache"] = True
    repo.write("dvc.lock", lock)
    assert "uncommitted changes (dvc.lock)" in refused(reproduced)


def test_refuses_a_deleted_volatile_output(reproduced: Published) -> None:
    (reproduced.root / "metrics" / "inference.json").unlink()
    assert "uncommitted changes (metrics/inference.json)" in refused(reproduced)


def test_refuses_a_changed_metrics_file_that_is_not_volatile(reproduced: Published) -> None:
    metrics = json.loads(reproduced.repo.read("metrics/metrics.json"))
    reproduced.repo.write("metrics/metrics.json", {**metrics, "roc_auc": 0.99})
    assert "uncommitted changes (metrics/metrics.json)" in refused(reproduced)
