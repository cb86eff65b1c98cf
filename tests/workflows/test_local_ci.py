"""scripts/local_ci.py: the CI/CD loop replayed from the workflow files, without GitHub.

The fast tests replay toy workflows (same files and job ids, tiny make targets) through the
real runner, artifact hand-over, local GitHub API stand-in and bare remote. The slow test
replays mlgate's own workflows on this repository: dvc repro, mlgate check/report/release
and the tag on the remote.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import job_runner, local_ci
from scripts.drift_issue import MARKER as MONITOR_MARKER
from scripts.pr_comment import MARKER

ROOT = Path(__file__).resolve().parents[2]
PIN = "actions/{}@11bd71901bbe5b1630ceea73d27597364c9af683 # v4"

TOY_CI = f"""
name: ci
on: [push, pull_request]
permissions: {{}}
env:
  TOY_GREETING: hello
jobs:
  pipeline:
    runs-on: ubuntu-latest
    timeout-minutes: 5
    permissions: {{contents: read}}
    steps:
      - uses: {PIN.format("checkout")}
        with: {{persist-credentials: false}}
      - id: install
        run: make must-not-run
      - name: Pull
        if: github.event_name == 'push'
        run: make must-not-run
      - id: repro
        run: make ci-repro
      - id: gates
        run: make ci-check
      - id: report
        if: >-
          ${{{{ !cancelled() && steps.repro.outcome == 'success'
          && github.event_name == 'pull_request' }}}}
        env:
          MLGATE_BASE: ${{{{ github.event.pull_request.base.sha }}}}
          MLGATE_PR_NUMBER: ${{{{ github.event.pull_request.number }}}}
        run: make ci-report
      - if: ${{{{ !cancelled() && steps.report.outcome == 'success' }}}}
        uses: {PIN.format("upload-artifact")}
        with: {{name: pr-report, path: build/pr-report/, if-no-files-found: error}}
"""
TOY_PR_REPORT = (ROOT / ".github/workflows/pr-report.yml").read_text()
TOY_RELEASE = """
name: release
on: {push: {branches: [main]}}
permissions: {}
jobs:
  release:
    if: github.ref == format('refs/heads/{0}', github.event.repository.default_branch)
    runs-on: ubuntu-latest
    timeout-minutes: 5
    permissions: {contents: write}
    env: {TOY_GREETING: hello}
    steps:
      - run: make ci-repro
      - run: make ci-check
      - env:
          DVC_REMOTE_URL: ${{ secrets.DVC_REMOTE_URL }}
        run: make ci-release
"""
TOY_MONITOR = (ROOT / ".github/workflows/monitor.yml").read_text()
TOY_MAKEFILE = """\
ci-repro:
\ttest "$$TOY_GREETING" = hello && touch repro.done
ci-check:
\ttest -f repro.done && ! test -f gates.fail
ci-report:
\tmkdir -p build/pr-report
\tprintf '%s\\n## toy report for %s\\n' '<!-- mlgate-report -->' "$$MLGATE_BASE" \\
\t\t> build/pr-report/report.md
\tprintf '%s\\n' "$$MLGATE_PR_NUMBER" > build/pr-report/pr-number
ci-release:
\ttest -n "$$DVC_REMOTE_URL"
\tgit tag -a toy@v0.1.0 -m "release $$GITHUB_SHA" "$$GITHUB_SHA"
\tgit push --quiet origin toy@v0.1.0
must-not-run:
\texit 1
dvc-pull:
\t@echo "no DVC_REMOTE_URL: $${DVC_REMOTE_URL:-none}"
monitor-drift:
\t.venv/bin/python -m scripts.monitor_batch
\tmkdir -p metrics
\tif grep -q 'data/current/' params.yaml; then echo '$(DRIFTED)'; else echo '$(STABLE)'; fi \\
\t\t> metrics/drift.json
monitor-check:
\tmkdir -p build/monitor && cp metrics/drift.json build/monitor/drift.json
\tif grep -q '"drifted": true' metrics/drift.json; then \\
\t\techo '$(FAILED)' > build/monitor/gate.json; exit 1; \\
\telse echo '{"passed": true, "rules": []}' > build/monitor/gate.json; fi
DRIFTED := {"n_columns": 2, "columns": {"age": {"psi": 0.4, "p_value": 0.001, "drifted": true}}}
STABLE := {"n_columns": 2, "columns": {"age": {"psi": 0.01, "p_value": 0.5, "drifted": false}}}
FAILED := {"passed": false, "rules": [{"metric": "share_drifted", "value": 0.5, "passed": false, \\
\t"reason": "0.5 > max 0.2"}]}
"""
TOY_PARAMS = """\
ingest:
  current_source: data/raw/test.csv  # the batch watched for drift
