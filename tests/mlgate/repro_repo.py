"""Scratch DVC projects for ``mlgate reproduce`` and the release of a reproduced tree.

``build_two_stage(root)``: ``train`` writes ``models/model.txt`` from the param
``train.quality``; ``evaluate`` reads it and writes ``metrics/metrics.json`` (``roc_auc`` is
the quality) and ``metrics/inference.json`` (a timing, marked ``meta: {volatile: true}``,
whose value comes from ``$SCRATCH_P95_MS``, default 5, so a test decides what a run
"measures"). ``build_nested(root)``: the same evaluate in ``sub/dvc.yaml``, writing into a
directory output ``sub/eval/``. Each stage appends its name to ``$SCRATCH_RUN_LOG`` when set,
which is how a test knows what ran. Stage commands are tiny Python scripts run by this
interpreter; building one project (``dvc init``, ``dvc repro``, commit) takes about a second,
so fixtures copy a template built once per session.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.mlgate.repo_factory import DVC_BIN, ScratchRepo, run

ARTIFACT = "scratch-model"
RUN_LOG = "SCRATCH_RUN_LOG"
P95 = "SCRATCH_P95_MS"

TRAIN = """\
import os, yaml
quality = yaml.safe_load(open("params.yaml"))["train"]["quality"]
os.makedirs("models", exist_ok=True)
open("models/model.txt", "w").write(repr(quality))
if os.environ.get("SCRATCH_RUN_LOG"):
    open(os.environ["SCRATCH_RUN_LOG"], "a").write("train\\n")
"""

EVALUATE = """\
import json, os, sys
model, out = sys.argv[1], sys.argv[2]
quality = float(open(model).read())
os.makedirs(out, exist_ok=True)
metrics = {"roc_auc": quality, "accuracy": round(quality - 0.05, 4), "fairness": {"gap": 0.05}}
json.dump(metrics, open(os.path.join(out, "metrics.json"), "w"), indent=2)
timing = {"latency": {"p95_ms": float(os.environ.get("SCRATCH_P95_MS", "5"))}}
json.dump(timing, open(os.path.join(out, "inference.json"), "w"), indent=2)
if os.environ.get("SCRATCH_RUN_LOG"):
    open(os.environ["SCRATCH_RUN_LOG"], "a").write("evaluate\\n")
"""

GATES: dict[str, Any] = {
    "baseline": "none",
    "rules": [
        {"metric": "roc_auc", "direction": "higher", "min": 0.92},
        {"metric": "accuracy", "direction": "higher", "min": 0.86},
        {"metric": "latency.p95_ms", "direction": "lower", "max": 50},
    ],
}


def _python(script: str, *args: str) -> str:
    return " ".join([sys.executable, script, *args])


def _train_stage() -> dict[str, Any]:
    return {
        "cmd": _python("train.py"),
        "deps": ["train.py"],
        "params": ["train.quality"],
        "outs": ["models/model.txt"],
    }


def _create(root: Path, files: dict[str, Any]) -> ScratchRepo:
    root.mkdir(parents=True, exist_ok=True)
    repo = ScratchRepo(root)
    repo.git("init", "-q", "-b", "main")
    run([DVC_BIN, "init", "-q"], root)
    run([DVC_BIN, "config", "core.autostage", "false"], root)
    for path, content in files.items():
        repo.write(path, content)
    repo.dvc("repro", "-q", "--all-pipelines")  # nested dvc.yaml files too
    repo.commit("pipeline")
    return repo


def build_two_stage(root: Path) -> ScratchRepo:
    dvc_yaml = {
        "artifacts": {ARTIFACT: {"path": "models/model.txt", "type": "model"}},
        "stages": {
            "train": _train_stage(),
            "evaluate": {
                "cmd": _python("evaluate.py", "models/model.txt", "metrics"),
                "deps": ["evaluate.py", "models/model.txt"],
                "outs": [
                    {"metrics/metrics.json": {"cache": False}},
                    {"metrics/inference.json": {"cache": False, "meta": {"volatile": True}}},
                ],
            },
        },
        "metrics": ["metrics/metrics.json", "metrics/inference.json"],
    }
    return _create(
        root,
        {
            "train.py": TRAIN,
            "evaluate.py": EVALUATE,
            "params.yaml": {"train": {"quality": 0.93}, "gates": GATES},
            "dvc.yaml": dvc_yaml,
        },
    )


def build_nested(root: Path) -> ScratchRepo:
    """train at the root; evaluate in ``sub/dvc.yaml``, its outputs in the directory ``eval``
    (cache: false, so git holds the files) of which ``metrics:`` names one file."""
    nested = {
        "stages": {
            "evaluate": {
                "cmd": _python("../evaluate.py", "../models/model.txt", "eval"),
                "deps": ["../evaluate.py", "../models/model.txt"],
                "outs": [{"eval": {"cache": False}}],
            }
        },
        "metrics": ["eval/metrics.json"],
    }
    rules = [rule for rule in GATES["rules"] if rule["metric"] != "latency.p95_ms"]
    return _create(
        root,
        {
            "train.py": TRAIN,
            "evaluate.py": EVALUATE,
            "params.yaml": {"train": {"quality": 0.93}, "gates": {**GATES, "rules": rules}},
            "dvc.yaml": {"stages": {"train": _train_stage()}},
            "sub/dvc.yaml": nested,
        },
    )


def forge(repo: ScratchRepo, path: str, content: dict[str, Any], lock: str = "dvc.lock") -> None:
    """Write ``content`` as the output ``path`` and patch its md5 and size into ``lock``, as
    an attacker would: ``dvc status`` stays clean, so DVC skips the stage that writes it."""
    data = json.dumps(content, indent=2).encode()
    (repo.root / path).write_bytes(data)
    document = yaml.safe_load(repo.read(lock))
    entries = [
        out
        for stage in document["stages"].values()
        for out in stage.get("outs", [])
        if out["path"] == path
    ]
    assert len(entries) == 1, f"{path} is not an output in {lock}"
    entries[0].update(md5=hashlib.md5(data).hexdigest(), size=len(data))
    repo.write(lock, document)


def runs(log: Path) -> list[str]:
    """The stages that ran since the log was last cleared, in order."""
    return log.read_text(encoding="utf-8").split() if log.exists() else []


@pytest.fixture(scope="session")
def _two_stage_template(tmp_path_factory: pytest.TempPathFactory) -> ScratchRepo:
    from tests.mlgate.conftest import isolated_identity

    with isolated_identity(tmp_path_factory.mktemp("repro-home")):
        return build_two_stage(tmp_path_factory.mktemp("repro-template") / "repo")


@pytest.fixture
def run_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "runs.log"
    monkeypatch.setenv(RUN_LOG, str(log))
    monkeypatch.delenv(P95, raising=False)
    return log


@pytest.fixture
def two_stage(_two_stage_template: ScratchRepo, tmp_path: Path, run_log: Path) -> ScratchRepo:
    """A fresh copy of the reproduced, committed two-stage project (clean tree, DVC cache)."""
    return _two_stage_template.copy_to(tmp_path / "repo")
