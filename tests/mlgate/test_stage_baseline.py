"""``baseline: stage:<name>`` (the release a registry stage holds) and a rule's
``baseline_metric`` (the baseline's metric a change bound compares with): how a monitoring
batch's estimated AUC is held to the production model's test AUC."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlgate.errors import ConfigError, MlgateError
from mlgate.gates import parse_gates, policy_changes
from tests.mlgate.registry_repo import ARTIFACT, Published, metrics_with, published

__all__ = ["published"]

MONITOR_DVC_YAML = {
    "stages": {
        "monitor": {
            "cmd": "cp batch.json metrics.json",
            "deps": ["batch.json"],
            "metrics": [{"metrics.json": {"cache": False}}],
        }
    }
}


def gates_file(**rule: Any) -> dict[str, Any]:
    return {
        "gates": {
            "baseline": "stage:prod",
            "rules": [
                {
                    "metric": "estimated.roc_auc",
                    "direction": "higher",
                    "max_regression": 0.03,
                    "baseline_metric": "roc_auc",
                    **rule,
                }
            ],
        }
    }


def with_batch(p: Published, estimated_auc: float, gates: dict[str, Any] | None = None) -> None:
    """A nested monitoring pipeline whose metrics file holds ``estimated.roc_auc``."""
    p.repo.write("monitoring/dvc.yaml", MONITOR_DVC_YAML)
    p.repo.write("monitoring/batch.json", {"estimated": {"roc_auc": estimated_auc}})
    p.repo.write("monitoring/gates.yaml", gates or gates_file())
    p.repo.dvc("repro", "-q", "monitoring/dvc.yaml")


def promote_to_prod(p: Published, version: str) -> None:
    for stage in ("dev", "staging", "prod"):
        result = p.mlgate("promote", version, stage)
        assert result.exit_code == 0, result.output


@pytest.fixture
def in_prod(published: Published) -> Published:
    assert published.mlgate("release").exit_code == 0  # v0.0.1, roc_auc 0.93
    promote_to_prod(published, "v0.0.1")
    return published


def check(p: Published, *extra: str) -> tuple[int, dict[str, Any] | str]:
    result = p.mlgate("check", "--gates", "monitoring/gates.yaml", "--format", "json", *extra)
    if result.exit_code == 2:
        return 2, result.stderr
    return result.exit_code, json.loads(result.stdout)


def test_estimated_auc_is_held_to_prods_test_auc_minus_a_margin(in_prod: Published) -> None:
    for estimated, passed in ((0.905, True), (0.9, True), (0.899, False)):
        with_batch(in_prod, estimated)
        code, out = check(in_prod)
        assert isinstance(out, dict), out
        assert code == (0 if passed else 1)
        assert out["baseline"]["ref"] == f"{ARTIFACT}@v0.0.1"
        [rule] = out["rules"]
        assert (rule["value"], rule["baseline"], rule["passed"]) == (estimated, 0.93, passed)


def test_the_stage_baseline_follows_the_holder_not_the_latest_release(
    in_prod: Published,
) -> None:
    # v0.0.2 is released with a higher AUC but not promoted: prod is still v0.0.1
    in_prod.repo.set_metrics(metrics_with(roc_auc=0.99))
    in_prod.repo.repro()
    in_prod.repo.commit("better model")
    in_prod.push()
    assert in_prod.mlgate("release").exit_code == 0
    with_batch(in_prod, 0.91)
    code, out = check(in_prod)
    assert code == 0 and isinstance(out, dict)
    assert out["baseline"]["ref"] == f"{ARTIFACT}@v0.0.1"
    promote_to_prod(in_prod, "v0.0.2")
    code, out = check(in_prod)
    assert code == 1 and isinstance(out, dict)
    assert out["baseline"]["ref"] == f"{ARTIFACT}@v0.0.2"
    assert out["rules"][0]["baseline"] == 0.99


def test_no_version_in_the_stage_is_one_line_and_exit_2(published: Published) -> None:
    assert published.mlgate("release").exit_code == 0
    with_batch(published, 0.92)
    code, err = check(published)
    assert code == 2 and isinstance(err, str)
    assert err.strip().splitlines() == [
        f"mlgate: error: monitoring/gates.yaml: gates.baseline 'stage:prod': no version of "
        f"'{ARTIFACT}' holds stage 'prod'"
    ]


def test_a_baseline_metric_the_release_lacks_fails_the_rule(in_prod: Published) -> None:
    with_batch(in_prod, 0.92, gates_file(baseline_metric="pr_auc"))
    code, out = check(in_prod)
    assert code == 1 and isinstance(out, dict)
    assert "baseline value missing" in out["rules"][0]["reason"]


def test_the_command_line_may_name_a_stage_baseline(in_prod: Published) -> None:
    with_batch(in_prod, 0.95, {"gates": {"baseline": "none", **gates_file()["gates"]}})
    code, out = check(in_prod, "--baseline", "stage:prod")
    assert code == 0 and isinstance(out, dict)
    assert out["rules"][0]["baseline"] == 0.93


# --- the gate format -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (
            {"baseline": "stage:", "rules": [{"metric": "a", "direction": "higher", "min": 0}]},
            "gates.baseline: expected latest-release, none, stage:<name>",
        ),
        (
            {"rules": [{"metric": "a", "direction": "higher", "min": 0, "baseline_metric": ""}]},
            "gates.rules[0] (a).baseline_metric: expected a metric name",
        ),
        (
            {"rules": [{"metric": "a", "direction": "higher", "min": 0, "baseline_metric": "b"}]},
            "baseline_metric: only a change bound",
        ),
    ],
)
def test_bad_stage_baselines_and_baseline_metrics_name_the_key(
    raw: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError, match="^g.yaml: ") as caught:
        parse_gates(raw, "g.yaml")
    assert problem in str(caught.value)


def test_a_new_or_changed_baseline_metric_is_flagged_for_review() -> None:
    def gates(**extra: Any) -> Any:
        rule = {"metric": "a", "direction": "higher", "max_regression": 0.01, **extra}
        return parse_gates({"rules": [rule]}, "g.yaml")

    [change] = policy_changes(gates(), gates(baseline_metric="b"))
    assert (change.field, change.new, change.loosened) == ("baseline_metric", "b", True)
    assert gates(baseline_metric="b").rules[0].describe() == "↑ Δ within -0.01, vs baseline b"


def test_stage_baselines_need_a_stage_gto_accepts(in_prod: Published, tmp_path: Path) -> None:
    with_batch(in_prod, 0.92, {"gates": {**gates_file()["gates"], "baseline": "stage:-x"}})
    code, err = check(in_prod)
    assert code == 2 and "'-x' is not a stage name GTO accepts" in str(err)


# --- the shipped monitoring gate, and the frozen stage that feeds it ---------------------------

GATES = Path(__file__).resolve().parents[2] / "monitoring" / "gates.yaml"


def batch_metrics(estimated_auc: float, realized_auc: float | None) -> dict[str, Any]:
    labelled = realized_auc is not None
    return {
        "quality": {"quarantine_share": 0.01},
        "drift": {"share_drifted": 0.0},
        "prediction_drift": {"psi": 0.02},
        "estimated": {"roc_auc": estimated_auc, "accuracy": 0.86},
        "realized": {
            "roc_auc": realized_auc,
            "accuracy": 0.86 if labelled else None,
            "labelled_share": 0.5 if labelled else 0.0,
        },
    }


def test_the_monitoring_gate_warns_without_labels_and_fails_on_the_estimate(
    in_prod: Published,
) -> None:
    gates = yaml.safe_load(GATES.read_text(encoding="utf-8"))
    # no labels yet: realized.* are null, their rules warn, the check passes
    with_batch(in_prod, 0.92, gates)
    in_prod.repo.write("monitoring/batch.json", batch_metrics(0.92, None))
    in_prod.repo.dvc("repro", "-q", "monitoring/dvc.yaml")
    code, out = check(in_prod)
    assert code == 0 and isinstance(out, dict), out
    by_metric = {rule["metric"]: rule for rule in out["rules"]}
    realized = by_metric["realized.roc_auc"]
    assert (realized["passed"], realized["severity"]) == (False, "warn")
    assert "not a number (None)" in realized["reason"]
    # labels arrive and show a concept change: a warning the report shows, estimate still fine
    in_prod.repo.write("monitoring/batch.json", batch_metrics(0.92, 0.8))
    in_prod.repo.dvc("repro", "-q", "monitoring/dvc.yaml")
    code, out = check(in_prod)
    assert code == 0 and isinstance(out, dict)
    assert (
        "beyond allowed -0.03"
        in {r["metric"]: r for r in out["rules"]}["realized.roc_auc"]["reason"]
    )
    # the estimate falls more than 0.03 below prod's test AUC (0.93): the gate fails
    in_prod.repo.write("monitoring/batch.json", batch_metrics(0.89, None))
    in_prod.repo.dvc("repro", "-q", "monitoring/dvc.yaml")
    code, out = check(in_prod)
    assert code == 1 and isinstance(out, dict)
    failed = [r["metric"] for r in out["rules"] if not r["passed"] and r["severity"] == "fail"]
    assert failed == ["estimated.roc_auc"]


def test_run_frozen_runs_a_frozen_stage_and_records_it(in_prod: Published) -> None:
    from mlgate import dvcadapter

    frozen = {"stages": {"monitor": {**MONITOR_DVC_YAML["stages"]["monitor"], "frozen": True}}}
    in_prod.repo.write("monitoring/dvc.yaml", frozen)
    in_prod.repo.write("monitoring/batch.json", {"estimated": {"roc_auc": 0.95}})
    in_prod.repo.write("monitoring/gates.yaml", gates_file())
    dvcadapter.run_frozen(in_prod.root, "monitoring/dvc.yaml:monitor")
    assert json.loads(in_prod.repo.read("monitoring/metrics.json"))["estimated"]["roc_auc"] == 0.95
    assert "metrics.json" in in_prod.repo.read("monitoring/dvc.lock")
    assert "frozen: true" in in_prod.repo.read("monitoring/dvc.yaml")
    assert dvcadapter.stale_stages(in_prod.root) == {}  # dvc status: nothing to rebuild
    code, out = check(in_prod)  # and its metrics are the pipeline's own: the gate reads them
    assert code == 0 and isinstance(out, dict), out
    with pytest.raises(MlgateError, match="stage 'train' is not frozen"):
        dvcadapter.run_frozen(in_prod.root, "train")
