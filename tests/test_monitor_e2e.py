"""`make monitor` end to end in a scratch DVC project: prepare (batch id, labels merged),
the frozen stage run and recorded in monitoring/dvc.lock, the history, and bad input that
stops with one line and leaves every file as it was. The registry (`stages.released`, the
scoring side's) is a stand-in that returns local files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]

STAND_IN = """from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Release:
    artifact: str
    version: str
    commit: str
    tag: str


def resolve(stage=None, version=None, root=Path(".")):
    return Release("income-model", version, "0" * 40, f"income-model@{version}")


def fetch_model(release, root=Path(".")):
    return Path("monitoring/model.skops")


def fetch_reference(release, root=Path(".")):
    return Path("monitoring/reference.parquet")
"""


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PYTHONPATH": f"{cwd / 'src'}:{cwd}",
        "DVC_NO_ANALYTICS": "1",
    }
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from benchmarks.bench_monitor import build

    root = tmp_path_factory.mktemp("monitor-e2e")
    for folder in ("stages", "src/mlgate", "scripts"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__py*"))
    (root / "stages" / "released.py").write_text(STAND_IN, encoding="utf-8")
    (root / "monitoring").mkdir()
    for name in ("dvc.yaml", "batch.yaml", "metrics.json", "history.json", "gates.yaml"):
        shutil.copy(ROOT / "monitoring" / name, root / "monitoring" / name)
    shutil.copy(ROOT / "params.yaml", root / "params.yaml")
    build(root / "monitoring", 3000, ROOT, train_rows=5000)
    (root / "monitoring" / "labels" / "bench.parquet").unlink()  # labels come through make
    for args in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"]):
        assert run(args, root).returncode == 0
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted((root / "monitoring").rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_make_monitor_runs_and_records_the_stage_then_refuses_bad_input(project: Path) -> None:
    inputs = pd.read_parquet(project / "monitoring" / "predictions" / "bench.parquet")
    labels = pd.DataFrame({"id": [*inputs["id"][:1000], "nobody"], "income": ">50K"})
    labels.to_csv(project / "labels.csv", index=False)
    monitor = [sys.executable, "-m", "scripts.monitor_run"]

    done = run([*monitor, "--batch", "bench", "--labels", "labels.csv"], project)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((project / "monitoring" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["batch"] == "bench" and metrics["model_version"] == "v1.0.0"
    assert metrics["realized"]["labelled_share"] == pytest.approx(1000 / 3000)
    assert metrics["realized"]["unknown_ids"] == 1
    assert 0.5 < metrics["estimated"]["roc_auc"] <= 1
    lock = (project / "monitoring" / "dvc.lock").read_text(encoding="utf-8")
    assert "monitoring/metrics.json" in lock and "--batch bench" in lock
    status = run([sys.executable, "-m", "dvc", "status", "monitoring/dvc.yaml"], project)
    assert "changed" not in status.stdout, status.stdout
    history = json.loads((project / "monitoring" / "history.json").read_text(encoding="utf-8"))
    assert [point["batch"] for point in history] == ["bench"]

    before = snapshot(project)
    (project / "no-target.csv").write_text("id,label\nr1,>50K\n", encoding="utf-8")
    for args, problem in (
        (["--batch", "2099-01"], "monitoring/batches/2099-01.json: no such batch"),
        (["--batch", "bench", "--labels", "no-target.csv"], "missing column(s) income"),
    ):
        done = run([*monitor, *args], project)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 1 and len(lines) == 1, done.stderr
        assert lines[0].startswith("monitor: error: ") and problem in lines[0]
        assert snapshot(project) == before
