"""Open ONE issue for data drift, or update the open one (monitor workflow).

Called when the drift gate (``mlgate check --gates monitoring/drift-gates.yaml``) fails. The
issue is found by ``LABEL`` and the hidden ``MARKER`` among open issues the Actions bot
wrote, and its title and body are replaced with the latest report, so a drifting feed
produces one issue that tracks it, not one per scheduled run. Retraining then happens in a
reviewed pull request.

The monitoring gate of a scored batch (``monitoring/gates.yaml``, ``make monitor-gate``) has
its own issue: ``--monitoring monitoring/metrics.json`` renders the batch's report (quality,
drift, estimated and realized performance) under ``MONITOR_MARKER`` and ``MONITOR_LABEL``.

Usage: python3 -m scripts.drift_issue --drift metrics/drift.json --gate gate.json --run-url URL
       python3 -m scripts.drift_issue --monitoring monitoring/metrics.json --gate gate.json ...
Exit codes: 0 issue opened or updated, 2 unreadable inputs or API error.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.github_api import BOT_LOGIN, GitHub, GitHubError, Transport, by_bot, cap_body

MARKER = "<!-- mlgate-drift -->"
LABEL = "data-drift"
MONITOR_MARKER = "<!-- mlgate-monitor -->"
MONITOR_LABEL = "model-monitoring"
MAX_COLUMNS = 50


class InputFileError(Exception):
    """A drift or gate file is missing or does not have the expected shape."""


def load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputFileError(f"{path}: not found") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: not valid JSON ({exc})") from exc


def figure(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "–"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def drifted_columns(drift: Any, source: str) -> list[tuple[str, Mapping[str, Any]]]:
    """The drifted columns of a drift.json, largest PSI first."""
    if not isinstance(drift, Mapping) or not isinstance(drift.get("columns"), Mapping):
        raise InputFileError(f"{source}: expected an object with 'columns' (per-column drift)")
    found = [
        (str(name), stats)
        for name, stats in drift["columns"].items()
        if isinstance(stats, Mapping) and stats.get("drifted") is True
    ]

    def psi(item: tuple[str, Mapping[str, Any]]) -> float:
        value = item[1].get("psi")
        return float(value) if isinstance(value, (int, float)) else 0.0

    return sorted(found, key=lambda item: (-psi(item), item[0]))


def failed_rules(gate: Any, source: str) -> list[Mapping[str, Any]]:
    if not isinstance(gate, Mapping) or not isinstance(gate.get("rules"), list):
        raise InputFileError(f"{source}: expected the JSON of 'mlgate check --format json'")
    return [r for r in gate["rules"] if isinstance(r, Mapping) and r.get("passed") is False]


@dataclass(frozen=True)
class DriftReport:
    title: str
    body: str


def render(drift: Any, gate: Any, run_url: str, drift_source: str, gate_source: str) -> DriftReport:
    columns = drifted_columns(drift, drift_source)
    failed = failed_rules(gate, gate_source)
    n_columns = drift.get("n_columns", len(drift["columns"]))
    title = f"Data drift: {len(columns)} of {n_columns} columns drifted"
    lines = [
        MARKER,
        f"## {title}",
        "",
        f"The drift gate failed in [this monitor run]({run_url}). "
        "This issue is updated by every failing run while it stays open.",
        "",
        "| gate | value | reason |",
        "|---|---|---|",
        *(
            f"| `{_cell(r.get('metric'))}` | {figure(r.get('value'))} "
            f"| {_cell(r.get('reason', ''))} |"
            for r in failed
        ),
        "",
        "### Drifted columns",
        "",
        "| column | statistic | p-value | PSI |",
        "|---|---|---|---|",
        *(
            f"| `{_cell(name)}` | {figure(s.get('statistic'))} | {figure(s.get('p_value'))} "
            f"| {figure(s.get('psi'))} |"
            for name, s in columns[:MAX_COLUMNS]
        ),
    ]
    if len(columns) > MAX_COLUMNS:
        lines.append(f"\n… and {len(columns) - MAX_COLUMNS} more (see the run's log).")
    lines += [
        "",
        "### What to do",
        "",
        "1. Look at the drifted columns: a broken upstream feed is fixed at the source, not by "
        "retraining.",
        "2. If the world changed, retrain on recent data in a pull request (point `ingest` in "
        "`params.yaml` at it, `dvc repro`); its metric report shows what the new model gains "
        "or loses, and merging it releases the model.",
        "3. Close this issue when the drift gate passes again.",
    ]
    return DriftReport(title, cap_body("\n".join(lines) + "\n"))


def render_monitoring(
    metrics: Any, gate: Any, run_url: str, source: str, gate_source: str
) -> DriftReport:
    """The issue of a failed monitoring gate: what failed, then the batch's figures."""
    if not isinstance(metrics, Mapping) or not isinstance(metrics.get("estimated"), Mapping):
        raise InputFileError(f"{source}: expected the metrics of make monitor (with 'estimated')")
    failed = failed_rules(gate, gate_source)

    def section(name: str) -> Mapping[str, Any]:
        value = metrics.get(name)
        return value if isinstance(value, Mapping) else {}

    batch, version = _cell(metrics.get("batch")), _cell(metrics.get("model_version"))
    title = f"Model monitoring: batch {batch} failed {len(failed)} gate(s)"
    drift, realized = section("drift"), section("realized")
    listed = drift.get("drifted")
    drifted: list[Any] = listed if isinstance(listed, list) else []
    rows = [
        ("quarantined share", section("quality").get("quarantine_share")),
        ("share of drifted input columns", drift.get("share_drifted")),
        ("prediction drift (PSI of the scores)", section("prediction_drift").get("psi")),
        ("estimated ROC AUC (no labels)", section("estimated").get("roc_auc")),
        ("estimated accuracy (no labels)", section("estimated").get("accuracy")),
        ("realized ROC AUC", realized.get("roc_auc")),
        ("realized accuracy", realized.get("accuracy")),
        ("labelled share", realized.get("labelled_share")),
        ("labels for unknown ids", realized.get("unknown_ids")),
    ]
    lines = [
        MONITOR_MARKER,
        f"## {title}",
        "",
        f"Model `{version}` on batch `{batch}`: the monitoring gate failed in "
        f"[this monitor run]({run_url}). This issue is updated by every failing run while it "
        "stays open.",
        "",
        "| gate | value | baseline | reason |",
        "|---|---|---|---|",
        *(
            f"| `{_cell(r.get('metric'))}` | {figure(r.get('value'))} "
            f"| {figure(r.get('baseline'))} | {_cell(r.get('reason', ''))} |"
            for r in failed
        ),
        "",
        "### The batch",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {name} | {figure(value)} |" for name, value in rows),
        "",
        "Drifted columns: " + (", ".join(f"`{_cell(c)}`" for c in drifted[:MAX_COLUMNS]) or "none"),
        "",
        "### What to do",
        "",
        "1. Data quality or input drift alone: look at the feed first; a broken upstream is "
        "fixed at the source, not by retraining.",
        "2. Estimated performance down: the model is less sure on this data. Confirm with "
        "labels (`make monitor BATCH=<id> LABELS=<file>`) when they arrive.",
        "3. Realized performance down while the estimate holds: the relation between inputs "
        "and outcome changed (concept change); retrain on labelled recent data in a pull "
        "request.",
        "4. Close this issue when the monitoring gate passes again.",
    ]
    return DriftReport(title, cap_body("\n".join(lines) + "\n"))


