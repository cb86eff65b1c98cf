"""stages.adopt's gates from a first run's metrics, on small in-memory metrics."""

from __future__ import annotations

from typing import Any

import pytest

from stages.adopt import adopted_gates, measured_metrics
from stages.common import StageError

METRICS = {
    "metrics/metrics.json": {
        "roc_auc": 0.9512,
        "accuracy": 0.9,
        "fairness.sex.equalized_odds_difference": 0.0675,
    },
    "metrics/inference.json": {"latency.p95_ms": 12.5},
}
ADULT_GATES: dict[str, Any] = {
    "baseline": "latest-release",
    "rules": [
        {"metric": "roc_auc", "direction": "higher", "min": 0.92, "max_regression": 0.005},
        {"metric": "fairness.race.equalized_odds_difference", "direction": "lower", "max": 0.2},
        {"metric": "latency.p95_ms", "direction": "lower", "max": 50, "severity": "warn"},
    ],
}


def test_gates_a_margin_short_of_the_measured_metrics() -> None:
    section, lines = adopted_gates(METRICS, ["sex"], ADULT_GATES, 0.02)
    assert section == {
        "baseline": "latest-release",
        "rules": [
            {"metric": "roc_auc", "direction": "higher", "min": 0.931},  # 0.9312, floored
            {"metric": "accuracy", "direction": "higher", "min": 0.88},
            {
                "metric": "fairness.sex.equalized_odds_difference",
                "direction": "lower",
                "max": 0.088,
            },
            {"metric": "latency.p95_ms", "direction": "lower", "max": 50, "severity": "warn"},
        ],
    }
    assert lines == [
        "set  roc_auc >= 0.931 (measured 0.9512, margin 0.02)",
        "set  accuracy >= 0.88 (measured 0.9, margin 0.02)",
        "set  fairness.sex.equalized_odds_difference <= 0.088 (measured 0.0675, margin 0.02)",
        "drop fairness.race.equalized_odds_difference (not in the new metrics)",
        "kept latency.p95_ms (its rule unchanged)",
    ]


def test_bounds_stay_within_0_and_1_and_a_fresh_project_gets_a_baseline() -> None:
    metrics = {"m.json": {"roc_auc": 0.01, "fairness.g.equalized_odds_difference": 0.99}}
    section, _ = adopted_gates(metrics, ["g"], None, 0.05)
    assert section["baseline"] == "latest-release"
    assert [rule.get("min", rule.get("max")) for rule in section["rules"]] == [0.0, 1.0]


@pytest.mark.parametrize(
    ("metrics", "gates", "margin", "message"),
    [
        ({}, None, 0.02, r"no roc_auc, accuracy in the metrics .*did the pipeline run"),
        (METRICS, None, -0.01, r"--margin must be >= 0"),
        (METRICS, ["roc_auc"], 0.02, r"'gates' must be a mapping, got list"),
    ],
)
def test_errors(metrics: Any, gates: Any, margin: float, message: str) -> None:
    with pytest.raises(StageError, match=message):
        adopted_gates(metrics, [], gates, margin)


def test_reads_dvc_metrics_show_json() -> None:
    shown = {"": {"data": {"metrics/m.json": {"data": {"roc_auc": 0.9, "latency": {"p95": 3}}}}}}
    assert measured_metrics(shown) == {"metrics/m.json": {"roc_auc": 0.9, "latency.p95": 3}}
