"""Retraining as a reviewed pull request (``make retrain-pr``; the monitor workflow's
``retrain`` job; docs/retraining.md).

On the default branch as the monitor's batch job left it:

1. the batches whose labels arrived (``monitoring/labels/<id>.parquet``) and that
   ``ingest.train_batches`` does not list yet are labelled (``python -m stages.label_batch``:
   the prediction log's validated inputs joined with their labels, checked against the data
   contract, ``data/labelled/<id>.parquet``, DVC-tracked) and appended to
   ``ingest.train_batches`` in params.yaml (only that line changes);
2. on the branch ``mlgate/retrain`` (recreated from the default branch), ``dvc repro``
   retrains, ``mlgate check`` judges the model against the release gates, and params.yaml,
   dvc.lock, the metrics and the ``.dvc`` files are committed and force-pushed; the data
   goes to the DVC remote (``scripts.dvc_remote push``);
3. ONE pull request from that branch is opened, or the open one updated, carrying why it
   exists (the monitoring gate that failed and the batch's figures, from the batch job's
   ``build/monitor``), the batches it adds, and ``mlgate report`` against the release the
   ``prod`` stage holds. A model that fails its release gates still gets its pull request,
   titled as failing, so that a person sees why.

A pull request opened with ``GITHUB_TOKEN`` starts no workflows, so the report is in its
body; ``ci`` runs once someone closes and reopens it or pushes to it (docs/retraining.md).

Usage: python -m scripts.retrain_pr [--gates-dir build/monitor] [--run-url URL]
       [--branch mlgate/retrain] [--no-pr]
       (env: DEFAULT_BRANCH, GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL, DVC_REMOTE_URL)
Exit codes: 0 pull request opened or updated (or nothing new to train on), 1 failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.drift_issue import figure
from scripts.github_api import GitHub, GitHubError, cap_body
from scripts.monitor_record import BOT, auth_args

BRANCH = "mlgate/retrain"
LABELS_DIR = Path("monitoring/labels")
PARAMS = Path("params.yaml")
REPORT = Path("build/retrain/report.md")
MARKER = "<!-- mlgate:retrain -->"
_LINE = re.compile(
    r"^(?P<indent>[ \t]+)train_batches\s*:(?P<value>[^#\n]*)(?P<comment>#.*)?$", re.M
)


class RetrainError(Exception):
    """The retraining pull request cannot be made."""


def run(*command: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command), capture_output=True, text=True, check=False, env=dict(env or os.environ)
    )


def checked(*command: str) -> str:
    done = run(*command)
    if done.returncode != 0:
        lines = (done.stderr.strip() or done.stdout.strip()).splitlines()
        # a stage's own one-line error says why; dvc's last line only that the stage failed
        said = [line for line in lines if ": error: " in line] or lines[-1:]
        raise RetrainError(f"{' '.join(command[:4])}: {said[-1] if said else done.returncode}")
    return done.stdout


def labelled_ids(root: Path) -> list[str]:
    """Batch ids whose labels arrived, in name order (batch ids sort by time: 2027-01)."""
    return sorted(path.name[: -len(".parquet")] for path in (root / LABELS_DIR).glob("*.parquet"))


def listed_batches(params: Mapping[str, Any]) -> list[str]:
    ingest = params.get("ingest") if isinstance(params, Mapping) else None
    listed = ingest.get("train_batches") if isinstance(ingest, Mapping) else None
    return [str(item) for item in listed or []]


def with_train_batches(text: str, ids: Sequence[str]) -> str:
    """params.yaml with ``ingest.train_batches`` set to ``ids`` on its one line (comments and
    every other line kept), or the line added after ``train_source``."""
    value = json.dumps(list(ids))
    match = _LINE.search(text)
    if match:
        comment = f"  {match['comment']}" if match["comment"] else ""
        line = f"{match['indent']}train_batches: {value}{comment}"
        return text[: match.start()] + line + text[match.end() :]
    source = re.search(r"^(?P<indent>[ \t]+)train_source\s*:.*$", text, re.M)
    if source is None:
        raise RetrainError("params.yaml: no ingest.train_source to add train_batches after")
    line = f"\n{source['indent']}train_batches: {value}"
    return text[: source.end()] + line + text[source.end() :]


@dataclass(frozen=True)
class Trigger:
    """Why the pull request exists: the failed monitoring gate and its batch, if any."""

    batch: str
    version: str
    failed: list[Mapping[str, Any]]
    metrics: Mapping[str, Any]


def read_trigger(folder: Path) -> Trigger | None:
    """The first of the batch job's verdicts (labelled batch, then new batch) that failed."""
    for which in ("labelled", "batch"):
        try:
            gate = json.loads((folder / f"{which}-gate.json").read_text(encoding="utf-8"))
            metrics = json.loads((folder / f"{which}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        rules = gate.get("rules") if isinstance(gate, Mapping) else None
        failed = [
            r
            for r in rules or []
            if isinstance(r, Mapping) and r.get("passed") is False and r.get("severity") == "fail"
        ]
        if failed and isinstance(metrics, Mapping):
            return Trigger(
                str(metrics.get("batch", "?")),
                str(metrics.get("model_version", "?")),
                failed,
                metrics,
            )
    return None


def trigger_text(trigger: Trigger | None, run_url: str) -> list[str]:
    if trigger is None:
        return ["Requested by hand (no monitoring gate failed in this run).", ""]

    def section(name: str) -> Mapping[str, Any]:
        value = trigger.metrics.get(name)
        return value if isinstance(value, Mapping) else {}

    rows = [
        ("estimated ROC AUC (no labels)", section("estimated").get("roc_auc")),
        ("realized ROC AUC", section("realized").get("roc_auc")),
        ("estimated accuracy (no labels)", section("estimated").get("accuracy")),
        ("realized accuracy", section("realized").get("accuracy")),
        ("labelled share", section("realized").get("labelled_share")),
        ("share of drifted input columns", section("drift").get("share_drifted")),
        ("prediction drift (PSI of the scores)", section("prediction_drift").get("psi")),
        ("quarantined share", section("quality").get("quarantine_share")),
    ]
    run = f" in [this monitor run]({run_url})" if run_url else ""
    return [
        f"The monitoring gate failed on batch `{trigger.batch}`, scored by "
        f"`{trigger.version}`{run}:",
        "",
        "| gate | value | baseline | reason |",
        "|---|---|---|---|",
        *(
            f"| `{r.get('metric')}` | {figure(r.get('value'))} | {figure(r.get('baseline'))} | "
            f"{str(r.get('reason', '')).replace('|', '/')} |"
            for r in trigger.failed
        ),
        "",
        f"Batch `{trigger.batch}`:",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {name} | {figure(value)} |" for name, value in rows),
        "",
    ]


def pull_request_text(
    added: Sequence[str],
    trained_on: Sequence[str],
    passed: bool,
    prod: str,
    trigger: Trigger | None,
    report: str,
    run_url: str,
) -> tuple[str, str]:
    verdict = "passes its release gates" if passed else "FAILS its release gates"
    title = f"Retrain on labelled batches {', '.join(added)}" + (
        "" if passed else " [failing release gates]"
    )
    body = [
        MARKER,
        f"## Retraining: the model {verdict}",
        "",
        "### Why",
        "",
        *trigger_text(trigger, run_url),
        "### What changes",
        "",
        f"- adds the labelled production batches {', '.join(f'`{b}`' for b in added)} "
        "(`data/labelled/<id>.parquet`, DVC-tracked, pushed) to `ingest.train_batches`;",
        f"- the model is trained on `ingest.train_source` and the batches "
        f"{', '.join(f'`{b}`' for b in trained_on)};",
        "- `dvc.lock` and the metrics are the pipeline's, reproduced by this job.",
        "",
        "Merging releases it through `ci` and `release` as any change; promoting it to `prod` "
        "stays a person's `mlgate promote`. This pull request was opened with the workflow's "
        "token, which starts no workflows: close and reopen it (or push to it) for `ci` to "
        "run.",
        "",
        f"### The report against `{prod}` (the release `prod` holds)",
        "",
        report,
    ]
    return title, cap_body("\n".join(body) + "\n")


def upsert_pull(github: GitHub, branch: str, base: str, title: str, body: str) -> tuple[str, int]:
    for pull in github.open_pulls(branch):
        number = int(pull["number"])
        github.update_pull(number, title, body)
        return "updated", number
    created = github.create_pull_request(title, branch, base, body)
    return "opened", int(created["number"])


def retrain(args: argparse.Namespace, env: Mapping[str, str], root: Path = Path(".")) -> int:
    from stages.common import read_yaml
    from stages.released import resolve

    python = sys.executable
    text = (root / PARAMS).read_text(encoding="utf-8")
    listed = listed_batches(read_yaml(text, str(PARAMS)))
    added = [batch for batch in labelled_ids(root) if batch not in listed]
    if not added:
        print("retrain-pr: no labelled batch that the training data lacks: nothing to retrain on")
        return 0
    prod = resolve("prod", None, root)
    default = env.get("DEFAULT_BRANCH") or "main"
    checked("git", "checkout", "-q", "-B", args.branch)
    for batch in added:
        checked(python, "-m", "stages.label_batch", "--batch", batch)
    trained_on = [*listed, *added]
    updated = with_train_batches(text, trained_on)
    if listed_batches(read_yaml(updated, str(PARAMS))) != trained_on:  # pragma: no cover
        raise RetrainError("params.yaml: ingest.train_batches does not read back as written")
    (root / PARAMS).write_text(updated, encoding="utf-8")
    print(f"retrain-pr: training on {len(trained_on)} labelled batch(es), new: {', '.join(added)}")
    checked(python, "-m", "dvc", "repro")
    check = run(python, "-m", "mlgate", "check", "--format", "json")
    if check.returncode not in (0, 1):
        raise RetrainError(f"mlgate check: {check.stderr.strip().splitlines()[-1:]}")
    passed = check.returncode == 0
    name, email = BOT
    checked("git", "add", "--all")
    trigger = read_trigger(args.gates_dir)
    why = (
        f"the monitoring gate failed on batch {trigger.batch} (scored by {trigger.version}): "
        + ", ".join(str(rule.get("metric")) for rule in trigger.failed)
        if trigger
        else "requested by hand"
    )
    message = (
        f"Retrain on labelled batches {', '.join(added)}: "
        f"{'passes' if passed else 'fails'} the release gates\n\nWhy: {why}.\n"
        f"Trained on ingest.train_source and the labelled batches {', '.join(trained_on)}.\n"
    )
    checked(
        "git", "-c", f"user.name={name}", "-c", f"user.email={email}", "commit", "-q", "-m", message
    )
    token = env.get("GITHUB_TOKEN", "")
    checked(
        "git",
        *auth_args(token),
        "push",
        "-q",
        "--force",
        "origin",
        f"HEAD:refs/heads/{args.branch}",
    )
    pushed = run(python, "-m", "scripts.dvc_remote", "push", env=env)
    if pushed.returncode != 0:
        raise RetrainError(f"dvc push: {pushed.stderr.strip().splitlines()[-1:]}")
    (root / REPORT).parent.mkdir(parents=True, exist_ok=True)
    checked(python, "-m", "mlgate", "report", "--base", prod.tag, "--output", str(root / REPORT))
    report = (root / REPORT).read_text(encoding="utf-8")
    title, body = pull_request_text(
        added, trained_on, passed, prod.tag, trigger, report, args.run_url
    )
    (root / REPORT.with_name("pull-request.md")).write_text(f"{title}\n\n{body}", encoding="utf-8")
    print(f"retrain-pr: {message.splitlines()[0]}; branch {args.branch} pushed")
    if args.no_pr:
        return 0
    action, number = upsert_pull(GitHub.from_env(env), args.branch, default, title, body)
    print(f"retrain-pr: {action} pull request #{number}: {title}")
    return 0


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    from stages.common import StageError

    parser = argparse.ArgumentParser(prog="retrain_pr", description=__doc__.splitlines()[0])
    parser.add_argument("--gates-dir", type=Path, default=Path("build/monitor"))
    parser.add_argument("--run-url", default="")
    parser.add_argument("--branch", default=BRANCH)
    parser.add_argument("--no-pr", action="store_true", help="push the branch, open no PR")
    args = parser.parse_args(argv)
    try:
        return retrain(args, os.environ if env is None else env)
    except (RetrainError, StageError, GitHubError, OSError) as exc:
        print(f"::error::retrain-pr: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
