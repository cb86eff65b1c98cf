"""Replay the CI/CD loop locally: pull request → report comment → merge → release tag.

Runs the steps of the real workflow files, in order, without GitHub:

1. a scratch directory gets a bare git remote (``remote.git``) holding the base commit as
   ``main`` and the commit under test as the pull request branch ``pr-1``, and a local DVC
   remote (``dvc-storage/``);
2. ``ci.yml`` job ``pipeline`` runs as a ``pull_request`` event (no secrets, as for a fork)
   in a fresh clone: install, reproduce, gate, report, upload the artifact;
3. ``pr-report.yml`` job ``comment`` runs as the ``workflow_run`` event that follows, against
   a small local stand-in for the GitHub API (``http://127.0.0.1:<port>``), and the comment it
   posts is printed;
4. the pull request is merged (``main`` fast-forwards to it) and ``release.yml`` runs as the
   ``push`` event in a fresh clone with the DVC remote configured: reproduce, gate, push the
   model to the DVC remote, tag the release and push the tag to ``remote.git``;
5. the tags on the remote are listed; exit 0 when every job succeeded and the commit has a
   release tag there;
6. with ``--monitor-batch FILE``, ``monitor.yml`` then runs as a manual run on ``main`` with
   FILE arriving in ``data/current/``; a drifting batch prints the issue it writes (to the
   same local API stand-in).

The jobs run in ``scripts/job_runner.py``, shared with the other replays. Steps are read from
``.github/workflows`` and their ``if:``/``env:``/``with:`` expressions are
evaluated (scripts/gha_expr.py); ``run:`` steps run with bash in the job's clone. The actions
have local equivalents: checkout = the fresh clone, setup-python = your virtualenv (linked as
``.venv`` in each clone, so the step with ``id: install`` is skipped), upload/download-artifact
= a directory in the scratch space, cache = nothing. Only committed work is used (HEAD).

Usage: python -m scripts.local_ci [--base REF] [--workdir DIR] [--full] [--monitor-batch FILE]
       python -m scripts.local_ci --timeline [--months 12] [--rows 4000] [--concept-from 7]
         [--shift 0.8]
       (a year in production, retraining included: scripts/timeline.py)
       python -m scripts.local_ci --sweep [FILE] [--runners N] [--trials N] [--no-pr]
       (the sweep workflow instead: scripts/local_sweep.py)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.job_runner import (
    DEFAULT_BRANCH,
    PR_BRANCH,
    PR_NUMBER,
    REPO_NAME,
    Event,
    FakeGitHubState,
    JobResult,
    JobRunner,
    LocalCIError,
    clone,
    fake_github,
    git,
    remote_tags,
)

# --- the loop ---------------------------------------------------------------------------------


@dataclass
class LoopResult:
    jobs: list[JobResult]
    remote_tags: dict[str, str]  # tag -> commit
    head_sha: str
    comments: list[str]
    issues: list[str] = field(default_factory=list)  # bodies of issues the monitor opened

    @property
    def released(self) -> list[str]:
        return sorted(
            tag for tag, sha in self.remote_tags.items() if sha == self.head_sha and "@v" in tag
        )

    @property
    def ok(self) -> bool:
        return all(j.result != "failure" for j in self.jobs) and bool(self.released)


def run_loop(
    repo: Path,
    scratch: Path,
    base: str = "HEAD",
    full: bool = False,
    log: Any = None,
    monitor_batch: Path | None = None,
) -> LoopResult:
    log = log or sys.stdout
    repo = Path(git(repo, "rev-parse", "--show-toplevel"))
    head_sha = git(repo, "rev-parse", "HEAD^{commit}")
    base_sha = git(repo, "rev-parse", f"{base}^{{commit}}")
    is_ancestor = ["git", "merge-base", "--is-ancestor", base_sha, head_sha]
    if subprocess.run(is_ancestor, cwd=repo, check=False).returncode != 0:
        raise LocalCIError(f"{base} is not an ancestor of HEAD: the pull request cannot merge")
    venv = Path(sys.prefix)
    workflows = repo / ".github" / "workflows"
    scratch.mkdir(parents=True, exist_ok=True)
    remote = scratch / "remote.git"
    git(scratch, "init", "--quiet", "--bare", "--initial-branch", DEFAULT_BRANCH, str(remote))
    git(
        repo,
        "push",
        "--quiet",
        str(remote),
        f"{base_sha}:refs/heads/{DEFAULT_BRANCH}",
        f"{head_sha}:refs/heads/{PR_BRANCH}",
        "refs/tags/*:refs/tags/*",
    )
    runner = JobRunner(scratch, venv, log)
    jobs: list[JobResult] = []
    print(
        f"local-ci: scratch space {scratch}\n  remote {remote}\n  base {base_sha[:12]} "
        f"({DEFAULT_BRANCH}), pull request #{PR_NUMBER} at {head_sha[:12]}",
        file=log,
    )

    pull_request = Event(
        "pull_request",
        head_sha,
        f"refs/pull/{PR_NUMBER}/merge",
        {
            "number": PR_NUMBER,
            "pull_request": {
                "number": PR_NUMBER,
                "base": {"sha": base_sha, "ref": DEFAULT_BRANCH},
                "head": {"sha": head_sha, "ref": PR_BRANCH},
            },
        },
    )
    ci_jobs = (["lint", "test"] if full else []) + ["pipeline"]
    for job_id in ci_jobs:
        workspace = clone(remote, scratch / "jobs" / f"ci-{job_id}", head_sha, venv)
        jobs.append(runner.run(workflows / "ci.yml", job_id, workspace, pull_request))
    ci_conclusion = "failure" if any(j.result == "failure" for j in jobs) else "success"

    state = FakeGitHubState(pulls={PR_NUMBER: head_sha})
    with fake_github(state) as api_url:
        workflow_run = Event(
            "workflow_run",
            base_sha,
            f"refs/heads/{DEFAULT_BRANCH}",
            {
                "workflow_run": {
                    "id": runner.run_id,
                    "event": "pull_request",
                    "conclusion": ci_conclusion,
                    "head_sha": head_sha,
                    "head_branch": PR_BRANCH,
                    "head_repository": {"full_name": REPO_NAME},
                },
                "repository": {"default_branch": DEFAULT_BRANCH},
            },
            api_url=api_url,
        )
        workspace = clone(remote, scratch / "jobs" / "pr-report-comment", base_sha, venv)
        jobs.append(runner.run(workflows / "pr-report.yml", "comment", workspace, workflow_run))
    comments = [c["body"] for c in state.comments.get(PR_NUMBER, [])]
    for body in comments:
        print(f"\n--- comment on pull request #{PR_NUMBER} ---\n{body}---", file=log)

    # Merge: main fast-forwards to the pull request's head, then the push runs release.
    git(repo, "push", "--quiet", str(remote), f"{head_sha}:refs/heads/{DEFAULT_BRANCH}")
    push = Event(
        "push",
        head_sha,
        f"refs/heads/{DEFAULT_BRANCH}",
        {"repository": {"default_branch": DEFAULT_BRANCH}, "before": base_sha, "after": head_sha},
        secrets={"DVC_REMOTE_URL": str(scratch / "dvc-storage")},
    )
    workspace = clone(remote, scratch / "jobs" / "release", DEFAULT_BRANCH, venv)
    jobs.append(runner.run(workflows / "release.yml", "release", workspace, push))

    issues: list[str] = []
    if monitor_batch is not None:
        monitor, issues = run_monitor(
            runner, remote, scratch, workflows, head_sha, monitor_batch, venv
        )
        jobs.append(monitor)
        for body in issues:
            print(f"\n--- drift issue ---\n{body}---", file=log)

    result = LoopResult(jobs, remote_tags(remote), head_sha, comments, issues)
    print("\n=== summary", file=log)
    for job in jobs:
        print(f"    {job.workflow} / {job.job}: {job.result}", file=log)
    print(f"    comments on #{PR_NUMBER}: {len(comments)}", file=log)
    if monitor_batch is not None:
        print(f"    drift issues opened by monitor: {len(issues)}", file=log)
    released = ", ".join(result.released) or "none"
    print(f"    release tags on the remote for {head_sha[:12]}: {released}", file=log)
    print(f"local-ci: {'OK' if result.ok else 'FAILED'}", file=log)
    return result


def run_monitor(
    runner: JobRunner,
    remote: Path,
    scratch: Path,
    workflows: Path,
    sha: str,
    batch: Path,
    venv: Path,
) -> tuple[JobResult, list[str]]:
    """``monitor.yml`` as a manual run on ``main``, with ``batch`` arriving in data/current/."""
    workspace = clone(remote, scratch / "jobs" / "monitor-drift", DEFAULT_BRANCH, venv)
    arrived = workspace / "data" / "current"
    arrived.mkdir(parents=True, exist_ok=True)
    shutil.copy2(batch, arrived / batch.name)
    state = FakeGitHubState()
    with fake_github(state) as api_url:
        dispatch = Event(
            "workflow_dispatch",
            sha,
            f"refs/heads/{DEFAULT_BRANCH}",
            {"inputs": {"source": ""}, "repository": {"default_branch": DEFAULT_BRANCH}},
            inputs={"source": ""},
            api_url=api_url,
        )
        job = runner.run(workflows / "monitor.yml", "drift", workspace, dispatch)
    # The monitor's job is red exactly when drift was found: that is its result, not a
    # failure of the loop, as long as the issue was written.
    gate = next((s for s in job.steps if s.name == "Drift gate"), None)
    opened = [s for s in job.steps if s.name.startswith("Open or update")]
    if gate and gate.outcome == "failure" and opened and opened[0].outcome == "success":
        job.result = "drift found, issue written"
    return job, [str(issue["body"]) for issue in state.issues]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="local_ci", description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD", help="the pull request's base (default HEAD)")
    parser.add_argument("--workdir", type=Path, help="scratch directory (default: a new temp dir)")
    parser.add_argument("--full", action="store_true", help="also run ci's lint and test jobs")
    parser.add_argument("--repo", type=Path, default=Path("."))
    parser.add_argument(
        "--monitor-batch",
        type=Path,
        help="after the release, run the monitor with this file arriving in data/current/",
    )
    timeline = parser.add_argument_group("a year in production (docs/retraining.md)")
    timeline.add_argument(
        "--timeline",
        action="store_true",
        help="release, promote, then monthly batches scored, monitored and retrained on",
    )
    timeline.add_argument("--months", type=int, default=12, help="batches (default 12)")
    timeline.add_argument("--rows", type=int, default=4000, help="rows a batch (default 4000)")
    timeline.add_argument(
        "--concept-from", type=int, default=7, help="first month of the concept change (7)"
    )
    timeline.add_argument(
        "--shift", type=float, default=0.8, help="the last month's covariate shift (0.8)"
    )
    parser.add_argument(
        "--sweep",
        nargs="?",
        const="sweep.yaml",
        metavar="FILE",
        help="replay sweep.yml instead (scripts/local_sweep.py) with this sweep file",
    )
    parser.add_argument("--runners", type=int, default=2, help="--sweep: runners (default 2)")
    parser.add_argument("--trials", type=int, help="--sweep: trials (default: the file's)")
    parser.add_argument("--no-pr", action="store_true", help="--sweep: open no pull request")
    args = parser.parse_args(argv)
    scratch = args.workdir or Path(tempfile.mkdtemp(prefix="mlgate-local-ci-"))
    if args.workdir and args.workdir.exists() and any(args.workdir.iterdir()):
        print(f"local-ci: {args.workdir} is not empty", file=sys.stderr)
        return 2
    if args.timeline:
        from scripts import timeline as year

        if args.months < 1 or not 100 <= args.rows <= 10_000 or args.concept_from < 1:
            print(
                "local-ci: --months >= 1, --rows 100..10000, --concept-from >= 1",
                file=sys.stderr,
            )
            return 2
        return year.main(args.repo, scratch, args.months, args.rows, args.concept_from, args.shift)
    try:
        if args.sweep is not None:
            from scripts.local_sweep import run_sweep

            swept = run_sweep(
                args.repo, scratch, args.sweep, args.runners, args.trials, not args.no_pr
            )
            return 0 if swept.ok else 1
        batch = args.monitor_batch.resolve() if args.monitor_batch else None
        if batch is not None and not batch.is_file():
            raise LocalCIError(f"--monitor-batch: {args.monitor_batch} is not a file")
        result = run_loop(args.repo, scratch, args.base, args.full, monitor_batch=batch)
    except LocalCIError as exc:
        print(f"local-ci: error: {exc}", file=sys.stderr)
        return 2
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
