"""The workflows' hardening rules, read from the YAML (scripts/workflow_policy.py).

Each rule is shown to pass on the real workflows and to catch a violation in a small bad
workflow, so a weakened workflow or a broken checker both fail here.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from scripts import workflow_policy as policy

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2"


def real() -> dict[str, policy.Workflow]:
    return {wf.filename: wf for wf in policy.load_workflows(WORKFLOWS)}


def parse(text: str, filename: str = "bad.yml") -> policy.Workflow:
    text = textwrap.dedent(text)
    return policy.Workflow(filename, yaml.safe_load(text), tuple(text.splitlines()))


GOOD = f"""
    name: good
    on: [push]
    permissions: {{}}
    jobs:
      build:
        runs-on: ubuntu-latest
        timeout-minutes: 5
        permissions:
          contents: read
        steps:
          - uses: {CHECKOUT}
            with:
              persist-credentials: false
          - run: make test
"""


def test_the_five_workflows_exist() -> None:
    assert set(real()) == {"ci.yml", "pr-report.yml", "release.yml", "monitor.yml", "sweep.yml"}


def test_the_real_workflows_satisfy_every_rule() -> None:
    targets = policy.makefile_targets(ROOT / "Makefile")
    assert policy.check_all(list(real().values()), targets) == []


def test_the_minimal_good_workflow_passes() -> None:
    assert policy.check_all([parse(GOOD)], frozenset({"test"})) == []


# --- each rule catches its violation -------------------------------------------------------


def test_top_level_permissions_must_be_empty() -> None:
    bad = parse(GOOD.replace("permissions: {}", "permissions: write-all"))
    assert policy.check_permissions(bad) == ["bad.yml: top-level 'permissions' must be {}"]


def test_every_job_declares_permissions() -> None:
    bad = parse(GOOD.replace("        permissions:\n          contents: read\n", ""))
    assert "declare 'permissions'" in policy.check_permissions(bad)[0]


@pytest.mark.parametrize(
    ("filename", "job", "scope", "allowed"),
    [
        ("bad.yml", "build", "contents", False),
        ("release.yml", "release", "contents", True),
        ("release.yml", "release", "issues", False),
        ("pr-report.yml", "comment", "pull-requests", True),
        ("pr-report.yml", "comment", "contents", False),
        ("monitor.yml", "drift", "issues", True),
        ("monitor.yml", "drift", "contents", False),
        ("ci.yml", "pipeline", "pull-requests", False),
    ],
)
def test_only_the_listed_jobs_write(filename: str, job: str, scope: str, allowed: bool) -> None:
    text = GOOD.replace("build:", f"{job}:").replace("contents: read", f"{scope}: write")
    problems = policy.check_permissions(parse(text, filename))
    assert (problems == []) is allowed


def test_real_write_permissions_are_exactly_the_promised_ones() -> None:
    writes = {
        (wf.filename, job_id, scope)
        for wf in real().values()
        for job_id, job in wf.jobs.items()
        for scope, level in job["permissions"].items()
        if level == "write"
    }
    assert writes == {
        ("release.yml", "release", "contents"),
        ("pr-report.yml", "comment", "pull-requests"),
        ("monitor.yml", "drift", "issues"),
        ("monitor.yml", "batch", "issues"),
        ("monitor.yml", "batch", "contents"),  # the batch's record, monitoring/ only
        ("monitor.yml", "retrain", "contents"),  # the retraining branch
        ("monitor.yml", "retrain", "pull-requests"),  # the retraining pull request
        ("sweep.yml", "trials", "contents"),
        ("sweep.yml", "pr", "contents"),
        ("sweep.yml", "pr", "pull-requests"),
    }


def test_pull_request_target_is_refused() -> None:
    bad = parse(GOOD.replace("on: [push]", "on: [pull_request_target]"))
    assert policy.check_triggers(bad) == ["bad.yml: 'pull_request_target' is not allowed"]


def test_workflow_run_needs_the_allow_list_and_a_reasoned_ignore() -> None:
    trigger = "on:\n      workflow_run:\n        workflows: [ci]"
    bad = parse(GOOD.replace("on: [push]", trigger))
    assert len(policy.check_triggers(bad)) == 2
    in_place = parse(GOOD.replace("on: [push]", trigger), "pr-report.yml")
    assert "needs an inline" in policy.check_triggers(in_place)[0]
    no_reason = trigger.replace(
        "workflow_run:", "workflow_run: # zizmor: ignore[dangerous-triggers]"
    )
    assert policy.check_triggers(parse(GOOD.replace("on: [push]", no_reason), "pr-report.yml"))
    reasoned = trigger.replace(
        "workflow_run:", "workflow_run: # zizmor: ignore[dangerous-triggers] fork comments"
    )
    assert policy.check_triggers(parse(GOOD.replace("on: [push]", reasoned), "pr-report.yml")) == []


def test_pr_report_is_the_only_workflow_run_and_says_why() -> None:
    users = [name for name, wf in real().items() if "workflow_run" in wf.triggers]
    assert users == ["pr-report.yml"]
    assert all("pull_request_target" not in wf.triggers for wf in real().values())


@pytest.mark.parametrize(
    "uses",
    [
        "actions/checkout@v4",
        "actions/checkout@main",
        "actions/checkout@11bd719",
        "actions/checkout@11BD71901BBE5B1630CEEA73D27597364C9AF683",
        "docker://alpine:3",
    ],
)
def test_unpinned_actions_are_caught(uses: str) -> None:
    bad = parse(GOOD.replace(CHECKOUT, uses))
    assert "not pinned to a full commit SHA" in policy.check_pinned_actions(bad)[0]


def test_a_pin_needs_its_version_comment() -> None:
    bad = parse(GOOD.replace(" # v4.2.2", ""))
    assert "needs the version in a comment" in policy.check_pinned_actions(bad)[0]


def test_one_action_one_commit_everywhere() -> None:
    other = parse(GOOD.replace("11bd7190", "00000000"), "other.yml")
    problems = policy.check_consistent_pins([parse(GOOD), other])
    assert problems and "actions/checkout pinned to 00000000" in problems[0]


def test_checkout_must_drop_credentials_unless_the_job_pushes() -> None:
    keeps = parse(GOOD.replace("persist-credentials: false", "fetch-depth: 0"))
    assert "persist-credentials: false" in policy.check_checkout_credentials(keeps)[0]
    pushing = GOOD.replace("build:", "release:").replace("false", "true")
    assert policy.check_checkout_credentials(parse(pushing, "release.yml")) == []
    implicit = GOOD.replace("build:", "release:").replace("persist-credentials: false", "a: 1")
    assert "explicitly" in policy.check_checkout_credentials(parse(implicit, "release.yml"))[0]


@pytest.mark.parametrize(
    "extra",
    [
        "ref: ${{ github.event.workflow_run.head_sha }}",
        "repository: ${{ github.event.workflow_run.head_repository.full_name }}",
    ],
)
def test_a_workflow_run_job_never_checks_out_the_pull_requests_code(extra: str) -> None:
    trigger = "on:\n      workflow_run: # zizmor: ignore[dangerous-triggers] why\n"
    text = GOOD.replace("on: [push]\n", trigger).replace(
        "persist-credentials: false", f"persist-credentials: false\n              {extra}"
    )
    problems = policy.check_privileged_checkout(parse(text, "pr-report.yml"))
    assert problems and "may not set" in problems[0]
    assert policy.check_privileged_checkout(parse(GOOD)) == []


@pytest.mark.parametrize(
    ("run", "message"),
    [
        ('echo "${{ github.event.pull_request.title }}"', "pass values through 'env:'"),
        ("make x ${{ github.head_ref }}", "pass values through 'env:'"),
        ("|\n                  make test\n                  make lint", "one line"),
        ("pip install -e .", "must call make, mlgate, dvc or scripts/"),
        ("curl https://x.test | sh", "must call make, mlgate, dvc or scripts/"),
        ("make no-such-target", "no Makefile target 'no-such-target'"),
    ],
)
def test_run_steps_call_repository_commands_without_expressions(run: str, message: str) -> None:
    bad = parse(GOOD.replace("run: make test", f"run: {run}"))
    problems = policy.check_run_steps(bad, frozenset({"test", "x", "lint"}))
    assert any(message in p for p in problems), problems


def test_no_event_or_head_ref_expression_anywhere_in_run() -> None:
    for wf in real().values():
        for _job, _i, step in wf.steps():
            assert "${{" not in str(step.get("run", ""))


@pytest.mark.parametrize("timeout", [None, 0, "10", True, 1000])
def test_every_job_has_a_timeout(timeout: object) -> None:
    line = "" if timeout is None else f"timeout-minutes: {yaml.safe_dump(timeout).split()[0]}"
    text = GOOD.replace("timeout-minutes: 5", line)
    if timeout == "10":
        text = GOOD.replace("timeout-minutes: 5", 'timeout-minutes: "10"')
    assert "timeout-minutes" in policy.check_timeouts(parse(text))[0]


def test_the_command_line_reports_and_exits_1(tmp_path: Path, capsys, monkeypatch) -> None:
    (tmp_path / "bad.yml").write_text(textwrap.dedent(GOOD).replace("permissions: {}", ""))
    monkeypatch.chdir(tmp_path)
    assert policy.main([str(tmp_path)]) == 1
    assert "1 problem(s)" in capsys.readouterr().out
    assert policy.main([str(tmp_path / "empty")]) == 2


# --- what each workflow promises beyond the generic rules ----------------------------------


def steps_of(wf: policy.Workflow, job: str) -> list[dict]:
    return list(wf.jobs[job]["steps"])


def test_ci_runs_on_push_and_pull_request_with_history_and_uploads_the_report() -> None:
    ci = real()["ci.yml"]
    assert set(ci.triggers) == {"push", "pull_request"}
    pipeline = steps_of(ci, "pipeline")
    checkout = pipeline[0]
    assert checkout["with"]["fetch-depth"] == 0
    runs = [s.get("run") for s in pipeline if "run" in s]
    assert runs == [
        "make dev",
        "make dvc-pull",
        "make ci-repro",
        "make ci-check",
        "make ci-report",
    ]
    pull = next(s for s in pipeline if s.get("run") == "make dvc-pull")
    assert pull["if"] == "github.event_name == 'push'"  # forks and PRs reproduce from scratch
    report = next(s for s in pipeline if s.get("run") == "make ci-report")
    assert report["env"]["MLGATE_BASE"] == "${{ github.event.pull_request.base.sha }}"
    upload = pipeline[-1]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["with"]["name"] == "pr-report"
    setup = next(s for s in pipeline if str(s.get("uses", "")).startswith("actions/setup-python"))
    assert setup["with"]["cache"] == "pip"
    assert setup["with"]["cache-dependency-path"] == "pyproject.toml"
    lint_runs = [s.get("run") for s in steps_of(ci, "lint")]
    assert "make lint-workflows" in lint_runs and "make lint" in lint_runs


def test_pr_report_follows_ci_and_downloads_its_artifact() -> None:
    wf = real()
    report = wf["pr-report.yml"]
    assert report.triggers["workflow_run"]["workflows"] == [wf["ci.yml"].data["name"]]
    job = report.jobs["comment"]
    assert "github.event.workflow_run.event == 'pull_request'" in job["if"]
    download = next(s for s in job["steps"] if "download-artifact" in str(s.get("uses")))
    assert download["with"]["name"] == "pr-report"
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    post = job["steps"][-1]
    assert post["run"].startswith("python3 -m scripts.pr_comment ")
    assert post["env"]["HEAD_SHA"] == "${{ github.event.workflow_run.head_sha }}"


def test_release_is_serialised_uncached_and_tags_the_pushed_commit() -> None:
    release = real()["release.yml"]
    assert release.triggers == {"push": {"branches": ["main"]}}
    assert release.data["concurrency"] == {"group": "release", "cancel-in-progress": False}
    steps = steps_of(release, "release")
    assert not any("actions/cache" in str(s.get("uses")) for s in steps)
    assert not any("cache" in (s.get("with") or {}) for s in steps)
    runs = [s["run"] for s in steps if "run" in s]
    assert runs == [
        "make dev",
        "make dvc-pull",
        "make ci-repro",
        "make ci-check",
        "make dvc-push",
        "make ci-release",
    ]
    makefile = (ROOT / "Makefile").read_text()
    assert 'mlgate release --rev "$$GITHUB_SHA"' in makefile


def test_monitor_is_scheduled_and_dispatchable_and_reports_through_one_issue() -> None:
    monitor = real()["monitor.yml"]
    assert set(monitor.triggers) == {"schedule", "workflow_dispatch"}
    steps = steps_of(monitor, "drift")
    gate = next(s for s in steps if s.get("id") == "gate")
    issue = steps[-1]
    assert issue["run"].startswith("python3 -m scripts.drift_issue ")
    assert "steps.gate.outcome == 'failure'" in issue["if"]
    assert steps.index(gate) < steps.index(issue)


def test_the_docs_document_every_workflow_and_ci_make_target() -> None:
    """docs/cicd.md names every workflow and CI make target; each workflow has its page."""
    section = (ROOT / "docs" / "cicd.md").read_text()
    # sweep is documented with the command it runs on runners (its "On CI runners" section)
    pages = {"sweep.yml": ROOT / "docs" / "commands" / "sweep.md"}
    for name in real():
        assert f"`{name.removesuffix('.yml')}`" in section, name
        page = pages.get(name, ROOT / "docs" / "workflows" / f"{name.removesuffix('.yml')}.md")
        assert page.is_file(), f"no docs page {page.relative_to(ROOT)} for workflow {name}"
        if name in pages:
            assert name in page.read_text(), f"{page.relative_to(ROOT)} never names {name}"
    makefile = (ROOT / "Makefile").read_text()
    ours = makefile.split("# --- CI/CD", 1)[1]
    targets = policy.makefile_targets_text(ours) - {"node_modules/.package-lock.json"}
    assert targets, "no CI/CD targets found in the Makefile"
    # the monitoring targets are documented on their reference page (issue 18)
    monitoring = (ROOT / "docs" / "monitoring.md").read_text()
    for target in sorted(targets):
        assert f"make {target}" in section or f"make {target}" in monitoring, target
