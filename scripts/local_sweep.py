"""Replay the sweep workflow (``.github/workflows/sweep.yml``) locally, without GitHub.

``python -m scripts.local_ci --sweep [FILE]`` (``make ci-local-sweep``) comes here:

1. a scratch directory gets a bare git remote (``remote.git``, HEAD as ``main`` and the
   tags) and a directory DVC remote (``dvc-storage/``, the ``DVC_REMOTE_URL`` secret);
2. job ``plan`` runs in a fresh clone as a ``workflow_dispatch`` with the inputs given here,
   and its ``shards`` output is the matrix of job ``trials``;
3. the ``trials`` jobs run as parallel processes, one fresh clone each: every shard runs
   ``mlgate sweep FILE --shard i/n`` through DVC's queue and pushes its experiments to
   ``remote.git`` and their outputs to ``dvc-storage/`` (``dvc exp push origin``);
4. job ``rank`` runs in a fresh clone, fetches every experiment of the commit from
   ``remote.git`` and ranks them (the ``sweep-ranking`` artifact);
5. job ``pr`` (unless ``--no-pr``) branches the best passing experiment, pushes the branch to
   ``remote.git`` and opens the pull request on the local GitHub API stand-in.

Steps run as ``scripts/job_runner.py``'s JobRunner runs them (the real ``run:`` lines, make
targets and all). Prints one line per job and the ranking; exit 0 when every job succeeded.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scripts.gha_expr import ExpressionError, interpolate
from scripts.job_runner import (
    DEFAULT_BRANCH,
    Event,
    FakeGitHubState,
    JobResult,
    JobRunner,
    LocalCIError,
    clone,
    fake_github,
    git,
)

WORKFLOW = "sweep.yml"
_STATUS_FUNCTION = ("success(", "failure(", "always(", "cancelled(")


@dataclass
class SweepLoopResult:
    jobs: list[JobResult]
    remote_experiments: dict[str, str]  # experiment name -> commit, on remote.git
    ranking: dict[str, Any] | None  # the rank job's ranking.json (the artifact)
    pull_requests: list[dict[str, Any]]  # opened on the stand-in: number, head, base, ...
    comments: dict[int, list[str]]

    @property
    def ok(self) -> bool:
        return all(job.result in ("success", "skipped") for job in self.jobs) and any(
            job.job == "rank" and job.result == "success" for job in self.jobs
        )


def remote_experiments(remote: Path) -> dict[str, str]:
    """DVC experiments on ``remote``: ``refs/exps/<sha[:2]>/<sha[2:]>/<name>`` -> commit."""
    found = {}
    for line in git(remote, "ls-remote", str(remote), "refs/exps/*").splitlines():
        sha, ref = line.split("\t")
        parts = ref.split("/")
        if len(parts) == 5 and len(parts[2]) == 2:  # not DVC's exec/celery/stash refs
            found[parts[4]] = sha
    return found


def needs_met(job: Mapping[str, Any], needs: Mapping[str, Mapping[str, Any]]) -> bool:
    """GitHub's rule: a job whose ``if:`` calls no status function runs only when every job it
    needs succeeded (JobRunner then evaluates the rest of its ``if:``)."""
    condition = str(job.get("if") or "")
    if any(function in condition for function in _STATUS_FUNCTION):
        return True
    return all(needs[name]["result"] == "success" for name in _needed(job))


def _needed(job: Mapping[str, Any]) -> list[str]:
    raw = job.get("needs") or []
    return [raw] if isinstance(raw, str) else list(raw)


def _skipped(job_id: str) -> JobResult:
    return JobResult(WORKFLOW, job_id, "skipped")


def _matrix(job: Mapping[str, Any], needs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The combinations of ``strategy.matrix`` (one axis of values, as sweep.yml has)."""
    matrix = (job.get("strategy") or {}).get("matrix") or {}
    if len(matrix) != 1:
        raise LocalCIError(f"{WORKFLOW}: the replay knows a matrix of one axis, not {matrix}")
    ((axis, values),) = matrix.items()
    try:
        values = interpolate(values, {"needs": needs})
    except ExpressionError as exc:
        raise LocalCIError(f"{WORKFLOW}: matrix {axis}: {exc}") from exc
    if not isinstance(values, list) or not values:
        raise LocalCIError(f"{WORKFLOW}: matrix {axis} is not a non-empty list: {values!r}")
    return [{axis: value} for value in values]


