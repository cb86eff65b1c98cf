"""mlgate on this repository itself: its gates against its committed metrics, import weight."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlgate import api

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs this repository's git history")
def test_repository_gates_pass_on_committed_metrics() -> None:
    """The gates in params.yaml hold for the metrics committed at HEAD, read from git objects.

    Baseline none: release tags differ between clones; the change rule is covered by the
    scratch-repository tests.
    """
    result = api.check(ROOT, rev="HEAD", baseline="none")
    failing = [r.as_dict() for r in result.rules if r.failed]
    assert result.passed, failing
    assert {r.metric for r in result.rules} >= {"roc_auc", "accuracy"}


def test_cli_import_path_stays_light() -> None:
    """No pandas/scikit-learn (or DVC's repo machinery) on the path of `mlgate check`."""
    code = (
        "import sys; import mlgate.cli, mlgate.api, mlgate.report, mlgate.textfmt; "
        "heavy = [m for m in ('pandas', 'sklearn', 'numpy', 'dvc.repo') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def dvc_metrics_files(root: Path) -> set[str]:
    out = subprocess.run(
        [str(Path(sys.executable).with_name("dvc")), "metrics", "show", "--json"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(json.loads(out)[""].get("data", {}))


@pytest.mark.parametrize("where", ["this repository", "scratch repository"])
def test_declared_metrics_agree_with_dvc(where: str, request: pytest.FixtureRequest) -> None:
    """Our reading of dvc.yaml finds exactly the files `dvc metrics show` reads."""
    from mlgate.gitio import Snapshot
    from mlgate.metrics import metrics_files, read_dvc_yaml

    root = ROOT if where == "this repository" else request.getfixturevalue("scratch_repo").root
    snap = Snapshot(root)
    assert set(metrics_files(snap, read_dvc_yaml(snap))) == dvc_metrics_files(root)
