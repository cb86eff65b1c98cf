"""The benchmark scripts keep working as the code under them moves (each once broke silently:
a removed import in --prepare, a made-up commit that made every lineage block corrupt)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import bench_check_report, bench_registry

ROOT = Path(__file__).resolve().parents[1]


def test_check_report_prepare_names_the_artifact() -> None:
    done = subprocess.run(
        [sys.executable, "-c", bench_check_report._ARTIFACT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


@pytest.mark.slow
def test_registry_bench_builds_releases_whose_lineage_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from mlgate.cli import cli

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    repo = tmp_path / "registry"
    bench_registry.build(repo, 3)
    monkeypatch.chdir(repo)
    result = CliRunner().invoke(cli, ["history", "--format", "json"])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    assert len(entries) == 3
    assert {entry["lineage"] for entry in entries} == {"ok"}


@pytest.mark.slow
def test_cached_metrics_bench_keeps_its_metrics_in_the_dvc_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("dvclive")
    from benchmarks import bench_cached_metrics

    monkeypatch.setenv("HOME", str(tmp_path))
    repo = tmp_path / "dvclive"
    bench_cached_metrics.prepare(repo)  # refuses a layout with eval/ in git
    command = bench_cached_metrics.COMMANDS["mlgate check --rev HEAD --baseline HEAD~1"]
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    rules = {rule["metric"]: rule for rule in json.loads(done.stdout)["rules"]}
    assert rules["test.roc_auc"]["value"] == 0.8 and rules["test.roc_auc"]["baseline"] == 0.9
