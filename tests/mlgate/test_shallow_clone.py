"""Shallow clones, and clones made with --no-tags, never make mlgate silently wrong.

``actions/checkout`` fetches one commit and no tags unless told ``fetch-depth: 0``; users copy
our commands into such workflows. Each test makes a real shallow clone (``git clone --depth 1
file://...``, with and without ``--no-tags``, or the init-and-fetch that actions/checkout runs)
of a bare remote holding two releases, then runs mlgate in it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mlgate import lineage
from mlgate.cli import cli
from tests.mlgate.conftest import isolated_identity
from tests.mlgate.registry_repo import chdir, new_remote, tag_message, tag_names
from tests.mlgate.repo_factory import DEFAULT_GATES, ScratchRepo, metrics_with, run

FIX = "'git fetch --tags', or 'fetch-depth: 0' in actions/checkout"


@dataclass(frozen=True)
class Origin:
    """The developer's clone and the bare remote its ``main`` and tags were pushed to."""

    source: ScratchRepo
    remote: Path


@pytest.fixture(scope="module")
def origin(_template_repo: ScratchRepo, tmp_path_factory: pytest.TempPathFactory) -> Origin:
    """main: v1.0.0 (roc_auc 0.93, stage dev as demo-model#dev#1), v1.1.0 (0.95), then an
    unreleased commit whose roc_auc 0.94 regresses beyond the gates' max_regression 0.005; a
    branch ``feature`` with one commit on v1.1.0; all pushed with the tags. Built once: tests
    that push copy the remote first (``remote_copy``)."""
    with isolated_identity(tmp_path_factory.mktemp("home")):
        repo = _template_repo.copy_to(tmp_path_factory.mktemp("origin") / "repo")
        repo.tag_release("v1.0.0")
        repo.git("tag", "-a", "demo-model#dev#1", "-m", "promote v1.0.0 to dev")
        repo.release(metrics_with(roc_auc=0.95), "v1.1.0")
        repo.git("checkout", "-q", "-b", "feature")
        repo.set_committed_metrics(metrics_with(roc_auc=0.951))
        repo.commit("feature work")  # history only: report reads it from git
        repo.git("checkout", "-q", "main")
        repo.set_metrics(metrics_with(roc_auc=0.94))
        repo.repro()
        repo.commit("a regression")
        remote = new_remote(repo, repo.root.parent / "remote.git")
        repo.git("push", "-q", "origin", "feature", "--tags")
    return Origin(repo, remote)


def remote_copy(origin: Origin, tmp_path: Path) -> Path:
    return Path(shutil.copytree(origin.remote, tmp_path / "remote.git", symlinks=True))


# How a shallow clone comes about: git clone --depth 1 (tags on the fetched commit follow), the
# same with --no-tags, and what actions/checkout runs for a push to main.
CLONE_WAYS = ["depth-1", "depth-1-no-tags", "checkout-action"]


def shallow_clone(origin: Origin, path: Path, way: str, remote: Path | None = None) -> ScratchRepo:
    """A shallow clone of ``remote`` (default: the origin's) with the pipeline's outputs in
    place, as 'dvc pull' would bring them, so that the working tree is up to date."""
    url = f"file://{remote or origin.remote}"  # a plain path would ignore --depth
    if way == "checkout-action":
        path.mkdir()
        run(["git", "init", "-q"], path)
        run(["git", "remote", "add", "origin", url], path)
        fetch = ["git", "fetch", "-q", "--no-tags", "--depth=1", "origin"]
        run([*fetch, "+main:refs/remotes/origin/main"], path)
        run(["git", "checkout", "-q", "--force", "-B", "main", "refs/remotes/origin/main"], path)
    else:
        flags = ["--no-tags"] if way == "depth-1-no-tags" else []
        run(["git", "clone", "-q", "--depth", "1", *flags, url, str(path)], path.parent)
    clone = ScratchRepo(path)
    assert clone.git("rev-parse", "--is-shallow-repository") == "true"
    shutil.copytree(origin.source.root / ".dvc" / "cache", path / ".dvc" / "cache")
    shutil.copy(origin.source.root / "models" / "model.bin", path / "models" / "model.bin")
    return clone


def mlgate(root: Path, *args: str) -> Result:
    with chdir(root):
        return CliRunner().invoke(cli, list(args))


