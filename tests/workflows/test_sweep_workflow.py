"""The sweep workflow (.github/workflows/sweep.yml): hardened and wired as
docs/commands/sweep.md "On CI runners" says, its steps (scripts/sweep_ci.py), and its
local replay (scripts/local_sweep.py) on a tiny DVC project: two shards in parallel push their
experiments to a bare remote, the rank job sees them all, the pull request job pushes the
branch of the best one and opens the pull request on the local GitHub API stand-in.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts import local_sweep, sweep_ci
from scripts import workflow_policy as policy
from scripts.github_api import GitHub, Request, Response
from scripts.sweep_ci import SweepCIError

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "sweep.yml"


def jobs() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"]


def steps(job_id: str) -> list[dict[str, Any]]:
    return list(jobs()[job_id]["steps"])


def run_steps(job_id: str) -> dict[str, dict[str, Any]]:
    """The ``run:`` steps of a job by their command."""
    return {str(s["run"]): s for s in steps(job_id) if "run" in s}


# --- the workflow file ----------------------------------------------------------------------


def test_the_sweep_workflow_satisfies_the_policy() -> None:
    workflow = policy.Workflow.load(WORKFLOW)
    targets = policy.makefile_targets(ROOT / "Makefile")
    assert policy.check_all([workflow], targets) == []


def test_it_is_dispatched_by_hand_with_the_documented_inputs() -> None:
    workflow = policy.Workflow.load(WORKFLOW)
    assert set(workflow.triggers) == {"workflow_dispatch"}
    inputs = workflow.triggers["workflow_dispatch"]["inputs"]
    assert {name: (i["type"], i["default"]) for name, i in inputs.items()} == {
        "sweep-file": ("string", "sweep.yaml"),
        "trials": ("string", ""),
        "runners": ("string", "2"),
        "open-pr": ("boolean", False),
    }
    docs = (ROOT / "docs" / "commands" / "sweep.md").read_text()
    section = docs[docs.index("## On CI runners") :]
    for name in (*inputs, "make ci-local-sweep", "DVC_REMOTE_URL", "sweep-ranking"):
        assert f"`{name}" in section, f"sweep.md 'On CI runners' does not mention {name}"


def test_the_matrix_is_the_plans_shards_and_the_jobs_chain() -> None:
    plan, trials, rank, pr = (jobs()[j] for j in ("plan", "trials", "rank", "pr"))
    assert plan["outputs"] == {"shards": "${{ steps.plan.outputs.shards }}"}
    assert trials["needs"] == "plan"
    assert trials["strategy"] == {
        "fail-fast": False,
        "matrix": {"shard": "${{ fromJSON(needs.plan.outputs.shards) }}"},
    }
    assert rank["needs"] == ["plan", "trials"]
    # a failed shard still leaves the others' experiments to rank
    assert rank["if"] == "${{ !cancelled() && needs.plan.result == 'success' }}"
    assert (pr["needs"], pr["if"]) == ("rank", "${{ inputs.open-pr }}")


def test_inputs_and_secrets_reach_the_steps_through_env_only() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow["env"]["SWEEP_FILE"] == "${{ inputs.sweep-file }}"
    assert workflow["env"]["SWEEP_TRIALS"] == "${{ inputs.trials }}"
    assert run_steps("plan")["make sweep-plan"]["env"] == {"SWEEP_RUNNERS": "${{ inputs.runners }}"}
    trials = run_steps("trials")["make sweep-trials"]["env"]
    assert trials["SWEEP_SHARD"] == "${{ matrix.shard }}"
    assert trials["DVC_REMOTE_URL"] == "${{ secrets.DVC_REMOTE_URL }}"
    pr = run_steps("pr")["make sweep-pr"]["env"]
    assert pr["GITHUB_TOKEN"] == "${{ github.token }}"
    assert pr["SWEEP_BASE_REF"] == "${{ github.ref }}"
    assert "${{" not in "".join(str(s.get("run", "")) for j in jobs() for s in steps(j))


def test_only_the_pushing_jobs_write_and_keep_the_token() -> None:
    permissions = {job_id: job["permissions"] for job_id, job in jobs().items()}
    assert permissions == {
        "plan": {"contents": "read"},
        "trials": {"contents": "write"},
        "rank": {"contents": "read"},
        "pr": {"contents": "write", "pull-requests": "write"},
    }
    kept = {
        job_id
        for job_id in jobs()
        for step in steps(job_id)
        if str(step.get("uses", "")).startswith("actions/checkout@")
        and step["with"]["persist-credentials"] is True
    }
    assert kept == {"trials", "rank", "pr"}
    raw = WORKFLOW.read_text()
    assert raw.count("persist-credentials: true # zizmor: ignore[artipacked] ") == 3


# --- the steps (scripts/sweep_ci.py) --------------------------------------------------------


@pytest.mark.parametrize(
    ("sampler", "runners", "count", "matrix", "warns"),
    [
        ("grid", 2, 4, ["0/2", "1/2"], False),
        ("random", 1, 4, ["all"], False),
        ("grid", 5, 3, ["0/3", "1/3", "2/3"], True),  # no runner without a trial
        ("grid", 3, 1, ["all"], False),
        ("tpe", 4, None, ["all"], True),  # tpe learns from every trial: one runner, said so
        ("tpe", 1, None, ["all"], False),
    ],
)
def test_shards(
    sampler: str, runners: int, count: int | None, matrix: list[str], warns: bool
) -> None:
    shards, note = sweep_ci.shards(sampler, runners, count)
    assert shards == matrix
    assert bool(note) is warns


@pytest.mark.parametrize("bad", ["", "-x", "/etc/passwd", "../sweep.yaml", "a/../../b.yaml"])
def test_a_sweep_file_outside_the_checkout_or_like_an_option_is_refused(bad: str) -> None:
    with pytest.raises(SweepCIError, match="sweep file"):
        sweep_ci.sweep_file(bad)


def test_numbers_and_shards_are_checked() -> None:
    assert sweep_ci.trials_override(" ") is None
    assert sweep_ci.trials_override("12") == 12
    for bad in ("0", "-1", "1e3", "two", "10001"):
        with pytest.raises(SweepCIError, match="trials"):
            sweep_ci.trials_override(bad)
    with pytest.raises(SweepCIError, match="runners"):
        sweep_ci.whole("21", "runners", 1, sweep_ci.MAX_RUNNERS)
    assert sweep_ci.shard_args("all") == []
    assert sweep_ci.shard_args("1/3") == ["--shard", "1/3"]
    with pytest.raises(SweepCIError, match="shard"):
        sweep_ci.shard_args("1/3; rm -rf /")


def test_the_experiments_of_one_commit_are_fetched() -> None:
    sha = "ab" + "c" * 38
    assert sweep_ci.experiment_refspec(sha) == (
        f"+refs/exps/ab/{'c' * 38}/*:refs/exps/ab/{'c' * 38}/*"
    )
    with pytest.raises(SweepCIError):
        sweep_ci.experiment_refspec("HEAD")


def test_the_best_passing_experiment_and_its_pull_request() -> None:
    ranking = {
        "main_metric": "roc_auc",
        "experiments": [
            {"name": "t-001", "verdict": "pass", "sha": "f" * 40, "main_value": 0.97,
             "params": {"train.quality": {"baseline": 0.93, "experiment": 0.97}}},
            {"name": "t-002", "verdict": "pass", "main_value": 0.95},
            {"name": "t-000", "verdict": "fail", "main_value": 0.9},
        ],
    }  # fmt: skip
    best = sweep_ci.best_passing(ranking)
    assert best is not None and best["name"] == "t-001"
    title, body = sweep_ci.pull_request_text(best, ranking, "main", "https://run")
    assert title == "Sweep: t-001 (roc_auc 0.97)"
    assert "| `train.quality` | 0.93 | **0.97** |" in body
    assert "close and reopen" in body
    assert sweep_ci.best_passing({"experiments": ranking["experiments"][2:]}) is None
    with pytest.raises(SweepCIError, match="branch-safe"):
        sweep_ci.best_passing({"experiments": [{"name": "x y", "verdict": "pass"}]})
    assert sweep_ci.base_branch("refs/heads/main") == "main"
    with pytest.raises(SweepCIError, match="needs a branch"):
        sweep_ci.base_branch("refs/tags/v1")


def test_plan_writes_the_matrix_and_warns_for_tpe(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sweep.yaml").write_text("name: s\nparams:\n  train.quality: [0.9, 0.95, 0.97]\n")
    (tmp_path / "tpe.yaml").write_text(
        "sampler: tpe\ntrials: 4\nparams:\n  train.quality: {low: 0.8, high: 0.99}\n"
    )
    output, summary = tmp_path / "output", tmp_path / "summary"
    env = {"GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}
    assert sweep_ci.plan({**env, "SWEEP_FILE": "sweep.yaml", "SWEEP_RUNNERS": "2"}) == 0
    assert output.read_text() == 'shards=["0/2", "1/2"]\n'
    assert sweep_ci.plan({**env, "SWEEP_FILE": "tpe.yaml", "SWEEP_RUNNERS": "3"}) == 0
    assert output.read_text().splitlines()[-1] == 'shards=["all"]'
    assert "tpe learns from every trial" in summary.read_text()
    with pytest.raises(SweepCIError, match="tirals"):
        (tmp_path / "bad.yaml").write_text("tirals: 3\nparams: {a: [1]}\n")
        sweep_ci.plan({**env, "SWEEP_FILE": "bad.yaml"})
    assert sweep_ci.main(["nope"]) == 2


def test_open_a_pull_request_through_the_api() -> None:
    sent: list[Request] = []

    def transport(request: Request) -> Response:
        sent.append(request)
        return Response(201, {}, b'{"number": 7}')

    github = GitHub("octo/mlgate", "t0ken", "https://api.test", transport)
    assert github.create_pull_request("T", "sweep/t-001", "main", "B")["number"] == 7
    assert (sent[0].method, sent[0].url) == ("POST", "https://api.test/repos/octo/mlgate/pulls")
    assert json.loads(sent[0].body or b"") == {
        "title": "T",
        "head": "sweep/t-001",
        "base": "main",
        "body": "B",
    }


def test_a_job_without_a_status_function_needs_every_needed_job_green() -> None:
    needs_ok = {"rank": {"result": "success"}}
    needs_bad = {"rank": {"result": "failure"}}
    pr = {"needs": "rank", "if": "${{ inputs.open-pr }}"}
    assert local_sweep.needs_met(pr, needs_ok) and not local_sweep.needs_met(pr, needs_bad)
    rank = {"needs": ["rank"], "if": "${{ !cancelled() }}"}
    assert local_sweep.needs_met(rank, needs_bad)


# --- the replay, on a tiny DVC project ------------------------------------------------------

SWEEP = "name: t\nsampler: grid\nparams:\n  train.quality: [0.9, 0.97, 0.95]\n"


def sweep_project(tmp_path: Path) -> Path:
    """tests/mlgate/repro_repo's two-stage project (train writes the param train.quality,
    evaluate turns it into roc_auc; gates roc_auc >= 0.92, accuracy = quality - 0.05 >=
    0.86) with this repository's sweep workflow, Makefile and scripts."""
    from tests.mlgate.repro_repo import build_two_stage

    repo = build_two_stage(tmp_path / "project")
    root = repo.root
    (root / ".github" / "workflows").mkdir(parents=True)
    shutil.copy2(WORKFLOW, root / ".github" / "workflows" / "sweep.yml")
    shutil.copy2(ROOT / "Makefile", root / "Makefile")
    shutil.copytree(ROOT / "scripts", root / "scripts", ignore=shutil.ignore_patterns("__py*"))
    (root / "sweep.yaml").write_text(SWEEP)
    with (root / ".gitignore").open("a") as ignore:
        ignore.write("build/\n.venv\n")
    repo.git("add", "-A")
    repo.commit("sweep workflow")
    return root


