"""Quality gates: parsing the ``gates:`` policy and the pure arithmetic that judges a metric.

Nothing here reads files or git. ``parse_gates`` validates a mapping (from
``params.yaml`` or a ``--gates`` file) into frozen ``Gates``; ``evaluate`` judges one
rule given the metric's value at the judged revision and at the baseline;
``policy_changes`` compares two policies and flags every loosened gate.

Semantics: bounds are inclusive; ``direction`` says which way is better; the allowed
worsening against the baseline is ``max_regression`` (absolute) and/or
``max_regression_pct`` (percent of the baseline's magnitude), the stricter one wins, and a
negative value demands an improvement; a missing, NaN, infinite or non-numeric value
fails its rule. Comparisons at a bound use a relative tolerance of 1e-9 so that float
noise (0.93 - 0.005 = 0.9250000000000000444) never moves a value across it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlgate.errors import ConfigError

HIGHER, LOWER = "higher", "lower"
FAIL, WARN = "fail", "warn"
LATEST_RELEASE, NO_BASELINE = "latest-release", "none"
# ``baseline: stage:prod``: the release the registry's stage ``prod`` holds now (``mlgate.api``)
STAGE_BASELINE = "stage:"

GATES_KEYS = ("baseline", "rules", "artifact", "main_metric")
RULE_KEYS = (
    "metric",
    "direction",
    "min",
    "max",
    "max_regression",
    "max_regression_pct",
    "severity",
    "description",
    "baseline_metric",
)
BOUND_KEYS = ("min", "max", "max_regression", "max_regression_pct")

REL_TOL = 1e-9
ABS_TOL = 1e-12


@dataclass(frozen=True)
class Rule:
    metric: str
    direction: str
    min: float | None = None
    max: float | None = None
    max_regression: float | None = None
    max_regression_pct: float | None = None
    severity: str = FAIL
    description: str = ""
    # The baseline's metric a change bound compares with, when it is not ``metric`` itself:
    # a monitoring batch's ``estimated.roc_auc`` against the release's ``roc_auc``.
    baseline_metric: str | None = None

    @property
    def has_change_bound(self) -> bool:
        return self.max_regression is not None or self.max_regression_pct is not None

    @property
    def has_absolute_bound(self) -> bool:
        return self.min is not None or self.max is not None

    def describe(self) -> str:
        """The rule in a few symbols, e.g. '↑ ≥ 0.92, Δ ≥ -0.005'."""
        parts = ["↑" if self.direction == HIGHER else "↓"]
        bounds = []
        if self.min is not None:
            bounds.append(f"≥ {fmt(self.min)}")
        if self.max is not None:
            bounds.append(f"≤ {fmt(self.max)}")
        worse = "-" if self.direction == HIGHER else "+"
        for limit, unit in ((self.max_regression, ""), (self.max_regression_pct, "%")):
            if limit is None:
                continue
            if limit < 0:  # a required improvement
                bounds.append(f"improve ≥ {fmt(-limit)}{unit}")
            else:
                bounds.append(f"Δ within {worse}{fmt(limit)}{unit}")
        if self.baseline_metric is not None:
            bounds.append(f"vs baseline {self.baseline_metric}")
        text = " ".join(parts) + " " + ", ".join(bounds)
        return text + (" (warn)" if self.severity == WARN else "")


@dataclass(frozen=True)
class Gates:
    rules: tuple[Rule, ...]
    baseline: str = LATEST_RELEASE
    artifact: str | None = None
    main_metric: str | None = None
    source: str = "params.yaml"

    @property
    def main(self) -> str | None:
        """The metric charted over releases: ``main_metric`` or the first rule's metric."""
        return self.main_metric or (self.rules[0].metric if self.rules else None)