def upsert_issue(
    github: GitHub,
    report: DriftReport,
    label: str = LABEL,
    bot: str = BOT_LOGIN,
    marker: str = MARKER,
) -> tuple[str, int]:
    for issue in github.open_issues(label):
        if by_bot(issue, bot) and marker in str(issue.get("body") or ""):
            number = int(issue["number"])
            github.update_issue(number, report.title, report.body)
            return "updated", number
    created = github.create_issue(report.title, report.body, [label])
    return "opened", int(created["number"])


def main(
    argv: list[str] | None = None,
    env: Mapping[str, str] | None = None,
    transport: Transport | None = None,
) -> int:
    parser = argparse.ArgumentParser(prog="drift_issue", description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--drift", type=Path, help="metrics/drift.json")
    source.add_argument("--monitoring", type=Path, help="monitoring/metrics.json")
    parser.add_argument("--gate", type=Path, required=True, help="mlgate check --format json")
    parser.add_argument("--run-url", required=True)
    parser.add_argument("--label", help=f"default: {LABEL}, with --monitoring {MONITOR_LABEL}")
    parser.add_argument("--bot-login", default=BOT_LOGIN)
    args = parser.parse_args(argv)
    path = args.drift or args.monitoring
    draw, label, marker = (
        (render, LABEL, MARKER)
        if args.drift
        else (render_monitoring, MONITOR_LABEL, MONITOR_MARKER)
    )
    try:
        report = draw(
            load_json(path), load_json(args.gate), args.run_url, str(path), str(args.gate)
        )
        github = GitHub.from_env(env, transport)
        action, number = upsert_issue(github, report, args.label or label, args.bot_login, marker)
    except (InputFileError, GitHubError) as exc:
        print(f"::error::drift-issue: {exc}", file=sys.stderr)
        return 2
    print(f"drift-issue: {action} issue #{number}: {report.title}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
