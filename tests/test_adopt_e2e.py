"""The "Your own data" flow (docs/your-own-data.md), end to end, on datasets other than Adult
that ship inside scikit-learn (no network): point the sources at the files, infer the schema, a
first run that sets the gates; then `dvc repro` has nothing to do and `mlgate check` passes.

Each test works in a fresh copy of the repository's tracked files, as
tests/test_pipeline_e2e.py does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from stages.common import read_yaml
from stages.paramsfile import replace_section, section_text
from tests.test_pipeline_e2e import Copy, environment

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def fresh_copy(tmp_path: Path) -> Copy:
    root = tmp_path / "repo"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, tracked.split("\0")):
        source = REPO / name
        if source.is_file() and not name.startswith("data/raw/"):  # Adult's files: not used
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    home = tmp_path / "home"
    home.mkdir()
    repo = Copy(root, environment(home))
    repo.run("git", "init", "-q")
    repo.run("git", "add", "-A")
    repo.run("git", "commit", "-q", "-m", "copy")
    return repo


def write_splits(repo: Copy, frame: pd.DataFrame) -> None:
    """Every fourth row is the test split (and the monitored batch); the rest is train."""
    raw = repo.root / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    is_test = frame.index % 4 == 0
    frame[~is_test].to_csv(raw / "train.csv", index=False)
    frame[is_test].to_csv(raw / "test.csv", index=False)


def point_the_sources(repo: Copy, label: str, min_rows: object) -> None:
    """Step 1 of the docs' flow: the `ingest:` section for a CSV with a header, and
    `validate.min_rows` for data this small."""
    params = repo.root / "params.yaml"
    ingest = {
        "train_source": "data/raw/train.csv",
        "test_source": "data/raw/test.csv",
        "current_source": "data/raw/test.csv",
        "header": True,
        "na_values": [],
        "encoding": "utf-8",
        "label_column": label,
    }
    text = replace_section(
        params.read_text(encoding="utf-8"), "ingest", section_text("ingest", ingest)
    )
    text = text.replace("  min_rows: 1000", f"  min_rows: {json.dumps(min_rows)}", 1)
    params.write_text(text, encoding="utf-8")


def adopt(repo: Copy, *infer_options: str) -> str:
    """Steps 2 and 3, then what must hold: nothing to rerun, the gates pass."""
    repo.run(sys.executable, "-m", "stages.infer_schema", *infer_options, "--write")
    adopted = repo.run(sys.executable, "-m", "stages.adopt", "--margin", "0.02")
    assert repo.repro() == set()
    check = repo.run(sys.executable, "-m", "mlgate", "check", "--format", "json")
    verdict = json.loads(check[: check.rindex("}") + 1])
    assert verdict["passed"], check
    return adopted


def test_breast_cancer_with_text_labels_and_a_sensitive_column(tmp_path: Path) -> None:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame = frame.assign(
        diagnosis=frame.pop("target").map({0: "malignant", 1: "benign"}),
        # a text column to group the fairness figures by (derived: the data has none)
        size=pd.cut(frame["mean radius"], [0, 12, 16, 100], labels=["small", "mid", "large"]),
    )
    repo = fresh_copy(tmp_path)
    write_splits(repo, frame)
    point_the_sources(repo, "diagnosis", {"train": 300, "test": 100, "current": 100})
    adopted = adopt(
        repo, "--target", "diagnosis", "--positive-label", "malignant", "--sensitive", "size"
    )
    assert "adopt: set  roc_auc >= " in adopted
    assert "adopt: set  fairness.size.equalized_odds_difference <= " in adopted
    assert "adopt: drop fairness.sex.equalized_odds_difference" in adopted
    params = read_yaml((repo.root / "params.yaml").read_text(encoding="utf-8"), "params.yaml")
    assert params["schema"]["labels"] == ["benign", "malignant"]
    metrics = repo.json("metrics/metrics.json")
    floor = next(rule for rule in params["gates"]["rules"] if rule["metric"] == "roc_auc")
    assert floor["min"] <= metrics["roc_auc"] - 0.02 < floor["min"] + 0.001
    assert set(metrics["fairness"]) == {"size"}

    # renaming the artifact is one step (docs/your-own-data.md): its key under `artifacts:`
    # in dvc.yaml
    dvc_yaml = repo.root / "dvc.yaml"
    text = dvc_yaml.read_text(encoding="utf-8")
    dvc_yaml.write_text(text.replace("\n  income-model:\n", "\n  diagnosis-model:\n"), "utf-8")
    repo.run("git", "add", "-A")
    repo.run("git", "commit", "-q", "-m", "adopt the breast cancer data")
    released = repo.run(sys.executable, "-m", "mlgate", "release", "--no-push", "--dry-run")
    assert "diagnosis-model@v" in released and "income-model" not in released


def test_wine_with_a_0_1_target_and_numeric_columns_only(tmp_path: Path) -> None:
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    frame = frame.assign(is_class_0=(frame.pop("target") == 0).astype(int))
    repo = fresh_copy(tmp_path)
    write_splits(repo, frame)
    point_the_sources(repo, "is_class_0", {"train": 100, "test": 30, "current": 30})
    adopted = adopt(repo, "--target", "is_class_0")  # 0/1: the positive label is 1
    assert "adopt: set  accuracy >= " in adopted
    params = read_yaml((repo.root / "params.yaml").read_text(encoding="utf-8"), "params.yaml")
    schema = params["schema"]
    assert schema["labels"] == [0, 1] and schema["positive_label"] == 1
    assert schema["sensitive"] == [] and schema["categorical"] == {}
    assert len(schema["numeric"]) == 13
