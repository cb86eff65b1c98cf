"""End to end: the real pipeline, in a fresh copy of the repository's tracked files.

One copy per module (a full `dvc repro` is the expensive part); the tests run in file order
and each leaves the copy clean for the next: first run, reproduces the committed results,
no-op rerun, forced rerun is byte-identical, `mlgate reproduce` verifies the commit, a
train-only param change reruns only train and what depends on it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
TIMINGS = "metrics/inference.json"  # the one output that never reproduces
REPRODUCIBLE = [
    "metrics/metrics.json",
    "metrics/drift.json",
    "plots/roc.json",
    "plots/precision_recall.json",
    "plots/calibration.json",
    "plots/confusion.json",
    "plots/importance.json",
    "reports/model_card.md",
]


def environment(home: Path) -> dict[str, str]:
    # module-scoped, so it cannot rely on the per-test isolated_env fixture
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="mlgate tests",
        GIT_AUTHOR_EMAIL="tests@mlgate.invalid",
        GIT_COMMITTER_NAME="mlgate tests",
        GIT_COMMITTER_EMAIL="tests@mlgate.invalid",
        DVC_NO_ANALYTICS="1",
        DVC_SITE_CACHE_DIR=str(home / ".dvc-site-cache"),
        # stage commands say `python -m stages.x`: the interpreter running the tests
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    return env


class Copy:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env = root, env
        self.first_run: set[str] = set()

    def run(self, *args: str) -> str:
        result = subprocess.run(
            args, cwd=self.root, env=self.env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout}\n{result.stderr}"
        return result.stdout + result.stderr

    def dvc(self, *args: str) -> str:
        return self.run(sys.executable, "-m", "dvc", *args)

    def repro(self, *args: str) -> set[str]:
        """The stages that ran."""
        return set(re.findall(r"Running stage '([\w-]+)'", self.dvc("repro", *args)))

    def json(self, path: str) -> Any:
        return json.loads((self.root / path).read_text(encoding="utf-8"))

    def lock_hashes(self) -> dict[str, str]:
        """md5 of every stage output in dvc.lock."""
        lock = yaml.safe_load((self.root / "dvc.lock").read_text(encoding="utf-8"))
        return {
            out["path"]: out["md5"]
            for stage in lock["stages"].values()
            for out in stage.get("outs", [])
        }


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Copy:
    root = tmp_path_factory.mktemp("pipeline") / "repo"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, tracked.split("\0")):
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the working tree is skipped
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    repo = Copy(root, environment(tmp_path_factory.mktemp("home")))
    repo.run("git", "init", "-q")
    repo.run("git", "add", "-A")
    repo.run("git", "commit", "-q", "-m", "copy")
    # git holds the committed metrics and plots (cache: false); delete them so that the
    # first run has to regenerate every output, as after a change to every stage
    for path in [*REPRODUCIBLE, TIMINGS]:
        (root / path).unlink()
    repo.first_run = repo.repro()
    return repo


def test_full_repro_meets_the_quality_bar_and_leaves_a_clean_status(copy: Copy) -> None:
    stages = {"ingest", "validate", "featurize", "train", "evaluate", "drift", "model_card"}
    assert copy.first_run == stages
    metrics = copy.json("metrics/metrics.json")
    assert metrics["roc_auc"] >= 0.925 and metrics["accuracy"] >= 0.865
    for column in ("sex", "race"):
        fairness = metrics["fairness"][column]
        assert 0 <= fairness["demographic_parity_difference"] <= 1
        assert 0 <= fairness["equalized_odds_difference"] <= 1
        assert fairness["selection_rate"] and fairness["recall"]
    assert metrics["importance"] and metrics["model_size_bytes"] > 0
    timing = copy.json(TIMINGS)
    assert timing["batch_rows_per_s"] > 0 and timing["latency"]["p95_ms"] > 0
    drift = copy.json("metrics/drift.json")
    assert drift["n_columns"] == 14 and drift["share_drifted"] == 0.0  # test split ~ train
    assert "up to date" in copy.dvc("status")


def test_plots_render(copy: Copy) -> None:
    plots = json.loads(copy.dvc("plots", "show", "--json"))["data"]
    assert set(plots) == {
        "ROC",
        "Precision-recall",
        "Calibration",
        "Confusion matrix",
        "Feature importance",
        # monitoring/dvc.yaml's history of scored batches: none yet (docs/monitoring.md)
        "monitoring-performance",
        "monitoring-data",
    }
    assert plots["monitoring-performance"] == plots["monitoring-data"] == []
    confusion = plots["Confusion matrix"][0]["content"]["data"]["values"]
    assert sum(cell["count"] for cell in confusion) == 16281  # every test row, in 4 rows


def test_fresh_copy_reproduces_the_committed_results(copy: Copy) -> None:
    for path in REPRODUCIBLE:
        assert (copy.root / path).read_bytes() == (REPO / path).read_bytes(), path
    committed = Copy(REPO, copy.env).lock_hashes()
    assert copy.lock_hashes()["models/model.skops"] == committed["models/model.skops"]


def test_second_repro_runs_nothing(copy: Copy) -> None:
    assert copy.repro() == set()


def test_forced_rerun_is_byte_identical(copy: Copy) -> None:
    before = {path: (copy.root / path).read_bytes() for path in REPRODUCIBLE}
    hashes = copy.lock_hashes()
    assert copy.repro("-f") >= {"featurize", "train", "evaluate", "drift"}
    for path, content in before.items():
        assert (copy.root / path).read_bytes() == content, path
    rerun = copy.lock_hashes()
    hashes.pop(TIMINGS), rerun.pop(TIMINGS)
    assert rerun == hashes


def test_mlgate_reproduce_reruns_evaluate_and_keeps_the_measured_timings(copy: Copy) -> None:
    """What CI runs: DVC has evaluate up to date, mlgate reruns it, the committed metrics come
    out again, and the timings it measured stay (dvc.lock records them) for check to judge."""
    output = copy.run(sys.executable, "-m", "mlgate", "reproduce")
    assert "they write gated metrics): evaluate" in output
    assert "committed metrics reproduce: metrics/metrics.json at HEAD" in output
    assert "volatile, judged as measured in this run: metrics/inference.json" in output
    changed = {line.split()[-1] for line in copy.run("git", "status", "--porcelain").splitlines()}
    assert changed <= {TIMINGS, "dvc.lock"}
    assert "up to date" in copy.dvc("status")


def test_train_param_change_reruns_only_train_and_dependants(copy: Copy) -> None:
    params = copy.root / "params.yaml"
    text = params.read_text(encoding="utf-8")
    section = text[text.index("\ntrain:") :]
    changed = section.replace("learning_rate: 0.1\n", "learning_rate: 0.2\n", 1)
    assert changed != section
    params.write_text(text.replace(section, changed), encoding="utf-8")
    assert copy.repro() == {"train", "evaluate", "model_card"}  # the card names the model
    assert "up to date" in copy.dvc("status")