@pytest.mark.slow
def test_the_replay_pushes_every_trial_ranks_them_all_and_opens_a_pr(
    tmp_path: Path, capsys
) -> None:
    root = sweep_project(tmp_path)
    scratch = tmp_path / "scratch"
    result = local_sweep.run_sweep(root, scratch, "sweep.yaml", runners=2)
    out = capsys.readouterr().out
    assert [(j.job, j.result) for j in result.jobs] == [
        ("plan", "success"),
        ("trials 0/2", "success"),
        ("trials 1/2", "success"),
        ("rank", "success"),
        ("pr", "success"),
    ], out[-6000:]
    assert result.ok
    # every trial's experiment reached the bare remote, from its own shard's clone
    assert sorted(result.remote_experiments) == ["t-000", "t-001", "t-002"]
    # the rank job saw all of them: 0.97 first, 0.95 passes, 0.9 fails roc_auc >= 0.92
    assert result.ranking is not None
    ranked = [(e["name"], e["verdict"]) for e in result.ranking["experiments"]]
    assert ranked == [("t-001", "pass"), ("t-002", "pass"), ("t-000", "fail")]
    # the pull request's branch is on the remote, at the best experiment, with its params
    remote = scratch / "remote.git"
    branch = subprocess.run(
        ["git", "rev-parse", "refs/heads/sweep/t-001"],
        cwd=remote,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert branch == result.remote_experiments["t-001"]
    params = subprocess.run(
        ["git", "show", "sweep/t-001:params.yaml"], cwd=remote, capture_output=True, text=True
    ).stdout
    assert yaml.safe_load(params)["train"]["quality"] == 0.97
    [pull] = result.pull_requests
    assert (pull["head"], pull["base"]) == ("sweep/t-001", "main")
    [comment] = result.comments[pull["number"]]
    assert "t-001" in comment and "t-000" in comment
    assert any(storage.is_file() for storage in (scratch / "dvc-storage").rglob("*"))
    assert "local-ci --sweep: OK" in out and "--- ranking ---" in out


# --- the replay's wiring, on toy make targets (no DVC) --------------------------------------

# The real sweep.yml, with make targets that stand in for scripts/sweep_ci.py: each shard
# waits until every shard has started (so they must run in parallel), then pushes one
# experiment ref as `dvc exp push` would; `TOY_FAIL_SHARD` makes one shard fail.
TOY_MAKEFILE = """\
SHELL := bash
dvc-pull:
\t@echo "DVC remote: $$DVC_REMOTE_URL"
sweep-plan:
\ttest "$$SWEEP_FILE" = sweep.yaml && test "$$SWEEP_RUNNERS" = 2
\techo 'shards=["0/2", "1/2"]' >> "$$GITHUB_OUTPUT"
sweep-trials:
\ttouch "$$TOY_RENDEZVOUS/$${SWEEP_SHARD%/*}"
\tfor _ in $$(seq 100); do [ -e "$$TOY_RENDEZVOUS/0" ] && [ -e "$$TOY_RENDEZVOUS/1" ] && break; \\
\t\tsleep 0.2; done; [ -e "$$TOY_RENDEZVOUS/0" ] && [ -e "$$TOY_RENDEZVOUS/1" ]
\ttest "$${SWEEP_SHARD}" != "$$TOY_FAIL_SHARD"
\tsha=$$(git rev-parse HEAD); \\
\t\tgit update-ref "refs/exps/$${sha:0:2}/$${sha:2}/toy-$${SWEEP_SHARD%/*}" HEAD
\tgit push --quiet origin "refs/exps/*:refs/exps/*"
sweep-rank:
\tmkdir -p build/sweep && git fetch --quiet origin "+refs/exps/*:refs/exps/*"
\tgit for-each-ref --format='%(refname:lstrip=4)' refs/exps | sort > build/sweep/ranking.md
\tpython3 -c 'import json,sys; names=sys.stdin.read().split(); print(json.dumps({"experiments": \\
\t\t[{"name": n, "verdict": "pass"} for n in names]}))' \\
\t\t< build/sweep/ranking.md > build/sweep/ranking.json
sweep-pr:
\ttest "$$SWEEP_BASE_REF" = refs/heads/main && test -s build/sweep/ranking.json
\tgit push --quiet origin "HEAD:refs/heads/sweep/$$(head -1 build/sweep/ranking.md)"
"""


def toy_sweep_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "toy"
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copy2(WORKFLOW, repo / ".github" / "workflows" / "sweep.yml")
    (repo / "Makefile").write_text(TOY_MAKEFILE)
    (repo / ".gitignore").write_text("build/\n.venv\n")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "toy"], cwd=repo, check=True)
    return repo


