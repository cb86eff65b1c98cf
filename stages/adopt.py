"""First run on new data: `dvc repro`, then gates a stated margin short of what it measured.

    python -m stages.adopt [--margin 0.02] [--params params.yaml] [--no-repro]

The example gates describe the example dataset (Adult's AUC, its `sex` column), and on
other data they fail or name metrics that do not exist. This command runs the pipeline,
reads the metrics as DVC shows them (`dvc metrics show --json`: the files dvc.yaml
declares), and rewrites `gates:` in params.yaml, printing every rule it set and dropped:

- `roc_auc` and `accuracy` at least the measured value minus `margin` (floored to 3
  decimals, never below 0),
- for each `schema.sensitive` column, `fairness.<column>.equalized_odds_difference` at most
  the measured value plus `margin` (ceiled, never above 1),
- the other rules kept when the new metrics have their metric (a latency budget), dropped
  when they do not (the example's `fairness.sex...` on data without `sex`); `baseline` kept.

The margin is absolute, in the metric's own units. No stage reads `gates:`, so rewriting it
reruns nothing: `dvc repro` then has nothing to do and `mlgate check` judges the new gates.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

from stages.common import PARAMS_FILE, StageError, read_yaml, run_stage
from stages.paramsfile import section_text, write_section

SECTION = "gates"
DEFAULT_MARGIN = 0.02
HIGHER_IS_BETTER = ("roc_auc", "accuracy")
FAIRNESS = "fairness.{column}.equalized_odds_difference"
DECIMALS = Decimal("0.001")


def flatten(metrics: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) for every leaf, as mlgate names metrics."""
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from flatten(value, f"{name}.")
        else:
            yield name, value


def measured_metrics(shown: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`dvc metrics show --json`'s output as {file: {dotted key: value}} for the workspace."""
    workspace = shown.get("", shown.get("workspace", {}))
    files = workspace.get("data", {})
    return {
        path: dict(flatten(content.get("data") or {}))
        for path, content in files.items()
        if isinstance(content, Mapping)
    }


def _has(metrics: Mapping[str, Mapping[str, Any]], metric: str) -> bool:
    """Whether a rule's metric (`key`, or `file:key`) is among `metrics`."""
    path, _, key = metric.rpartition(":")
    if path:
        return key in metrics.get(path, {})
    return any(metric in values for values in metrics.values())


def _value(metrics: Mapping[str, Mapping[str, Any]], metric: str) -> float | None:
    found = [values[metric] for values in metrics.values() if metric in values]
    if len(found) != 1 or isinstance(found[0], bool):  # two files have it: not this rule's
        return None
    return float(found[0]) if isinstance(found[0], (int, float)) else None


def _rounded(value: float, rounding: str) -> float:
    return float(Decimal(repr(value)).quantize(DECIMALS, rounding=rounding))


def adopted_gates(
    metrics: Mapping[str, Mapping[str, Any]],
    sensitive: Sequence[str],
    gates: Mapping[str, Any] | None,
    margin: float,
) -> tuple[dict[str, Any], list[str]]:
    """The new `gates:` section and one line per rule set, kept or dropped. Pure."""
    if not margin >= 0:
        raise StageError(f"--margin must be >= 0, got {margin}")
    lines: list[str] = []
    rules: list[dict[str, Any]] = []
    for metric in HIGHER_IS_BETTER:
        value = _value(metrics, metric)
        if value is None:
            continue
        floor = max(0.0, _rounded(value - margin, ROUND_FLOOR))
        rules.append({"metric": metric, "direction": "higher", "min": floor})
        lines.append(f"set  {metric} >= {floor:g} (measured {value:g}, margin {margin:g})")
    for column in sensitive:
        metric = FAIRNESS.format(column=column)
        value = _value(metrics, metric)
        if value is None:
            continue
        ceiling = min(1.0, _rounded(value + margin, ROUND_CEILING))
        rules.append({"metric": metric, "direction": "lower", "max": ceiling})
        lines.append(f"set  {metric} <= {ceiling:g} (measured {value:g}, margin {margin:g})")
    if not rules:
        raise StageError(
            f"no {', '.join(HIGHER_IS_BETTER)} in the metrics dvc.yaml declares "
            f"({', '.join(metrics) or 'none'}): did the pipeline run?"
        )
    if gates is not None and not isinstance(gates, Mapping):
        raise StageError(f"{PARAMS_FILE}: 'gates' must be a mapping, got {type(gates).__name__}")
    adopted = {rule["metric"] for rule in rules}
    old = dict(gates or {})
    for rule in old.get("rules") or []:
        metric = str(rule.get("metric")) if isinstance(rule, Mapping) else repr(rule)
        if metric in adopted:
            continue  # replaced above
        if isinstance(rule, Mapping) and _has(metrics, metric):
            rules.append(dict(rule))
            lines.append(f"kept {metric} (its rule unchanged)")
        else:
            lines.append(f"drop {metric} (not in the new metrics)")
    section = {**old, "baseline": old.get("baseline", "latest-release"), "rules": rules}
    return section, lines


def _dvc(*args: str, capture: bool) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "dvc", *args], capture_output=capture, text=True, check=False
    )
    if done.returncode != 0:
        detail = f": {done.stderr.strip()}" if capture and done.stderr.strip() else ""
        raise StageError(f"dvc {' '.join(args)} failed (exit {done.returncode}){detail}")
    return done.stdout if capture else ""


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m stages.adopt",
        description="dvc repro, then set the gates a margin short of the measured metrics.",
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=DEFAULT_MARGIN,
        help=f"absolute slack below (fairness: above) each metric (default {DEFAULT_MARGIN})",
    )
    parser.add_argument("--params", default=PARAMS_FILE, help="the file whose gates: are set")
    parser.add_argument("--no-repro", action="store_true", help="use the metrics on disk")
    args = parser.parse_args(argv)
    from stages.params import SchemaParams, load

    sensitive = load(SchemaParams, args.params).sensitive  # a bad schema fails before the run
    if not args.no_repro:
        _dvc("repro", capture=False)
    metrics = measured_metrics(json.loads(_dvc("metrics", "show", "--json", capture=True)))
    params = read_yaml(Path(args.params).read_text(encoding="utf-8"), args.params)
    old = params.get(SECTION)  # load() above found a mapping with a schema: section
    section, lines = adopted_gates(metrics, sensitive, old, args.margin)
    comment = (
        f"Quality gates for `mlgate check`, set by stages.adopt {args.margin:g} short of the\n"
        "first run's metrics: tighten them as the model earns it. Policy, not a stage\n"
        "dependency: no stage reads this section, so editing it never reruns the pipeline."
    )
    write_section(args.params, SECTION, section_text(SECTION, section, comment))
    for line in lines:
        print(f"adopt: {line}")
    print(f"adopt: wrote the gates: section of {args.params}; now run: mlgate check")


if __name__ == "__main__":
    run_stage("adopt", main)
