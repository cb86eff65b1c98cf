"""The hardening policy of mlgate's GitHub Actions workflows, checked from the YAML itself.

zizmor and actionlint catch generic mistakes; this checks the rules this project promises
(docs/cicd.md), so that a later edit cannot quietly weaken one:

- top-level ``permissions: {}``, every job declares its own, and only the jobs listed in
  ``WRITE_PERMISSIONS`` write anything (release: contents, pr-report: pull requests,
  monitor: issues, its batch record and its retraining pull request, sweep: contents
  for its trials and, with pull requests, its pr job);
- no ``pull_request_target``; ``workflow_run`` only where ``WORKFLOW_RUN_ALLOWED`` says, with
  an inline ``# zizmor: ignore[dangerous-triggers] <reason>``;
- every ``uses:`` pinned to a 40-hex commit with ``# vX.Y.Z`` after it, the same commit for
  the same action everywhere;
- ``actions/checkout`` with ``persist-credentials: false`` except in jobs that push (or, for
  sweep's rank, fetch the experiment refs checkout cannot, with a read-only token), and
  never of another ref or repository in a ``workflow_run`` workflow;
- no ``${{ ... }}`` expansion inside ``run:`` (values reach scripts through ``env:``);
- ``timeout-minutes`` on every job;
- every ``run:`` is one line calling a repository command (a make target that exists,
  ``mlgate``, ``dvc``, or a script under ``scripts/``).

Usage: ``python -m scripts.workflow_policy [DIR]`` prints one line per violation and exits 1
when there is any.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

WORKFLOWS_DIR = Path(".github/workflows")

# (workflow file, job id) -> the permissions that job may write. Everything else reads only.
WRITE_PERMISSIONS: dict[tuple[str, str], frozenset[str]] = {
    ("release.yml", "release"): frozenset({"contents"}),
    ("pr-report.yml", "comment"): frozenset({"pull-requests"}),
    ("monitor.yml", "drift"): frozenset({"issues"}),
    ("monitor.yml", "batch"): frozenset({"issues", "contents"}),
    ("monitor.yml", "retrain"): frozenset({"contents", "pull-requests"}),
    ("sweep.yml", "trials"): frozenset({"contents"}),
    ("sweep.yml", "pr"): frozenset({"contents", "pull-requests"}),
}
# Jobs whose checkout keeps the token: they push (the release tag, the sweep's experiment
# refs, the branch of its best experiment) or fetch the experiment refs (refs/exps/*, which
# checkout cannot fetch) with a read-only token.
PUSHING_JOBS = frozenset(
    {
        ("release.yml", "release"),
        ("sweep.yml", "trials"),
        ("sweep.yml", "rank"),
        ("sweep.yml", "pr"),
    }
)
WORKFLOW_RUN_ALLOWED = frozenset({"pr-report.yml"})

_PINNED_USES = re.compile(r"^(?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)@(?P<sha>[0-9a-f]{40})$")
_VERSION_COMMENT = re.compile(r"#\s*v\d+(?:\.\d+){0,2}\b")
_ZIZMOR_DANGEROUS = re.compile(r"#\s*zizmor:\s*ignore\[dangerous-triggers\]\s+(?P<reason>\S.*)$")
_RUN_COMMANDS = re.compile(r"^(make|mlgate|dvc|node scripts/|python3? -m scripts\.|scripts/)")
_MAKE_TARGET = re.compile(r"^make\s+(?P<target>[\w.-]+)")


@dataclass(frozen=True)
class Workflow:
    """One workflow file: its name, parsed YAML and raw lines (comments carry pins)."""

    filename: str
    data: Mapping[Any, Any]
    lines: tuple[str, ...]

    @classmethod
    def load(cls, path: Path) -> Workflow:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping at the top level")
        return cls(path.name, data, tuple(text.splitlines()))

    @property
    def triggers(self) -> Mapping[str, Any]:
        # PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
        raw = self.data.get("on", self.data.get(True))
        if isinstance(raw, str):
            return {raw: None}
        if isinstance(raw, list):
            return dict.fromkeys(raw)
        return raw or {}

    @property
    def jobs(self) -> Mapping[str, Mapping[str, Any]]:
        return self.data.get("jobs") or {}

    def steps(self) -> Iterator[tuple[str, int, Mapping[str, Any]]]:
        for job_id, job in self.jobs.items():
            for index, step in enumerate(job.get("steps") or []):
                yield job_id, index, step


def _where(workflow: Workflow, job_id: str, index: int | None = None) -> str:
    step = f" step {index + 1}" if index is not None else ""
    return f"{workflow.filename}: job '{job_id}'{step}"


def check_permissions(workflow: Workflow) -> list[str]:
    problems = []
    if workflow.data.get("permissions") != {}:
        problems.append(f"{workflow.filename}: top-level 'permissions' must be {{}}")
    for job_id, job in workflow.jobs.items():
        permissions = job.get("permissions")
        if not isinstance(permissions, dict):
            problems.append(f"{_where(workflow, job_id)}: declare 'permissions' as a mapping")
            continue
        writes = frozenset(scope for scope, level in permissions.items() if level == "write")
        allowed = WRITE_PERMISSIONS.get((workflow.filename, job_id), frozenset())
        if writes - allowed:
            problems.append(
                f"{_where(workflow, job_id)}: writes {sorted(writes - allowed)} "
                f"(allowed: {sorted(allowed) or 'none'})"
            )
    return problems


def check_triggers(workflow: Workflow) -> list[str]:
    problems = []
    triggers = workflow.triggers
    if "pull_request_target" in triggers:
        problems.append(f"{workflow.filename}: 'pull_request_target' is not allowed")
    if "workflow_run" in triggers:
        if workflow.filename not in WORKFLOW_RUN_ALLOWED:
            problems.append(f"{workflow.filename}: 'workflow_run' is only allowed in pr-report")
        line = next((ln for ln in workflow.lines if ln.strip().startswith("workflow_run:")), "")
        if not _ZIZMOR_DANGEROUS.search(line):
            problems.append(
                f"{workflow.filename}: 'workflow_run:' needs an inline "
                "'# zizmor: ignore[dangerous-triggers] <reason>'"
            )
    return problems


def _raw_line(workflow: Workflow, needle: str) -> list[str]:
    return [ln for ln in workflow.lines if needle in ln and not ln.lstrip().startswith("#")]


def check_pinned_actions(workflow: Workflow) -> list[str]:
    problems = []
    for job_id, index, step in workflow.steps():
        uses = step.get("uses")
        if uses is None:
            continue
        where = _where(workflow, job_id, index)
        if not _PINNED_USES.fullmatch(str(uses)):
            problems.append(f"{where}: 'uses: {uses}' is not pinned to a full commit SHA")
            continue
        if not all(_VERSION_COMMENT.search(ln) for ln in _raw_line(workflow, f"uses: {uses}")):
            problems.append(f"{where}: 'uses: {uses}' needs the version in a comment ('# vX.Y.Z')")
    return problems


def check_consistent_pins(workflows: list[Workflow]) -> list[str]:
    """The same action is pinned to the same commit everywhere."""
    seen: dict[str, tuple[str, str]] = {}
    problems = []
    for workflow in workflows:
        for _job, _index, step in workflow.steps():
            match = _PINNED_USES.fullmatch(str(step.get("uses", "")))
            if not match:
                continue
            first = seen.setdefault(match["action"], (match["sha"], workflow.filename))
            if first[0] != match["sha"]:
                problems.append(
                    f"{workflow.filename}: {match['action']} pinned to {match['sha'][:12]}, "
                    f"but to {first[0][:12]} in {first[1]}"
                )
    return problems


def check_checkout_credentials(workflow: Workflow) -> list[str]:
    problems = []
    for job_id, index, step in workflow.steps():
        if not str(step.get("uses", "")).startswith("actions/checkout@"):
            continue
        persist = (step.get("with") or {}).get("persist-credentials")
        pushes = (workflow.filename, job_id) in PUSHING_JOBS
        if not pushes and persist is not False:
            problems.append(
                f"{_where(workflow, job_id, index)}: checkout needs 'persist-credentials: false'"
            )
        if pushes and persist is not True:
            problems.append(
                f"{_where(workflow, job_id, index)}: a pushing job says "
                "'persist-credentials: true' explicitly"
            )
    return problems


def check_privileged_checkout(workflow: Workflow) -> list[str]:
    """A ``workflow_run`` job holds a write token: it checks out the default branch only,
    never the pull request's code (``with: ref`` or ``repository``), the classic pwn request."""
    if "workflow_run" not in workflow.triggers:
        return []
    problems = []
    for job_id, index, step in workflow.steps():
        if not str(step.get("uses", "")).startswith("actions/checkout@"):
            continue
        chosen = sorted({"ref", "repository"} & set(step.get("with") or {}))
        if chosen:
            problems.append(
                f"{_where(workflow, job_id, index)}: a workflow_run checkout may not set "
                f"{' or '.join(chosen)} (only the default branch's code runs here)"
            )
    return problems


