"""A full disk under any stage: one line naming the file, exit 1, no traceback (issue 16,
hostile input). Every kind of output is written to a file that fails as a full disk does
(tests/conftest.py's ``full_disk``): parquet, JSON, a skops model, a plot."""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stages.common import remove_outputs, run_stage
from stages.featurize import fit_featurizer, transform
from stages.modelio import save_model
from tests.stages.conftest import SCHEMA_PARAMS, VALIDATE_PARAMS
from tests.stages.modelling_data import (
    FEATURIZE_PARAMS,
    FEATURIZE_SECTION,
    LOGREG_PARAMS,
    LOGREG_SECTION,
    SCHEMA_SECTION,
    schema,
    validated_frame,
)
from tests.stages.stage_runner import run_stage as run_stage_process
from tests.stages.test_drift import SECTION as DRIFT_SECTION
from tests.stages.test_evaluate import SECTION as EVALUATE_SECTION
from tests.stages.test_ingest import SECTION as INGEST_SECTION
from tests.stages.test_modelio import fitted


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every stage's inputs, tiny, made in process (no stage runs to build them)."""
    root = tmp_path_factory.mktemp("inputs")
    (root / "raw.csv").write_text("25, Private, <=50K\n38, State-gov, >50K\n", encoding="utf-8")
    train = validated_frame(120, seed=1)
    train.to_parquet(root / "valid.parquet")
    validated_frame(60, seed=2, with_target=False).to_parquet(root / "current.parquet")
    featurizer = fit_featurizer(train, schema(), FEATURIZE_PARAMS)
    transform(featurizer, train, schema()).to_parquet(root / "features.parquet")
    save_model(featurizer, root / "featurizer.skops")
    save_model(fitted(LOGREG_PARAMS), root / "model.skops")
    return root


def _cases(inputs: Path) -> dict[str, tuple[list[str], dict[str, Any]]]:
    """Each stage's arguments (outputs relative to its working directory) and params."""
    raw, valid, current = (
        inputs / name for name in ("raw.csv", "valid.parquet", "current.parquet")
    )
    features, featurizer, model = (
        inputs / name for name in ("features.parquet", "featurizer.skops", "model.skops")
    )
    sources = {"train_source": str(raw), "test_source": str(raw), "current_source": str(raw)}
    return {
        "ingest": (
            [
                *("--train", "train.parquet", "--test", "test.parquet"),
                *("--current", "cur.parquet", "--labelled", "labelled"),
            ],
            {"ingest": {**INGEST_SECTION, **sources}},
        ),
        "validate": (
            f"--inputs {valid} {valid} {valid} --outputs v1.parquet v2.parquet v3.parquet "
            "--quarantine q --report report.json".split(),
            {"schema": SCHEMA_PARAMS, "validate": VALIDATE_PARAMS},
        ),
        "featurize": (
            f"--inputs {valid} {valid} {current} --outputs f1.parquet f2.parquet f3.parquet "
            "--featurizer featurizer.skops".split(),
            {"schema": SCHEMA_SECTION, "featurize": FEATURIZE_SECTION},
        ),
        "train": (
            f"--features {features} --featurizer {featurizer} --model model.skops".split(),
            {"schema": SCHEMA_SECTION, "train": LOGREG_SECTION},
        ),
        "evaluate": (
            f"--model {model} --test {valid} --metrics metrics.json --inference inference.json "
            "--plots plots".split(),
            {"schema": SCHEMA_SECTION, "evaluate": EVALUATE_SECTION},
        ),
        "drift": (
            f"--reference {valid} --current {current} --metrics drift.json".split(),
            {"schema": SCHEMA_SECTION, "drift": DRIFT_SECTION},
        ),
    }


# (stage, the output that lands on the full disk, what kind of write that is); outputs a
# stage deletes before it runs are marked: a symlink there would be replaced (full_disk)
FULL = [
    ("ingest", "test.parquet", "parquet (with its source metadata)"),
    ("validate", "report.json", "json"),
    ("validate", "v2.parquet", "parquet"),
    ("featurize", "f1.parquet", "parquet"),
    ("featurize", "featurizer.skops", "skops model"),
    ("train", "model.skops", "skops model"),
    ("evaluate", "metrics.json", "json"),
    ("evaluate", "plots/roc.json", "plot"),
    ("evaluate", "inference.json", "json"),
    ("drift", "drift.json", "json"),
]
REMOVED_FIRST = {
    ("ingest", "test.parquet"),
    ("validate", "report.json"),
    ("validate", "v2.parquet"),
}


@pytest.mark.parametrize(("stage", "output", "kind"), FULL, ids=[f"{s}-{o}" for s, o, _ in FULL])
def test_a_full_disk_is_one_line_naming_the_file(
    inputs: Path,
    tmp_path: Path,
    full_disk: Callable[..., Path],
    stage: str,
    output: str,
    kind: str,
) -> None:
    args, params = _cases(inputs)[stage]
    full = full_disk(tmp_path / output, replaced=(stage, output) in REMOVED_FIRST)
    named = output if full == tmp_path / output else str(full)
    if named != output:
        args = [named if arg == output else arg for arg in args]
    done = run_stage_process(stage, args, tmp_path, params)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"{stage}: error: No space left on device: {named}"
    ), kind


def test_a_full_disk_no_write_names_is_still_one_line(monkeypatch, capsys) -> None:
    """ENOSPC from a write no `writing` block wraps (a library's temporary file)."""
    import gc
    import warnings

    monkeypatch.setattr(sys, "argv", ["stage"])
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    monkeypatch.setattr(gc, "freeze", lambda: None)

    def full(argv):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def full_named(argv):
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT), "/tmp/joblib/x.mmap")

    for main, line in [
        (full, "t: error: No space left on device"),
        (full_named, "t: error: No space left on device: /tmp/joblib/x.mmap"),
    ]:
        with pytest.raises(SystemExit) as exited:
            run_stage("t", main)
        assert exited.value.code == 1
        assert capsys.readouterr().err.strip() == line

    def other(argv):
        raise OSError(errno.EIO, "I/O error")

    with pytest.raises(OSError, match="I/O error"):  # not a full disk: a bug, traceback kept
        run_stage("t", other)


def test_removing_outputs_never_deletes_a_device(tmp_path: Path, full_disk) -> None:
    """A failed stage removes its outputs; /dev/null or /dev/full named as one stays."""
    device = full_disk(tmp_path / "device")
    linked = tmp_path / "linked"
    target = tmp_path / "target.json"
    target.write_text("{}")
    linked.symlink_to(target)
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.json").write_text("{}")
    remove_outputs([device, linked, folder, tmp_path / "missing"])
    if os.geteuid() != 0:  # /dev/full itself, which this user could not delete anyway
        remove_outputs([Path("/dev/full")])
    assert not linked.is_symlink() and target.exists()  # the link goes, not what it names
    assert not folder.exists()
    if device.is_symlink():  # not root: a link to /dev/full, which is removed like any link
        assert not device.exists() and Path("/dev/full").exists()
    else:
        assert stat.S_ISCHR(device.stat().st_mode)