def error_line(result: Result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- check ------------------------------------------------------------------------------


@pytest.mark.parametrize("way", CLONE_WAYS)
def test_check_refuses_when_the_release_tags_were_not_fetched(
    origin: Origin, tmp_path: Path, way: str
) -> None:
    clone = shallow_clone(origin, tmp_path / "clone", way)
    assert clone.git("tag", "--list") == ""
    # Before: exit 0, roc_auc's change "not checked: no release yet", a regression passed.
    result = mlgate(clone.root, "check")
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    line = error_line(result)
    assert line.startswith("mlgate: error: no release of 'demo-model' found in this shallow clone")
    assert FIX in line and "--baseline none" in line
    # report has no --baseline option: the gates' own setting is named too
    assert line.endswith("(or set baseline: none under gates in params.yaml)")


@pytest.mark.parametrize("output_format", ["text", "json", "md"])
def test_check_refuses_in_every_format(origin: Origin, tmp_path: Path, output_format: str) -> None:
    clone = shallow_clone(origin, tmp_path / "clone", "depth-1")
    result = mlgate(clone.root, "check", "--rev", "HEAD", "--format", output_format)
    assert result.exit_code == 2 and result.stdout == ""
    assert FIX in error_line(result)


def test_fetching_the_tags_makes_check_judge_against_the_latest_release(
    origin: Origin, tmp_path: Path
) -> None:
    clone = shallow_clone(origin, tmp_path / "clone", "depth-1-no-tags")
    clone.git("fetch", "-q", "--tags")  # the fix the error names; the clone stays shallow
    result = mlgate(clone.root, "check", "--format", "json")
    assert result.exit_code == 1, result.output
    verdict = json.loads(result.stdout)
    assert verdict["baseline"]["ref"] == "demo-model@v1.1.0"
    assert "beyond allowed" in verdict["rules"][0]["reason"]


def test_an_explicit_baseline_none_is_judged_as_asked(origin: Origin, tmp_path: Path) -> None:
    # The way out for a project whose first CI run really has no release yet.
    clone = shallow_clone(origin, tmp_path / "clone", "depth-1")
    result = mlgate(clone.root, "check", "--baseline", "none")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("no baseline: baseline is 'none'")


def test_gates_without_change_rules_run_and_say_why_there_is_no_baseline(
    origin: Origin, tmp_path: Path
) -> None:
    # No rule compares with a release, so the verdict cannot depend on the missing tags;
    # the summary still must not claim there is "no release yet".
    clone = shallow_clone(origin, tmp_path / "clone", "depth-1")
    absolute = {
        **DEFAULT_GATES,
        "rules": [{"metric": "roc_auc", "direction": "higher", "min": 0.92}],
    }
    clone.write("gates.yaml", {"gates": absolute})
    text = mlgate(clone.root, "check", "--rev", "HEAD", "--gates", "gates.yaml")
    assert text.exit_code == 0, text.output
    summary = text.stdout.strip().splitlines()[-1]
    assert summary.startswith("PASSED: 1 gate(s) on HEAD")
    assert "no release of 'demo-model' found in this shallow clone" in summary and FIX in summary
    as_json = mlgate(clone.root, "check", "--gates", "gates.yaml", "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    verdict = json.loads(as_json.stdout)  # the JSON contract is unchanged
    assert set(verdict) == {"passed", "baseline", "rules"} and verdict["baseline"] is None


def test_a_full_clone_without_releases_still_passes_with_no_release_yet(
    scratch_repo: ScratchRepo,
) -> None:
    # A brand-new project in a full clone: nothing to fetch, nothing refused.
    result = mlgate(scratch_repo.root, "check")
    assert result.exit_code == 0, result.output
    assert "no release of 'demo-model' yet" in result.stdout


# --- report, and refs the clone never fetched --------------------------------------------


def feature_clone(origin: Origin, path: Path) -> ScratchRepo:
    """A pull request's shallow checkout: the feature branch, one commit deep, no tags."""
    url = f"file://{origin.remote}"
    flags = ["--depth", "1", "--no-tags", "--branch", "feature"]
    run(["git", "clone", "-q", *flags, url, str(path)], path.parent)
    return ScratchRepo(path)


def test_report_refuses_when_the_merge_base_was_not_fetched(origin: Origin, tmp_path: Path) -> None:
    clone = feature_clone(origin, tmp_path / "clone")
    clone.git("fetch", "-q", "--depth", "1", "origin", "main:refs/remotes/origin/main")
    # Before: exit 0, "share no history: comparing with `origin/main` itself", so the report
    # blamed this change for main's regression.
    result = mlgate(clone.root, "report", "--base", "origin/main")
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    line = error_line(result)
    assert "'origin/main' and 'HEAD' have no common commit in this shallow clone" in line
    assert "'git fetch --unshallow --tags', or 'fetch-depth: 0' in actions/checkout" in line


def test_fetching_the_history_makes_report_compare_with_the_merge_base(
    origin: Origin, tmp_path: Path
) -> None:
    clone = feature_clone(origin, tmp_path / "clone")
    clone.git("fetch", "-q", "--depth", "1", "origin", "main:refs/remotes/origin/main")
    clone.git("fetch", "-q", "--unshallow", "--tags")  # the fix the error names
    result = mlgate(clone.root, "report", "--base", "origin/main")
    assert result.exit_code == 0, result.output
    branch_point = origin.source.git("rev-parse", "demo-model@v1.1.0^{commit}")
    assert f"merge-base with `origin/main` (`{branch_point[:8]}`)" in result.stdout
    assert "share no history" not in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("report", "--base", "origin/main"),
        ("check", "--rev", "HEAD", "--baseline", "demo-model@v1.1.0"),
    ],
)
def test_a_ref_the_shallow_clone_lacks_is_named_with_the_fix(
    origin: Origin, tmp_path: Path, args: tuple[str, ...]
) -> None:
    clone = feature_clone(origin, tmp_path / "clone")
    result = mlgate(clone.root, *args)
    assert result.exit_code == 2, result.output
    line = error_line(result)
    ref = args[-1]
    assert line.startswith(f"mlgate: error: unknown git ref '{ref}'")
    assert "in this shallow clone; fetch it, or use 'fetch-depth: 0' in actions/checkout" in line