def check_run_steps(workflow: Workflow, make_targets: frozenset[str] | None = None) -> list[str]:
    problems = []
    for job_id, index, step in workflow.steps():
        run = step.get("run")
        if run is None:
            continue
        where = _where(workflow, job_id, index)
        command = str(run).strip()
        if "${{" in command:
            problems.append(f"{where}: no '${{{{ }}}}' inside 'run:'; pass values through 'env:'")
        if "\n" in command:
            problems.append(f"{where}: 'run:' is one line calling a repository command")
        if not _RUN_COMMANDS.match(command):
            problems.append(
                f"{where}: 'run: {command[:40]}' must call make, mlgate, dvc or scripts/"
            )
        target = _MAKE_TARGET.match(command)
        if target and make_targets is not None and target["target"] not in make_targets:
            problems.append(f"{where}: no Makefile target '{target['target']}'")
    return problems


def check_timeouts(workflow: Workflow) -> list[str]:
    problems = []
    for job_id, job in workflow.jobs.items():
        timeout = job.get("timeout-minutes")
        if not isinstance(timeout, int) or isinstance(timeout, bool) or not 0 < timeout <= 360:
            problems.append(f"{_where(workflow, job_id)}: needs 'timeout-minutes' (1 to 360)")
    return problems


def makefile_targets_text(text: str) -> frozenset[str]:
    """Rule targets in Makefile text (not variable assignments like ``X := y``)."""
    targets = re.findall(r"^([\w./-]+(?:[ \t]+[\w./-]+)*)[ \t]*:(?!=)", text, re.M)
    return frozenset(name for group in targets for name in group.split() if name != ".PHONY")


def makefile_targets(makefile: Path) -> frozenset[str]:
    return makefile_targets_text(makefile.read_text())


def check_all(workflows: list[Workflow], make_targets: frozenset[str] | None = None) -> list[str]:
    problems = check_consistent_pins(workflows)
    for workflow in workflows:
        problems += check_permissions(workflow)
        problems += check_triggers(workflow)
        problems += check_pinned_actions(workflow)
        problems += check_checkout_credentials(workflow)
        problems += check_privileged_checkout(workflow)
        problems += check_run_steps(workflow, make_targets)
        problems += check_timeouts(workflow)
    return problems


def load_workflows(directory: Path) -> list[Workflow]:
    paths = sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")])
    return [Workflow.load(path) for path in paths]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0]) if args else WORKFLOWS_DIR
    workflows = load_workflows(directory)
    if not workflows:
        print(f"workflow-policy: no workflows in {directory}", file=sys.stderr)
        return 2
    makefile = Path("Makefile")
    targets = makefile_targets(makefile) if makefile.exists() else None
    problems = check_all(workflows, targets)
    for problem in problems:
        print(problem)
    print(f"workflow-policy: {len(workflows)} workflow(s), {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