def run_sweep(
    repo: Path,
    scratch: Path,
    sweep_file: str = "sweep.yaml",
    runners: int = 2,
    trials: int | None = None,
    open_pr: bool = True,
    log: Any = None,
) -> SweepLoopResult:
    log = log or sys.stdout
    repo = Path(git(repo, "rev-parse", "--show-toplevel"))
    head_sha = git(repo, "rev-parse", "HEAD^{commit}")
    venv = Path(sys.prefix)
    workflow = repo / ".github" / "workflows" / WORKFLOW
    spec = yaml.safe_load(workflow.read_text())["jobs"]
    scratch.mkdir(parents=True, exist_ok=True)
    remote = scratch / "remote.git"
    git(scratch, "init", "--quiet", "--bare", "--initial-branch", DEFAULT_BRANCH, str(remote))
    refs = [f"{head_sha}:refs/heads/{DEFAULT_BRANCH}", "refs/tags/*:refs/tags/*"]
    git(repo, "push", "--quiet", str(remote), *refs)
    storage = scratch / "dvc-storage"
    storage.mkdir(exist_ok=True)
    print(
        f"local-ci --sweep: scratch space {scratch}\n  remote {remote}\n  DVC remote {storage}\n"
        f"  {sweep_file} at {head_sha[:12]} ({DEFAULT_BRANCH}), {runners} runner(s)",
        file=log,
    )
    inputs: dict[str, Any] = {
        "sweep-file": sweep_file,
        "trials": "" if trials is None else str(trials),
        "runners": str(runners),
        "open-pr": open_pr,
    }
    state = FakeGitHubState()
    jobs: list[JobResult] = []
    with fake_github(state) as api_url:
        event = Event(
            "workflow_dispatch",
            head_sha,
            f"refs/heads/{DEFAULT_BRANCH}",
            {"inputs": inputs, "repository": {"default_branch": DEFAULT_BRANCH}},
            secrets={"DVC_REMOTE_URL": str(storage)},
            inputs=inputs,
            api_url=api_url,
        )
        runner = JobRunner(scratch, venv, log)

        def job(job_id: str, needs: dict[str, Any]) -> JobResult:
            if not needs_met(spec[job_id], needs):
                runner.say(f"\n=== {WORKFLOW} / {job_id}: skipped (a job it needs failed)")
                return _skipped(job_id)
            workspace = clone(remote, scratch / "jobs" / f"sweep-{job_id}", head_sha, venv)
            return runner.run(workflow, job_id, workspace, event, needs=needs)

        plan = job("plan", {})
        jobs.append(plan)
        needs: dict[str, Any] = {"plan": {"result": plan.result, "outputs": plan.outputs}}
        shards = _run_matrix(runner, workflow, spec, remote, scratch, event, needs, log)
        jobs += shards
        failed = any(j.result == "failure" for j in shards) or not shards
        needs["trials"] = {"result": "failure" if failed else "success", "outputs": {}}
        rank = job("rank", needs)
        jobs.append(rank)
        jobs.append(job("pr", {"rank": {"result": rank.result, "outputs": rank.outputs}}))

    ranking_dir = scratch / "artifacts" / "sweep-ranking"
    ranking_json = ranking_dir / "ranking.json"
    ranking = json.loads(ranking_json.read_text()) if ranking_json.is_file() else None
    comments = {n: [str(c["body"]) for c in cs] for n, cs in state.comments.items()}
    result = SweepLoopResult(jobs, remote_experiments(remote), ranking, state.opened, comments)
    print("\n=== summary", file=log)
    for done in jobs:
        print(f"    {done.workflow} / {done.job}: {done.result}", file=log)
    pushed = ", ".join(sorted(result.remote_experiments)) or "none"
    print(f"    experiments on the remote: {pushed}", file=log)
    for pull in state.opened:
        print(f"    pull request #{pull['number']}: {pull['head']} -> {pull['base']}", file=log)
    ranking_md = ranking_dir / "ranking.md"
    if ranking_md.is_file():
        print(f"\n--- ranking ---\n{ranking_md.read_text()}---", file=log)
    print(f"local-ci --sweep: {'OK' if result.ok else 'FAILED'}", file=log)
    return result


def _run_matrix(
    runner: JobRunner,
    workflow: Path,
    spec: Mapping[str, Any],
    remote: Path,
    scratch: Path,
    event: Event,
    needs: dict[str, Any],
    log: Any,
) -> list[JobResult]:
    """Job ``trials``, one parallel process (and clone) per matrix combination; each job's
    log is printed whole when it ends, so the jobs' lines do not interleave."""
    if not needs_met(spec["trials"], needs):
        runner.say(f"\n=== {WORKFLOW} / trials: skipped (a job it needs failed)")
        return [_skipped("trials")]
    combinations = _matrix(spec["trials"], needs)
    venv = Path(sys.prefix)

    def one(index: int, combination: dict[str, Any]) -> JobResult:
        buffer = io.StringIO()
        shard_runner = JobRunner(scratch, venv, buffer)
        shard_runner.run_id = runner.run_id + 100 * (index + 1)
        workspace = clone(remote, scratch / "jobs" / f"sweep-trials-{index}", event.sha, venv)
        try:
            done = shard_runner.run(workflow, "trials", workspace, event, combination, needs)
        finally:
            print(buffer.getvalue(), end="", file=log, flush=True)
        done.job = f"trials {next(iter(combination.values()))}"  # one line per shard
        return done

    with ThreadPoolExecutor(max_workers=len(combinations)) as pool:
        futures = [pool.submit(one, i, c) for i, c in enumerate(combinations)]
        return [future.result() for future in futures]
