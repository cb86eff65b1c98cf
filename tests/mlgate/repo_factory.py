"""Tiny git + DVC repositories for tests (reusable by any mlgate test).

``ScratchRepo.create(path)`` builds a repository with one DVC stage that copies
``inputs/metrics.json`` to the metrics file ``metrics/metrics.json`` and to the model
``models/model.bin`` (artifact ``demo-model``), runs ``dvc repro`` and commits. Tests
then change metrics (``set_metrics`` + ``repro`` for a fresh working tree, or
``write`` + ``commit`` when only git history matters), tag releases and run mlgate.

Building with ``dvc init`` and ``dvc repro`` costs about a second, so the ``scratch_repo``
fixture copies one template built per session.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ARTIFACT = "demo-model"
DVC_BIN = str(Path(sys.executable).with_name("dvc"))

DVC_YAML = {
    "artifacts": {ARTIFACT: {"path": "models/model.bin", "type": "model"}},
    "stages": {
        "train": {
            "cmd": (
                "mkdir -p metrics models && cp inputs/metrics.json metrics/metrics.json"
                " && cp inputs/metrics.json models/model.bin"
            ),
            "deps": ["inputs/metrics.json"],
            "params": ["train.seed"],
            "outs": ["models/model.bin"],
            "metrics": [{"metrics/metrics.json": {"cache": False}}],
        }
    },
}

DEFAULT_METRICS: dict[str, Any] = {
    "roc_auc": 0.93,
    "accuracy": 0.87,
    "fairness": {"sex": {"equalized_odds_difference": 0.08}},
    "latency": {"p95_ms": 5.0},
}

DEFAULT_GATES: dict[str, Any] = {
    "baseline": "latest-release",
    "rules": [
        {"metric": "roc_auc", "direction": "higher", "min": 0.92, "max_regression": 0.005},
        {"metric": "accuracy", "direction": "higher", "min": 0.86},
        {"metric": "fairness.sex.equalized_odds_difference", "direction": "lower", "max": 0.1},
        {"metric": "latency.p95_ms", "direction": "lower", "max": 10, "severity": "warn"},
    ],
}


def run(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=check)


class ScratchRepo:
    def __init__(self, root: Path) -> None:
        self.root = root

    # -- building ------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        root: Path,
        metrics: dict[str, Any] | None = None,
        gates: dict[str, Any] | None = None,
    ) -> ScratchRepo:
        root.mkdir(parents=True, exist_ok=True)
        repo = cls(root)
        repo.git("init", "-q", "-b", "main")
        run([DVC_BIN, "init", "-q"], root)
        run([DVC_BIN, "config", "core.autostage", "false"], root)
        repo.write("dvc.yaml", DVC_YAML)
        repo.write_params(gates=DEFAULT_GATES if gates is None else gates)
        repo.set_metrics(DEFAULT_METRICS if metrics is None else metrics)
        repo.repro()
        repo.commit("initial pipeline")
        return repo

    def copy_to(self, root: Path) -> ScratchRepo:
        shutil.copytree(self.root, root, symlinks=True)
        return ScratchRepo(root)

    # -- files ---------------------------------------------------------------------------
    def write(self, path: str, content: Any) -> Path:
        """Write text as is, or a mapping as JSON (.json) or YAML (anything else)."""
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            target.write_text(content, encoding="utf-8")
        elif path.endswith(".json"):
            target.write_text(json.dumps(content, indent=2), encoding="utf-8")
        else:
            target.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
        return target

    def read(self, path: str) -> str:
        return (self.root / path).read_text(encoding="utf-8")

    def write_params(self, gates: dict[str, Any] | None, seed: int = 1) -> None:
        params: dict[str, Any] = {"train": {"seed": seed}}
        if gates is not None:
            params["gates"] = gates
        self.write("params.yaml", params)

    def set_metrics(self, metrics: dict[str, Any]) -> None:
        """Set what the stage will produce (call ``repro`` to produce it)."""
        self.write("inputs/metrics.json", metrics)

    def set_committed_metrics(self, metrics: dict[str, Any] | str) -> None:
        """Write input, outputs and their hashes in dvc.lock as ``dvc repro`` would (the stage
        copies the input), without running DVC: for tests where only git history matters."""
        self.write("inputs/metrics.json", metrics)
        content = self.write("metrics/metrics.json", metrics).read_bytes()
        (self.root / "models/model.bin").write_bytes(content)
        lock_path = self.root / "dvc.lock"
        lock = yaml.safe_load(lock_path.read_text(encoding="utf-8"))
        digest = hashlib.md5(content).hexdigest()
        copies = {"inputs/metrics.json", "metrics/metrics.json", "models/model.bin"}
        for stage in lock["stages"].values():
            for entry in [*stage.get("deps", []), *stage.get("outs", [])]:
                if entry["path"] in copies:
                    entry.update(md5=digest, size=len(content))
        lock_path.write_text(yaml.safe_dump(lock, sort_keys=False), encoding="utf-8")

    # -- git and dvc ---------------------------------------------------------------------
    def git(self, *args: str) -> str:
        return run(["git", *args], self.root).stdout.strip()

    def dvc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run([DVC_BIN, *args], self.root, check=check)

    def repro(self) -> None:
        self.dvc("repro", "-q")

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def tag_release(self, version: str, rev: str = "HEAD", artifact: str = ARTIFACT) -> str:
        name = f"{artifact}@{version}"
        self.git("tag", "-a", name, "-m", f"release {version}", rev)
        return name

    def release(self, metrics: dict[str, Any], version: str) -> str:
        """Commit ``metrics`` (reproduced) and tag the commit as a release."""
        self.set_metrics(metrics)
        self.repro()
        self.commit(f"metrics for {version}")
        return self.tag_release(version)


def metrics_with(**changes: Any) -> dict[str, Any]:
    """DEFAULT_METRICS with top-level or dotted keys replaced (``{"latency.p95_ms": 12}``)."""
    result = json.loads(json.dumps(DEFAULT_METRICS))
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = result
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return result
