"""The production half end to end (issue 18): release -> promote prod -> score -> monitor ->
the monitoring gate, in a scratch project whose DVC remote is S3 (moto's server on
127.0.0.1, through dvc-s3) and whose git remote is a local bare repository. Nothing is
stood in for: the model and the reference split of the release come back from S3 through
`stages.released`, as a fresh CI runner would get them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("moto.server")
pytest.importorskip("dvc_s3")

from tests.mlgate.repo_factory import DEFAULT_METRICS, run
from tests.test_score_e2e import (
    ARTIFACT,
    BUCKET,
    PARAMS,
    batch,
    dvc,
    git,
    mlgate,
    s3,
    score,
    tiny_model,
    write,
)

__all__ = ["s3"]  # a fixture, imported for pytest

REPO = Path(__file__).resolve().parents[1]
# train "fits" by copying a model and writes the validated test split it was judged on
DVC_YAML = {
    "vars": [{"paths": {"valid_test": "data/validated/test.parquet"}}],
    "artifacts": {ARTIFACT: {"path": "models/model.skops", "type": "model"}},
    "stages": {
        "train": {
            "cmd": (
                "mkdir -p metrics models data/validated"
                " && cp inputs/metrics.json metrics/metrics.json"
                " && cp inputs/model.skops models/model.skops"
                " && cp inputs/test.parquet ${paths.valid_test}"
            ),
            "deps": ["inputs/metrics.json", "inputs/model.skops", "inputs/test.parquet"],
            "params": ["train.seed"],
            "outs": ["models/model.skops", "${paths.valid_test}"],
            "metrics": [{"metrics/metrics.json": {"cache": False}}],
        }
    },
}


def env() -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PYTHONPATH": f"{REPO / 'src'}:{REPO}",
        "DVC_NO_ANALYTICS": "1",
    }


def monitor(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.monitor_run", *args],
        cwd=root,
        env=env(),
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def production(tmp_path: Path, s3: str) -> Path:
    """A project whose v0.0.1 holds prod, pushed to a bare git remote, its model and test
    split only on S3, with the monitoring pipeline of this repository."""
    from tests.stages.modelling_data import validated_frame

    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    dvc(root, "init", "-q")
    dvc(root, "config", "core.autostage", "false")
    dvc(root, "remote", "add", "-d", "s3", f"s3://{BUCKET}/x")
    dvc(root, "remote", "modify", "s3", "endpointurl", s3)
    # the monitoring stage's code dependencies, as a project using mlgate's stages has them
    for folder in ("stages", "src/mlgate", "scripts"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__py*"))
    (root / "monitoring").mkdir()
    for name in (
        "dvc.yaml",
        "dvc.lock",
        "batch.yaml",
        "gates.yaml",
        "metrics.json",
        "history.json",
    ):
        shutil.copy(REPO / "monitoring" / name, root / "monitoring" / name)
    params = {**PARAMS, "drift": {"p_value": 0.01, "psi": 0.1, "psi_bins": 10}}
    params["monitor"] = {"psi_bins": 10, "calibration_bins": 10}
    write(root, "dvc.yaml", DVC_YAML)
    write(root, "params.yaml", params)
    write(root, "inputs/metrics.json", json.dumps(DEFAULT_METRICS))
    write(root, "inputs/model.skops", tiny_model())
    validated_frame(400, seed=11).to_parquet(root / "inputs" / "test.parquet", index=False)
    write(root, ".gitignore", "monitoring/.cache/\n__pycache__/\n")
    dvc(root, "repro", "-q", "dvc.yaml")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "pipeline")
    run(["git", "init", "-q", "--bare", "-b", "main", str(tmp_path / "origin.git")], tmp_path)
    git(root, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(root, "push", "-q", "origin", "main")
    dvc(root, "push", "-q")
    mlgate(root, "release")
    for stage in ("dev", "staging", "prod"):
        mlgate(root, "promote", "v0.0.1", stage)
    shutil.rmtree(root / ".dvc" / "cache")  # the model and the split come back from S3
    shutil.rmtree(root / "data")
    return root


@pytest.mark.slow
def test_release_promote_score_monitor_and_gate(production: Path, tmp_path: Path) -> None:
    import pandas as pd

    from tests.stages.modelling_data import validated_frame

    root = production
    origin_tags = run(["git", "ls-remote", "--tags", str(tmp_path / "origin.git")], tmp_path)
    assert f"refs/tags/{ARTIFACT}@v0.0.1" in origin_tags.stdout  # the release is on the remote

    scored = score(root, "--batch", batch(root, "2026-11.csv"))
    assert scored.returncode == 0, scored.stderr
    assert "income-model v0.0.1" in scored.stdout

    truth = validated_frame(40, seed=5)  # the rows batch() wrote, with their labels
    labels = truth[["income"]].assign(id=range(1000, 1040)).iloc[:30]
    unknown = pd.DataFrame({"income": [">50K"], "id": [5555]})  # an id the batch never had
    labels = pd.concat([labels, unknown], ignore_index=True)
    labels.to_csv(root / "labels.csv", index=False)
    done = monitor(root, "--batch", "2026-11", "--labels", "labels.csv")
    assert done.returncode == 0, done.stderr

    metrics = json.loads((root / "monitoring" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["batch"] == "2026-11" and metrics["model_version"] == "v0.0.1"
    assert metrics["quality"]["quarantine_share"] == pytest.approx(1 / 40)
    # 5555 and 1003 (quarantined, so never scored): labels for ids the log lacks are counted
    assert metrics["realized"]["unknown_ids"] == 2
    assert metrics["realized"]["labelled_share"] == pytest.approx(29 / 39)  # row 1003 quarantined
    for key in ("roc_auc", "accuracy"):
        assert 0 <= metrics["estimated"][key] <= 1
        assert 0 <= metrics["realized"][key] <= 1
    # the reference came back from S3 through the release commit's dvc.lock
    assert (root / "monitoring" / ".cache" / "reference" / "v0.0.1.parquet").is_file()

    # the gate: stage:prod is v0.0.1's recorded metrics; estimated AUC vs its roc_auc - 0.03
    gate = subprocess.run(
        [sys.executable, "-m", "mlgate", "check", "--gates", "monitoring/gates.yaml",
         "--allow-stale", "--format", "json"],
        cwd=root, env=env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert gate.returncode in (0, 1), gate.stderr
    judged = json.loads(gate.stdout)
    assert judged["baseline"]["ref"] == f"{ARTIFACT}@v0.0.1"
    auc = next(rule for rule in judged["rules"] if rule["metric"] == "estimated.roc_auc")
    assert auc["baseline"] == DEFAULT_METRICS["roc_auc"]
    assert auc["value"] == metrics["estimated"]["roc_auc"]
    assert auc["passed"] == (auc["value"] >= DEFAULT_METRICS["roc_auc"] - 0.03 - 1e-12)