"""


def toy_repo(tmp_path: Path, gates_fail: bool = False) -> Path:
    repo = tmp_path / "toy"
    workflows = repo / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text(TOY_CI)
    (workflows / "pr-report.yml").write_text(TOY_PR_REPORT)
    (workflows / "release.yml").write_text(TOY_RELEASE)
    (workflows / "monitor.yml").write_text(TOY_MONITOR)
    (repo / "params.yaml").write_text(TOY_PARAMS)
    (repo / "Makefile").write_text(TOY_MAKEFILE)
    shutil.copytree(ROOT / "scripts", repo / "scripts", ignore=shutil.ignore_patterns("__py*"))
    (repo / ".gitignore").write_text("build/\n.venv\n*.done\n")
    if gates_fail:
        (repo / "gates.fail").write_text("")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "toy"], cwd=repo, check=True)
    return repo


def test_the_toy_loop_comments_once_and_tags_on_the_remote(tmp_path: Path, capsys) -> None:
    repo = toy_repo(tmp_path)
    result = local_ci.run_loop(repo, tmp_path / "scratch")
    out = capsys.readouterr().out
    assert [(j.workflow, j.job, j.result) for j in result.jobs] == [
        ("ci.yml", "pipeline", "success"),
        ("pr-report.yml", "comment", "success"),
        ("release.yml", "release", "success"),
    ]
    pipeline = {s.name: s.outcome for s in result.jobs[0].steps}
    assert pipeline["Pull"] == "skipped"  # a pull request gets no remote
    assert result.comments == [
        f"{MARKER}\n## toy report for {result.head_sha}\n"
    ]  # posted through the real script and HTTP, to the local stand-in
    assert result.released == ["toy@v0.1.0"]
    assert result.ok
    assert "release tags on the remote" in out and "local-ci: OK" in out


@pytest.mark.parametrize("drifted", [True, False])
def test_the_monitor_writes_one_issue_only_when_the_batch_drifts(
    tmp_path: Path, drifted: bool
) -> None:
    repo = toy_repo(tmp_path)
    batch = tmp_path / "2026-11-23.csv"
    batch.write_text("age\n99\n")
    result = local_ci.run_loop(repo, tmp_path / "scratch", monitor_batch=batch if drifted else None)
    assert result.ok
    if not drifted:
        assert [j.workflow for j in result.jobs] == ["ci.yml", "pr-report.yml", "release.yml"]
        assert result.issues == []
        return
    monitor = result.jobs[-1]
    assert (monitor.workflow, monitor.result) == ("monitor.yml", "drift found, issue written")
    assert len(result.issues) == 1
    assert result.issues[0].startswith(MONITOR_MARKER)
    assert "| `age` |" in result.issues[0] and "0.5 > max 0.2" in result.issues[0]


def test_a_failing_gate_still_comments_but_releases_nothing(tmp_path: Path, capsys) -> None:
    repo = toy_repo(tmp_path, gates_fail=True)
    result = local_ci.run_loop(repo, tmp_path / "scratch")
    assert [j.result for j in result.jobs] == ["failure", "success", "failure"]
    steps = {s.name: s.outcome for s in result.jobs[0].steps}
    assert steps["make ci-check"] == "failure"
    assert len(result.comments) == 1  # the contributor sees the report of the failing run
    assert result.released == []
    assert not result.ok
    assert "local-ci: FAILED" in capsys.readouterr().out


def test_a_step_that_would_reinstall_into_the_linked_venv_fails(tmp_path: Path) -> None:
    repo = toy_repo(tmp_path)
    ci = (repo / ".github/workflows/ci.yml").read_text()
    (repo / ".github/workflows/ci.yml").write_text(
        ci.replace("run: make ci-repro", "run: make dev")
    )
    subprocess.run(["git", "commit", "-q", "-am", "reinstall"], cwd=repo, check=True)
    result = local_ci.run_loop(repo, tmp_path / "scratch")
    repro = next(s for s in result.jobs[0].steps if s.name == "make dev")
    assert repro.outcome == "failure" and "would reinstall" in repro.note
    assert not result.ok


def test_a_base_that_is_not_an_ancestor_is_refused(tmp_path: Path) -> None:
    repo = toy_repo(tmp_path)
    subprocess.run(["git", "checkout", "-q", "--orphan", "other"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "unrelated"], cwd=repo, check=True)
    with pytest.raises(job_runner.LocalCIError, match="not an ancestor"):
        local_ci.run_loop(repo, tmp_path / "scratch", base="main")


def test_main_refuses_a_non_empty_workdir(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("x")
    assert local_ci.main(["--workdir", str(tmp_path / "busy")]) == 2


def _mlgate_has(command: str) -> bool:
    mlgate = Path(sys.executable).with_name("mlgate")
    done = subprocess.run([str(mlgate), command, "--help"], capture_output=True, check=False)
    return done.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(
    not all(_mlgate_has(c) for c in ("check", "report", "release")),
    reason="needs mlgate check, report and release (built by the gates and registry teams)",
)
def test_the_real_loop_reproduces_reports_releases_and_monitors(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    batch = drifted_batch(tmp_path / "2026-11-23.csv.gz")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts.local_ci",
            "--workdir",
            str(scratch),
            "--monitor-batch",
            str(batch),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    # The commit the loop tested (HEAD may have moved since: others commit in this checkout).
    head = subprocess.run(
        ["git", "rev-parse", "refs/heads/pr-1"],
        cwd=scratch / "remote.git",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    tags = job_runner.remote_tags(scratch / "remote.git")
    released = [t for t, sha in tags.items() if sha == head and t.startswith("income-model@v")]
    assert released, tags
    report = (scratch / "artifacts" / "pr-report" / "report.md").read_text()
    assert MARKER in report
    assert (scratch / "artifacts" / "pr-report" / "pr-number").read_text() == "1\n"
    assert "--- comment on pull request #1 ---" in done.stdout
    assert any((scratch / "dvc-storage").rglob("*")), "release pushed nothing to the DVC remote"
    assert "monitor.yml / drift: drift found, issue written" in done.stdout
    issue = done.stdout.split("--- drift issue ---", 1)[1]
    assert "| `age` |" in issue and "| `sex` |" in issue


def drifted_batch(path: Path) -> Path:
    """The published test split, everyone 15 years older, working 15 more hours, female."""
    import gzip

    rows = []
    with gzip.open(ROOT / "data/raw/adult.test.gz", "rt") as source:
        lines = source.read().splitlines()
    for line in lines:
        fields = [f.strip() for f in line.split(",")]
        if len(fields) == 15 and fields[0].isdigit():
            fields[0] = str(min(int(fields[0]) + 15, 90))
            fields[12] = str(min(int(fields[12]) + 15, 99))
            fields[9] = "Female"
            line = ", ".join(fields)
        rows.append(line)
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(rows) + "\n")
    return path


def test_step_outputs_and_env_files_are_read_like_github(tmp_path: Path) -> None:
    path = tmp_path / "output"
    path.write_text("plain=1\nwith=equals=sign\nbody<<EOF\nline one\nline=two\nEOF\nlast=x\n")
    assert job_runner._parse_command_file(path) == {
        "plain": "1",
        "with": "equals=sign",
        "body": "line one\nline=two",
        "last": "x",
    }
    assert job_runner._parse_command_file(tmp_path / "missing") == {}