# --- release, promote, rollback ------------------------------------------------------------


@pytest.mark.parametrize("way", CLONE_WAYS)
def test_release_reads_the_remote_tags_and_judges_against_the_latest(
    origin: Origin, tmp_path: Path, way: str
) -> None:
    clone = shallow_clone(origin, tmp_path / "clone", way, remote_copy(origin, tmp_path))
    result = mlgate(clone.root, "release")
    assert result.exit_code == 1, result.output  # the regression, as in a full clone
    assert "baseline demo-model@v1.1.0" in result.stdout
    assert "no release: the gates failed" in result.stdout


def test_release_continues_the_remote_version_numbering(origin: Origin, tmp_path: Path) -> None:
    remote = remote_copy(origin, tmp_path)
    clone = shallow_clone(origin, tmp_path / "clone", "depth-1-no-tags", remote)
    loosened = json.loads(json.dumps(DEFAULT_GATES))
    loosened["rules"][0]["max_regression"] = 0.02
    clone.write_params(gates=loosened)
    clone.commit("accept the regression")
    clone.git("push", "-q", "origin", "HEAD:main")  # pushing from a shallow clone works
    result = mlgate(clone.root, "release")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == "demo-model@v1.1.1"
    block = lineage.parse(tag_message(clone.root, "demo-model@v1.1.1"))
    assert block.data["gates"]["baseline"]["ref"] == "demo-model@v1.1.0"
    assert "demo-model@v1.1.1" in tag_names(remote)


def test_promote_counts_the_remote_stage_tags(origin: Origin, tmp_path: Path) -> None:
    remote = remote_copy(origin, tmp_path)
    clone = shallow_clone(origin, tmp_path / "clone", "checkout-action", remote)
    result = mlgate(clone.root, "promote", "v1.1.0", "dev")
    assert result.exit_code == 0, result.output
    # The remote's #dev#1 counts: v1.0.0's un-assign tag (GTO's rule for leaving a stage)
    # takes #2, the assignment #3, pushed together.
    assert result.stdout.splitlines() == ["dev: v1.1.0 (was v1.0.0)", "demo-model#dev#3"]
    assert {"demo-model#dev!#2", "demo-model#dev#3"} <= tag_names(remote)


NO_PUSH = [
    ("release", "--no-push"),
    ("release", "--no-push", "--dry-run"),
    ("promote", "v1.1.0", "dev", "--no-push"),
    ("rollback", "dev", "--message", "undo", "--no-push"),
]


@pytest.mark.parametrize("args", NO_PUSH, ids=lambda args: " ".join(args))
def test_no_push_without_the_tags_is_refused(
    origin: Origin, tmp_path: Path, args: tuple[str, ...]
) -> None:
    # Before: release --no-push created demo-model@v0.0.1 with "no baseline" (and the next
    # plain release pushed it after v1.1.0); promote and rollback said "no releases yet".
    clone = shallow_clone(origin, tmp_path / "clone", "depth-1")
    result = mlgate(clone.root, *args)
    assert result.exit_code == 2, result.output
    line = error_line(result)
    assert line.startswith("mlgate: error: no release of 'demo-model' found in this shallow")
    assert FIX in line and "drop --no-push" in line
    assert tag_names(clone.root) == set()


