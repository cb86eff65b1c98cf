"""Gate parsing and the pure gate arithmetic, at every boundary."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlgate.errors import ConfigError
from mlgate.gates import (
    MISSING,
    Gates,
    Rule,
    evaluate,
    fmt,
    gates_from_document,
    parse_gates,
    policy_changes,
    verdict,
)


def rule(**kwargs: Any) -> Rule:
    return Rule(**{"metric": "m", "direction": "higher", **kwargs})


# --- absolute bounds -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "passed"), [(0.92, True), (0.9200000001, True), (0.9199, False), (1.0, True)]
)
def test_min_is_inclusive(value: float, passed: bool) -> None:
    assert evaluate(rule(min=0.92), value).passed is passed


@pytest.mark.parametrize(("value", "passed"), [(0.10, True), (0.1001, False), (0.0, True)])
def test_max_is_inclusive(value: float, passed: bool) -> None:
    assert evaluate(rule(direction="lower", max=0.10), value).passed is passed


# --- change bounds -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "baseline", "value", "passed"),
    [
        ("higher", 0.93, 0.925, True),  # exactly max_regression worse (float noise ignored)
        ("higher", 0.93, 0.9249, False),
        ("higher", 0.93, 0.99, True),
        ("lower", 0.10, 0.105, True),  # lower is better: worse means higher
        ("lower", 0.10, 0.1051, False),
        ("lower", 0.10, 0.01, True),
    ],
)
def test_max_regression_follows_direction(
    direction: str, baseline: float, value: float, passed: bool
) -> None:
    result = evaluate(rule(direction=direction, max_regression=0.005), value, baseline)
    assert result.passed is passed
    assert result.baseline == baseline


def test_negative_max_regression_requires_an_improvement() -> None:
    demand = rule(max_regression=-0.01)
    assert evaluate(demand, 0.94, 0.93).passed is True  # improved by exactly 0.01
    short = evaluate(demand, 0.935, 0.93)  # improved, but not enough
    assert short.passed is False
    assert short.reason == "change +0.005 vs baseline 0.93 short of required +0.01"
    assert evaluate(demand, 0.93, 0.93).passed is False


def test_max_regression_pct_is_relative_to_the_baseline() -> None:
    latency = rule(direction="lower", max_regression_pct=10)
    assert evaluate(latency, 11.0, 10.0).passed is True  # +10 % exactly
    assert evaluate(latency, 11.01, 10.0).passed is False
    assert evaluate(latency, 9.0, 10.0).passed is True


def test_stricter_of_absolute_and_relative_regression_wins() -> None:
    both = rule(max_regression=0.05, max_regression_pct=1)  # 1 % of 0.9 = 0.009
    assert evaluate(both, 0.891, 0.9).passed is True
    assert evaluate(both, 0.89, 0.9).passed is False


# --- values that cannot be judged ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "word"),
    [
        (MISSING, "missing"),
        (math.nan, "NaN"),
        (math.inf, "infinite"),
        (-math.inf, "infinite"),
        ("0.95", "not a number"),
        (True, "not a number"),
        (None, "not a number"),
        # JSON and YAML read a 400-digit number as an exact int, beyond every float
        pytest.param(10**400, "too large for a float (401 digits)", id="huge-int"),
        pytest.param(-(10**400), "too large for a float (401 digits)", id="huge-negative-int"),
    ],
)
def test_unjudgeable_value_fails_even_without_bounds_hit(value: Any, word: str) -> None:
    result = evaluate(rule(max=1e9), value)
    assert result.passed is False
    assert result.value is None
    assert word in result.reason


def test_unjudgeable_value_of_warn_rule_is_a_warning_not_a_failure() -> None:
    result = evaluate(rule(max=1, severity="warn"), math.nan)
    assert result.passed is False and result.failed is False
    assert verdict([result]) is True


@pytest.mark.parametrize("baseline", [MISSING, math.nan, "x", pytest.param(10**400, id="huge-int")])
def test_baseline_without_a_usable_value_fails_the_change_bound(baseline: Any) -> None:
    result = evaluate(rule(max_regression=0.01), 0.9, baseline, baseline_where="v1 (abc)")
    assert result.passed is False and result.skipped is False
    assert "baseline value" in result.reason and "v1 (abc)" in result.reason


def test_huge_baseline_does_not_overflow_the_percentage_allowance() -> None:
    # 1e307 * 50 overflows to inf; an infinite allowance would pass any value.
    result = evaluate(rule(max_regression_pct=50), 0.0, 1e307)
    assert result.passed is False
    assert evaluate(rule(max_regression_pct=50), 5e306, 1e307).passed is True


def test_no_baseline_skips_change_bound_but_keeps_absolute_bound() -> None:
    only_change = evaluate(rule(max_regression=0.01), 0.9, MISSING, "no release yet")
    assert only_change.skipped is True and only_change.passed is True
    assert "no release yet" in only_change.reason
    both = evaluate(rule(min=0.95, max_regression=0.01), 0.9, MISSING, "no release yet")
    assert both.passed is False and both.skipped is False
    assert "0.9 < min 0.95" in both.reason


def test_verdict_ignores_warn_and_skipped() -> None:
    fail = evaluate(rule(min=1), 0.5)
    warn = evaluate(rule(min=1, severity="warn"), 0.5)
    skip = evaluate(rule(max_regression=0), 0.5, MISSING, "none")
    assert verdict([warn, skip]) is True
    assert verdict([warn, skip, fail]) is False


# --- properties ----------------------------------------------------------------------------

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
tolerance = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)


@given(
    value=finite,
    baseline=finite,
    low=st.none() | finite,
    high=st.none() | finite,
    reg=st.none() | tolerance,
    pct=st.none() | st.floats(min_value=-100, max_value=100),
)
def test_direction_symmetry(
    value: float,
    baseline: float,
    low: float | None,
    high: float | None,
    reg: float | None,
    pct: float | None,
) -> None:
    """Judging x with 'higher' equals judging -x with 'lower' and the bounds mirrored."""
    higher = Rule("m", "higher", min=low, max=high, max_regression=reg, max_regression_pct=pct)
    lower = Rule(
        "m",
        "lower",
        min=None if high is None else -high,
        max=None if low is None else -low,
        max_regression=reg,
        max_regression_pct=pct,
    )
    assert evaluate(higher, value, baseline).passed == evaluate(lower, -value, -baseline).passed


@given(bound=finite)
def test_bounds_are_inclusive_everywhere(bound: float) -> None:
    assert evaluate(rule(min=bound), bound).passed
    assert evaluate(rule(max=bound), bound).passed
    assert evaluate(rule(min=bound, max=bound), bound).passed


@given(baseline=finite, reg=tolerance)
def test_regression_exactly_at_tolerance_passes(baseline: float, reg: float) -> None:
    assert evaluate(rule(max_regression=reg), baseline - reg, baseline).passed
    assert evaluate(rule(direction="lower", max_regression=reg), baseline + reg, baseline).passed


@given(baseline=finite, reg=st.floats(min_value=0, max_value=1e3), worse=st.floats(1e-2, 1e3))
def test_regression_beyond_tolerance_fails(baseline: float, reg: float, worse: float) -> None:
    assert not evaluate(rule(max_regression=reg), baseline - reg - worse, baseline).passed


@given(value=finite, baseline=finite)
def test_improvement_never_fails_a_non_negative_tolerance(value: float, baseline: float) -> None:
    better = max(value, baseline)
    assert evaluate(rule(max_regression=0), better, baseline).passed


# --- parsing -------------------------------------------------------------------------------

GOOD = {
    "baseline": "latest-release",
    "rules": [
        {"metric": "roc_auc", "direction": "higher", "min": 0.92, "max_regression": 0.005},
        {"metric": "latency.p95_ms", "direction": "lower", "max": 10, "severity": "warn"},
    ],
}


def test_parse_gates_reads_every_field() -> None:
    gates = parse_gates(GOOD, "params.yaml")
    assert gates == Gates(
        (
            Rule("roc_auc", "higher", min=0.92, max_regression=0.005),
            Rule("latency.p95_ms", "lower", max=10.0, severity="warn"),
        ),
        "latest-release",
        source="params.yaml",
    )
    assert gates.main == "roc_auc"


def test_parse_does_not_mutate_input() -> None:
    raw = {"rules": [{"metric": " a ", "direction": "higher", "min": 1}]}
    parse_gates(raw, "f")
    assert raw == {"rules": [{"metric": " a ", "direction": "higher", "min": 1}]}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([1], "params.yaml: gates: expected a mapping with 'rules', got list"),
        ({"rules": [], "baselin": "x"}, "unknown key 'baselin'"),
        ({"rules": []}, "gates.rules: expected a non-empty list"),
        ({"rules": "roc_auc"}, "gates.rules: expected a non-empty list"),
        ({"baseline": 3, "rules": [{}]}, "gates.baseline: expected latest-release, none, stage:"),
        ({"rules": ["roc_auc"]}, "gates.rules[0]: expected a mapping"),
        ({"rules": [{"direction": "higher", "min": 1}]}, "gates.rules[0].metric: expected"),
        ({"rules": [{"metric": "a", "min": 1}]}, "rules[0] (a): 'direction' is required"),
        (
            {"rules": [{"metric": "a", "direction": "up", "min": 1}]},
            "rules[0] (a).direction: expected higher or lower, got 'up'",
        ),
        (
            {"rules": [{"metric": "a", "direction": "lower", "min": "0.1"}]},
            "rules[0] (a).min: expected a number, got '0.1'",
        ),
        (
            {"rules": [{"metric": "a", "direction": "lower", "max": True}]},
            "rules[0] (a).max: expected a number, got True",
        ),
        (
            {"rules": [{"metric": "a", "direction": "lower", "max": float("nan")}]},
            "expected a finite number",
        ),
        (
            {"rules": [{"metric": "a", "direction": "lower", "max": -(10**400)}]},
            "rules[0] (a).max: expected a finite number, got an integer too large for a float "
            "(401 digits)",
        ),
        (
            {"rules": [{"metric": "a", "direction": "lower", "max_regression": float("inf")}]},
            "rules[0] (a).max_regression: expected a finite number, got inf",
        ),
        (
            {"rules": [{"metric": "a", "direction": "lower", "max": 1, "severity": "error"}]},
            "rules[0] (a).severity: expected fail or warn, got 'error'",
        ),
        (
            {"rules": [{"metric": "a", "direction": "lower", "maximum": 1}]},
            "rules[0]: unknown key 'maximum'",
        ),
        ({"rules": [{"metric": "a", "direction": "lower"}]}, "rules[0] (a): declares no bound"),
        (
            {"rules": [{"metric": "a", "direction": "higher", "min": 2, "max": 1}]},
            "rules[0] (a): contradictory bounds, min 2 > max 1",
        ),
    ],
)
def test_bad_gates_are_config_errors_naming_file_and_key(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        parse_gates(raw, "params.yaml")
    assert message in str(excinfo.value)
    assert str(excinfo.value).startswith("params.yaml: gates")


def test_fmt_renders_non_finite_numbers() -> None:
    assert [fmt(v) for v in (math.inf, -math.inf, math.nan, None, 2.0)] == [
        "inf",
        "-inf",
        "nan",
        "–",
        "2",
    ]


def test_document_without_gates_section() -> None:
    with pytest.raises(ConfigError, match="g.yaml: no 'gates:' section"):
        gates_from_document({"train": {}}, "g.yaml")


# --- policy changes ------------------------------------------------------------------------


def test_policy_changes_flag_every_loosening() -> None:
    old = parse_gates(
        {
            "rules": [
                {"metric": "a", "direction": "higher", "min": 0.9, "max_regression": 0.01},
                {"metric": "b", "direction": "lower", "max": 0.1},
                {"metric": "c", "direction": "lower", "max": 5},
                {"metric": "gone", "direction": "lower", "max": 5},
            ]
        },
        "p",
    )
    new = parse_gates(
        {
            "baseline": "none",
            "artifact": "other-model",  # judged against another artifact's releases
            "rules": [
                {"metric": "a", "direction": "higher", "min": 0.85, "max_regression": 0.005},
                {"metric": "b", "direction": "lower", "max": 0.1, "severity": "warn"},
                {"metric": "c", "direction": "lower", "max": 4},
                {"metric": "new", "direction": "higher", "min": 1},
            ],
        },
        "p",
    )
    changes = {(c.metric, c.field): c.loosened for c in policy_changes(old, new)}
    assert changes == {
        ("", "baseline"): True,
        ("", "artifact"): True,
        ("a", "min"): True,
        ("a", "max_regression"): False,
        ("b", "severity"): True,
        ("c", "max"): False,
        ("new", "rule"): False,
        ("gone", "rule"): True,
    }


def test_policy_unchanged_and_removed_entirely() -> None:
    gates = parse_gates(GOOD, "p")
    assert policy_changes(gates, gates) == []
    assert all(change.loosened for change in policy_changes(gates, None))
    assert not any(change.loosened for change in policy_changes(None, gates))


bound = st.none() | st.floats(min_value=-10, max_value=10, allow_nan=False)


@given(
    low=bound,
    high=bound,
    reg=bound,
    pct=bound,
    d_low=st.floats(0, 5),
    d_high=st.floats(0, 5),
    d_reg=st.floats(0, 5),
    d_pct=st.floats(0, 5),
)
def test_tightening_is_never_flagged_and_its_reverse_always_is(
    low: float | None,
    high: float | None,
    reg: float | None,
    pct: float | None,
    d_low: float,
    d_high: float,
    d_reg: float,
    d_pct: float,
) -> None:
    """Raising min, lowering max or a tolerance never loosens; undoing it always does."""
    loose = Rule("m", "higher", min=low, max=high, max_regression=reg, max_regression_pct=pct)
    strict = Rule(
        "m",
        "higher",
        min=None if low is None else low + d_low,
        max=None if high is None else high - d_high,
        max_regression=None if reg is None else reg - d_reg,
        max_regression_pct=None if pct is None else pct - d_pct,
    )
    tighten = policy_changes(Gates((loose,)), Gates((strict,)))
    assert not any(change.loosened for change in tighten)
    loosen = policy_changes(Gates((strict,)), Gates((loose,)))
    assert all(change.loosened for change in loosen)
    assert len(loosen) == len(tighten)


def test_describe_rules() -> None:
    assert rule(min=0.92, max_regression=0.005).describe() == "↑ ≥ 0.92, Δ within -0.005"
    assert rule(direction="lower", max=10, severity="warn").describe() == "↓ ≤ 10 (warn)"
    assert rule(direction="lower", max_regression_pct=5).describe() == "↓ Δ within +5%"
    assert rule(max_regression=-0.01).describe() == "↑ improve ≥ 0.01"


@pytest.mark.parametrize(
    ("text", "value"),
    [("5e-3", 0.005), ("1e-5", 1e-5), ("1.5e3", 1500.0), (".5e+3", 500.0), ("-2e+2", -200.0)],
)
def test_exponent_floats_in_yaml_are_numbers_as_dvc_reads_them(text: str, value: float) -> None:
    # YAML 1.1 (PyYAML) reads these as strings; YAML 1.2 (DVC's ruamel) as floats.
    from mlgate.loaders import parse_yaml

    assert parse_yaml(f"max_regression: {text}\n", "params.yaml") == {"max_regression": value}
    assert parse_yaml(f"quoted: '{text}'\nhex: 12e4f\n", "x") == {"quoted": text, "hex": "12e4f"}


def test_a_failing_reason_never_shows_the_value_and_the_bound_alike() -> None:
    """Rounded to 6 digits, 0.9199996 and 0.92 would read "0.92 < min 0.92"."""
    assert evaluate(rule(min=0.92), 0.9199996).reason == "0.9199996 < min 0.92"
    low = rule(direction="lower", max=123456789.2)
    assert evaluate(low, 123456789.4).reason == "123456789.4 > max 123456789.2"
    assert evaluate(rule(min=0.92), 0.95).reason == "0.95 ≥ min 0.92"  # passing: as before
    near = evaluate(rule(max_regression=0.005), 0.9249999, 0.93).reason
    assert near == "change -0.0050001 vs baseline 0.93 beyond allowed -0.005"