def as_number(value: Any) -> float | None:
    """A finite number, or None for anything else (missing, NaN, infinite, text, bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond every float, e.g. 400 digits in a JSON file
        return None
    return number if math.isfinite(number) else None


def fmt(number: float | None, digits: int = 6) -> str:
    """A compact, stable rendering of a number ('–' for none)."""
    if number is None:
        return "–"
    if not math.isfinite(number):  # int() refuses NaN and infinity
        return str(number)
    if number == int(number) and abs(number) < 1e15:
        return str(int(number))
    return f"{number:.{digits}g}"


def fmt_apart(first: float, second: float, digits: int = 6) -> tuple[str, str]:
    """``fmt`` of two numbers, with as many more significant digits as it takes to tell them
    apart when they differ (up to 17, which tells any two doubles apart): "0.92 < min 0.92"
    would contradict itself where "0.9199996 < min 0.92" does not."""
    pair = fmt(first, digits), fmt(second, digits)
    while pair[0] == pair[1] and first != second and digits < 17:
        digits += 1
        pair = fmt(first, digits), fmt(second, digits)
    return pair


# --- parsing -------------------------------------------------------------------------------


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, int) and too_large(value):
        raise ConfigError(
            f"{where}: expected a finite number, got an integer {describe_value(value)}"
        )
    if not math.isfinite(value):
        raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def _choice(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise ConfigError(f"{where}: expected {' or '.join(allowed)}, got {value!r}")
    return str(value)


def parse_rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping with 'metric' and 'direction'")
    unknown = [str(key) for key in raw if key not in RULE_KEYS]
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' (allowed: {', '.join(RULE_KEYS)})")
    metric = raw.get("metric")
    if not isinstance(metric, str) or not metric.strip():
        raise ConfigError(f"{where}.metric: expected a metric name, got {metric!r}")
    where = f"{where} ({metric})"
    if "direction" not in raw:
        raise ConfigError(f"{where}: 'direction' is required (higher or lower)")
    direction = _choice(raw["direction"], (HIGHER, LOWER), f"{where}.direction")
    severity = _choice(raw.get("severity", FAIL), (FAIL, WARN), f"{where}.severity")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{where}.description: expected text, got {description!r}")
    bounds = {key: _number(raw[key], f"{where}.{key}") for key in BOUND_KEYS if key in raw}
    if not bounds:
        raise ConfigError(f"{where}: declares no bound (expected one of {', '.join(BOUND_KEYS)})")
    low, high = bounds.get("min"), bounds.get("max")
    if low is not None and high is not None and low > high:
        raise ConfigError(f"{where}: contradictory bounds, min {fmt(low)} > max {fmt(high)}")
    baseline_metric = raw.get("baseline_metric")
    if baseline_metric is not None:
        if not isinstance(baseline_metric, str) or not baseline_metric.strip():
            raise ConfigError(
                f"{where}.baseline_metric: expected a metric name, got {baseline_metric!r}"
            )
        if "max_regression" not in bounds and "max_regression_pct" not in bounds:
            raise ConfigError(
                f"{where}.baseline_metric: only a change bound (max_regression or "
                "max_regression_pct) reads the baseline; add one or drop baseline_metric"
            )
        baseline_metric = baseline_metric.strip()
    return Rule(
        metric.strip(),
        direction,
        severity=severity,
        description=description,
        baseline_metric=baseline_metric,
        **bounds,
    )


def parse_gates(raw: Any, source: str) -> Gates:
    """Validate the ``gates:`` mapping; every problem names the file and the key."""
    where = f"{source}: gates"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping with 'rules', got {type(raw).__name__}")
    unknown = [str(key) for key in raw if key not in GATES_KEYS]
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' (allowed: {', '.join(GATES_KEYS)})")
    baseline = raw.get("baseline", LATEST_RELEASE)
    if (
        not isinstance(baseline, str)
        or not baseline.strip()
        or baseline.strip() == STAGE_BASELINE
        or (baseline.startswith(STAGE_BASELINE) and stage_of(baseline.strip()).strip() == "")
    ):
        raise ConfigError(
            f"{where}.baseline: expected latest-release, none, stage:<name> (the release a "
            f"registry stage holds) or a git ref, got {baseline!r}"
        )
    for key in ("artifact", "main_metric"):
        if key in raw and not isinstance(raw[key], str):
            raise ConfigError(f"{where}.{key}: expected text, got {raw[key]!r}")
    rules_raw = raw.get("rules")
    if not isinstance(rules_raw, list) or not rules_raw:
        raise ConfigError(f"{where}.rules: expected a non-empty list of rules, got {rules_raw!r}")
    rules = tuple(parse_rule(rule, f"{where}.rules[{i}]") for i, rule in enumerate(rules_raw))
    return Gates(rules, baseline.strip(), raw.get("artifact"), raw.get("main_metric"), source)


def stage_of(baseline: str) -> str:
    """The stage a ``stage:<name>`` baseline names ('' for any other baseline)."""
    return baseline[len(STAGE_BASELINE) :] if baseline.startswith(STAGE_BASELINE) else ""


def gates_from_document(document: Any, source: str) -> Gates:
    """Gates from a parsed params.yaml or gates file: its ``gates:`` section."""
    if not isinstance(document, Mapping) or "gates" not in document:
        raise ConfigError(f"{source}: no 'gates:' section (declare gates: rules: [...])")
    return parse_gates(document["gates"], source)


# --- arithmetic ----------------------------------------------------------------------------


def at_least(value: float, bound: float) -> bool:
    """``value >= bound``, inclusive, with float noise at the bound counted as equal."""
    return value >= bound or math.isclose(value, bound, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def at_most(value: float, bound: float) -> bool:
    return value <= bound or math.isclose(value, bound, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def change(direction: str, value: float, baseline: float) -> float:
    """The improvement of ``value`` over ``baseline`` (positive = better) for a direction."""
    return value - baseline if direction == HIGHER else baseline - value


def allowed_worsening(rule: Rule, baseline: float) -> float | None:
    """The largest tolerated worsening vs ``baseline`` (the stricter of abs and pct), or None."""
    limits = []
    if rule.max_regression is not None:
        limits.append(rule.max_regression)
    if rule.max_regression_pct is not None:
        # Divide first: |baseline| * pct overflows to inf for a huge baseline, and an
        # infinite allowance would pass any value.
        limits.append(abs(baseline) / 100.0 * rule.max_regression_pct)
    return min(limits) if limits else None


def regression_threshold(rule: Rule, baseline: float) -> float | None:
    """The worst acceptable value given the baseline, or None when the rule has no change bound."""
    allowed = allowed_worsening(rule, baseline)
    if allowed is None:
        return None
    return baseline - allowed if rule.direction == HIGHER else baseline + allowed


def too_large(number: int) -> bool:
    """Whether an integer is beyond every float: JSON, YAML and TOML read a 400-digit number
    as an exact ``int``, which ``float()`` and ``math.isfinite`` refuse with OverflowError."""
    try:
        float(number)
    except OverflowError:
        return True
    return False


def describe_value(value: Any) -> str | None:
    """Why a metric value cannot be judged, or None when it is a finite number."""
    if value is MISSING:
        return "missing"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"not a number ({value!r})"
    if isinstance(value, int):
        # Named by its size: the digits themselves would make a 400-character message.
        return (
            f"too large for a float ({len(str(abs(value)))} digits)" if too_large(value) else None
        )
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "infinite"
    return None


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    value: float | None
    baseline: float | None
    passed: bool
    skipped: bool
    reason: str

    @property
    def metric(self) -> str:
        return self.rule.metric

    @property
    def severity(self) -> str:
        return self.rule.severity

    @property
    def failed(self) -> bool:
        """True when this result makes the check fail (a failing rule of severity fail)."""
        return not self.passed and self.severity == FAIL

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "value": self.value,
            "baseline": self.baseline,
            "passed": self.passed,
            "skipped": self.skipped,
            "severity": self.severity,
            "reason": self.reason,
        }


def evaluate(
    rule: Rule,
    value: Any,
    baseline: Any = MISSING,
    no_baseline_reason: str | None = None,
    where: str = "the judged revision",
    baseline_where: str = "the baseline",
) -> RuleResult:
    """Judge one rule. ``value``/``baseline`` are raw metric values or ``MISSING``.

    ``no_baseline_reason`` says why there is no baseline at all (no release yet, or
    ``baseline: none``): change bounds are then skipped, and said so, while absolute
    bounds still apply. A baseline that exists but lacks a usable value fails the
    change bound instead, since nothing may pass silently.
    """
    problem = describe_value(value)
    number = None if problem else float(value)
    base_problem = describe_value(baseline)
    base_number = None if base_problem else float(baseline)
    if number is None:
        return RuleResult(
            rule, None, base_number, False, False, f"value {problem} at {where}; rule fails"
        )
    failures: list[str] = []
    notes: list[str] = []
    if rule.min is not None:
        if at_least(number, rule.min):  # float noise at the bound counts as equal: no digits
            notes.append(f"{fmt(number)} ≥ min {fmt(rule.min)}")
        else:
            shown, bound = fmt_apart(number, rule.min)
            failures.append(f"{shown} < min {bound}")
    if rule.max is not None:
        if at_most(number, rule.max):
            notes.append(f"{fmt(number)} ≤ max {fmt(rule.max)}")
        else:
            shown, bound = fmt_apart(number, rule.max)
            failures.append(f"{shown} > max {bound}")
    skipped = False
    if rule.has_change_bound:
        if no_baseline_reason is not None:
            notes.append(f"change not checked: {no_baseline_reason}")
            skipped = not rule.has_absolute_bound
        elif base_number is None:
            failures.append(f"baseline value {base_problem} at {baseline_where}")
        else:
            threshold = regression_threshold(rule, base_number)
            assert threshold is not None  # has_change_bound
            delta = change(rule.direction, number, base_number)
            ok = (
                at_least(number, threshold)
                if rule.direction == HIGHER
                else at_most(number, threshold)
            )
            allowed = allowed_worsening(rule, base_number)
            assert allowed is not None
            shown, limit = (
                (fmt(delta, 4), fmt(-allowed, 4)) if ok else fmt_apart(delta, -allowed, 4)
            )
            shown, limit = (t if t.startswith("-") else f"+{t}" for t in (shown, limit))
            if allowed < 0:
                verdict_text = f"{'meets' if ok else 'short of'} required {limit}"
            else:
                verdict_text = f"{'within' if ok else 'beyond'} allowed {limit}"
            text = f"change {shown} vs baseline {fmt(base_number)} {verdict_text}"
            (notes if ok else failures).append(text)
    if failures:
        return RuleResult(rule, number, base_number, False, False, "; ".join(failures))
    return RuleResult(rule, number, base_number, True, skipped, "; ".join(notes))


def verdict(results: list[RuleResult]) -> bool:
    """The check passes when no rule of severity ``fail`` fails."""
    return not any(result.failed for result in results)


# --- policy changes ------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyChange:
    metric: str  # '' for a change of the whole policy (baseline)
    field: str
    old: Any
    new: Any
    loosened: bool

    def describe(self) -> str:
        def show(value: Any) -> str:
            if value is None:
                return "—"
            return fmt(value) if isinstance(value, float) else str(value)

        return f"{self.field}: {show(self.old)} → {show(self.new)}"


def _field_loosened(key: str, old: Any, new: Any) -> bool:
    if key == "baseline_metric":
        return True  # another yardstick, set, changed or dropped: review it
    if old is None:
        return False  # a new bound only tightens
    if new is None:
        return True  # a removed bound loosens
    if key == "min":
        return bool(new < old)
    if key in ("max", "max_regression", "max_regression_pct"):
        return bool(new > old)
    if key == "severity":
        return bool(old == FAIL and new == WARN)
    return key == "direction"


def policy_changes(old: Gates | None, new: Gates | None) -> list[PolicyChange]:
    """What changed between two gate policies, each change flagged when it loosens a gate."""
    found: list[PolicyChange] = []
    old_rules = list(old.rules) if old else []
    new_rules = list(new.rules) if new else []
    old_baseline = old.baseline if old else None
    new_baseline = new.baseline if new else None
    if old and new and old_baseline != new_baseline:
        # Any move of the baseline can make "no worse than" easier to meet: review it.
        found.append(PolicyChange("", "baseline", old_baseline, new_baseline, True))
    if old and new and old.artifact != new.artifact:
        # so can judging against another artifact's releases
        found.append(PolicyChange("", "artifact", old.artifact, new.artifact, True))
    for rule in new_rules:
        match = next((r for r in old_rules if r.metric == rule.metric), None)
        if match is None:
            found.append(PolicyChange(rule.metric, "rule", None, rule.describe(), False))
            continue
        old_rules.remove(match)
        for key in ("direction", *BOUND_KEYS, "severity", "baseline_metric"):
            before, after = getattr(match, key), getattr(rule, key)
            if before != after:
                found.append(
                    PolicyChange(
                        rule.metric, key, before, after, _field_loosened(key, before, after)
                    )
                )
    for rule in old_rules:
        found.append(PolicyChange(rule.metric, "rule", rule.describe(), None, True))
    return found