def test_the_toy_replay_runs_the_shards_in_parallel_then_ranks_and_branches(
    tmp_path: Path, monkeypatch
) -> None:
    (tmp_path / "rendezvous").mkdir()
    monkeypatch.setenv("TOY_RENDEZVOUS", str(tmp_path / "rendezvous"))
    result = local_sweep.run_sweep(toy_sweep_repo(tmp_path), tmp_path / "scratch", runners=2)
    assert [(j.job, j.result) for j in result.jobs] == [
        ("plan", "success"),
        ("trials 0/2", "success"),
        ("trials 1/2", "success"),
        ("rank", "success"),
        ("pr", "success"),
    ]
    assert result.ok
    assert sorted(result.remote_experiments) == ["toy-0", "toy-1"]
    assert result.ranking == {
        "experiments": [{"name": "toy-0", "verdict": "pass"}, {"name": "toy-1", "verdict": "pass"}]
    }
    branches = subprocess.run(
        ["git", "branch", "--list", "sweep/*"],
        cwd=tmp_path / "scratch" / "remote.git",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert branches == ["sweep/toy-0"]


def test_a_failed_shard_still_ranks_the_others_and_no_pr_skips_the_pr(
    tmp_path: Path, monkeypatch
) -> None:
    (tmp_path / "rendezvous").mkdir()
    monkeypatch.setenv("TOY_RENDEZVOUS", str(tmp_path / "rendezvous"))
    monkeypatch.setenv("TOY_FAIL_SHARD", "1/2")
    result = local_sweep.run_sweep(
        toy_sweep_repo(tmp_path), tmp_path / "scratch", runners=2, open_pr=False
    )
    assert [(j.job, j.result) for j in result.jobs] == [
        ("plan", "success"),
        ("trials 0/2", "success"),
        ("trials 1/2", "failure"),
        ("rank", "success"),
        ("pr", "skipped"),
    ]
    assert not result.ok
    assert sorted(result.remote_experiments) == ["toy-0"]


def test_a_failed_plan_skips_every_other_job(tmp_path: Path, capsys) -> None:
    result = local_sweep.run_sweep(toy_sweep_repo(tmp_path), tmp_path / "scratch", runners=3)
    assert [(j.job, j.result) for j in result.jobs] == [
        ("plan", "failure"),
        ("trials", "skipped"),
        ("rank", "skipped"),
        ("pr", "skipped"),
    ]
    assert not result.ok
    assert "local-ci --sweep: FAILED" in capsys.readouterr().out


def test_from_json_reads_a_matrix_and_refuses_what_is_not_json() -> None:
    from scripts.gha_expr import ExpressionError, interpolate

    context = {"needs": {"plan": {"outputs": {"shards": '["0/2", "1/2"]', "bad": "[0/2"}}}}
    assert interpolate("${{ fromJSON(needs.plan.outputs.shards) }}", context) == ["0/2", "1/2"]
    with pytest.raises(ExpressionError, match="fromJSON"):
        interpolate("${{ fromJSON(needs.plan.outputs.bad) }}", context)
