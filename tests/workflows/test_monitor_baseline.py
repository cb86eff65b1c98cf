"""scripts/monitor_baseline.py: the labelled-batch gate compares with the release that scored
the batch, not with whichever release prod holds when the labels arrive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts import monitor_baseline
from tests.mlgate.conftest import _template_repo, scratch_repo
from tests.mlgate.registry_repo import ARTIFACT, Published, published
from tests.stages.test_released import released

__all__ = ["_template_repo", "published", "released", "scratch_repo"]


def judged(root: Path, version: object) -> Path:
    path = root / "monitoring" / "metrics.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"batch": "2026-11", "model_version": version}))
    return path


def test_the_release_that_scored_the_batch_even_when_prod_holds_another(
    released: Published,
) -> None:
    root = released.root  # prod holds v0.0.1; v0.0.2 scored this batch
    assert monitor_baseline.scored_by(judged(root, "v0.0.2"), root) == f"{ARTIFACT}@v0.0.2"
    assert monitor_baseline.scored_by(judged(root, "v0.0.1"), root) == f"{ARTIFACT}@v0.0.1"
    # no batch judged yet (the committed placeholder): the gates' own baseline applies
    assert monitor_baseline.scored_by(judged(root, None), root) is None


def test_the_command_prints_the_tag_or_nothing_with_a_warning(
    released: Published, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(released.root)
    judged(released.root, "v0.0.2")
    assert monitor_baseline.main([]) == 0
    assert capsys.readouterr().out == f"{ARTIFACT}@v0.0.2\n"
    judged(released.root, "v9.9.9")  # deregistered or never released: prod's figures
    assert monitor_baseline.main([]) == 0
    out, err = capsys.readouterr()
    assert out == "" and f"{ARTIFACT} has no release v9.9.9" in err and "::warning::" in err
    (released.root / "monitoring" / "metrics.json").write_text("{not json")
    assert monitor_baseline.main([]) == 2
    assert "malformed JSON" in capsys.readouterr().err


def test_the_labelled_gate_judges_against_that_release(
    released: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mlgate check --baseline <tag>` as the Makefile passes it: v0.0.2's test AUC (0.95)
    is the yardstick, not prod's v0.0.1 (0.93)."""
    repo = released.repo
    gates = {
        "baseline": "stage:prod",
        "rules": [
            {
                "metric": "realized.roc_auc",
                "direction": "higher",
                "max_regression": 0.03,
                "baseline_metric": "roc_auc",
            }
        ],
    }
    repo.write("labelled-gates.yaml", {"gates": gates})
    repo.write("inputs/metrics.json", {"roc_auc": 0.95, "realized": {"roc_auc": 0.91}})
    repo.repro()
    monkeypatch.chdir(released.root)
    tag = monitor_baseline.scored_by(judged(released.root, "v0.0.2"), released.root)
    against_prod = released.mlgate("check", "--gates", "labelled-gates.yaml", "--allow-stale")
    assert against_prod.exit_code == 0, against_prod.output  # 0.91 vs 0.93: within 0.03
    scored = released.mlgate(
        "check", "--gates", "labelled-gates.yaml", "--allow-stale", "--baseline", str(tag)
    )
    assert scored.exit_code == 1, scored.output  # 0.91 vs 0.95: 0.04 below
    assert f"baseline {ARTIFACT}@v0.0.2" in scored.output