def test_no_push_after_fetching_the_tags_numbers_from_them(origin: Origin, tmp_path: Path) -> None:
    clone = shallow_clone(origin, tmp_path / "clone", "depth-1-no-tags")
    clone.git("fetch", "-q", "--tags")
    released = mlgate(clone.root, "release", "--no-push")
    assert released.exit_code == 1, released.output
    assert "baseline demo-model@v1.1.0" in released.stdout
    promoted = mlgate(clone.root, "promote", "v1.1.0", "dev", "--no-push")
    assert promoted.exit_code == 0, promoted.output
    assert promoted.stdout.splitlines()[-1] == "demo-model#dev#3"  # after v1.0.0's dev!#2


# --- history --------------------------------------------------------------------------------

SHALLOW_NOTE = (
    "this shallow clone may lack tags: releases and stages whose tags were not fetched are not "
    f"listed; fetch them ({FIX})"
)


def test_history_without_tags_does_not_say_no_releases_yet(origin: Origin, tmp_path: Path) -> None:
    clone = shallow_clone(origin, tmp_path / "clone", "checkout-action")
    result = mlgate(clone.root, "history")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["no releases found", SHALLOW_NOTE]
    as_json = mlgate(clone.root, "history", "--format", "json")
    assert as_json.exit_code == 0 and json.loads(as_json.stdout) == []
    assert as_json.stderr.splitlines() == [SHALLOW_NOTE]


def test_history_with_some_tags_says_others_may_be_missing(origin: Origin, tmp_path: Path) -> None:
    # As `git clone --depth 1` brings the tags on the commit it fetched, and only those.
    clone = shallow_clone(origin, tmp_path / "clone", "depth-1-no-tags")
    clone.git("fetch", "-q", "--depth", "1", "origin", "tag", "demo-model@v1.1.0")
    result = mlgate(clone.root, "history")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[2:-1]] == ["v1.1.0"]  # v1.0.0 was not fetched
    assert lines[-1] == SHALLOW_NOTE


# --- a full clone made with --no-tags ---------------------------------------------------------


def test_a_clone_made_with_no_tags_is_refused_like_a_shallow_one(
    origin: Origin, tmp_path: Path
) -> None:
    """`git clone --no-tags` fetches every commit and no tag, and remembers it in the remote's
    tagOpt: without it check would pass the regression as "no release yet"."""
    path = tmp_path / "clone"
    run(["git", "clone", "-q", "--no-tags", f"file://{origin.remote}", str(path)], tmp_path)
    clone = ScratchRepo(path)
    assert clone.git("rev-parse", "--is-shallow-repository") == "false"
    assert clone.git("tag", "--list") == ""
    shutil.copytree(origin.source.root / ".dvc" / "cache", path / ".dvc" / "cache")
    shutil.copy(origin.source.root / "models" / "model.bin", path / "models" / "model.bin")
    clone_note = "this clone, whose remote 'origin' is set to fetch no tags"

    checked = mlgate(clone.root, "check")
    assert checked.exit_code == 2, checked.output
    line = error_line(checked)
    assert line.startswith(f"mlgate: error: no release of 'demo-model' found in {clone_note}")
    assert FIX in line and "--baseline none" in line
    released = mlgate(clone.root, "release", "--no-push", "--dry-run")
    assert released.exit_code == 2, released.output
    assert clone_note in error_line(released) and "drop --no-push" in error_line(released)
    listed = mlgate(clone.root, "history")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines()[-1].startswith(f"{clone_note} may lack tags")

    # an explicit fetch of the tags overrides the setting: the regression is caught
    clone.git("fetch", "-q", "--tags", "origin")
    refetched = mlgate(clone.root, "check")
    assert refetched.exit_code == 1, refetched.output
    assert "roc_auc" in refetched.stdout


def test_no_push_in_a_no_tags_clone_without_origin_is_refused(
    origin: Origin, tmp_path: Path
) -> None:
    """`--remote` defaults to origin; in a clone whose only remote has another name, --no-push
    looks at the remote the branch tracks instead, as check does (before, it looked at the
    missing origin, found nothing said, and numbered versions from scratch)."""
    path = tmp_path / "clone"
    url = f"file://{origin.remote}"
    run(["git", "clone", "-q", "--no-tags", "--origin", "upstream", url, str(path)], tmp_path)
    clone = ScratchRepo(path)
    shutil.copytree(origin.source.root / ".dvc" / "cache", path / ".dvc" / "cache")
    shutil.copy(origin.source.root / "models" / "model.bin", path / "models" / "model.bin")
    clone_note = "this clone, whose remote 'upstream' is set to fetch no tags"
    checked = mlgate(clone.root, "check")
    assert checked.exit_code == 2 and clone_note in error_line(checked), checked.output
    released = mlgate(clone.root, "release", "--no-push", "--dry-run")
    assert released.exit_code == 2, released.output
    assert clone_note in error_line(released) and "drop --no-push" in error_line(released)
    assert tag_names(clone.root) == set()
