"""`mlgate release`: gates, versions across local and remote tags, lineage, every refusal."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from mlgate import lineage, publish
from mlgate import release as releasing
from mlgate.remote import RemoteState
from tests.mlgate.registry_repo import (
    ARTIFACT,
    Published,
    metrics_with,
    published,
    tag_message,
    tag_names,
)

__all__ = ["published"]  # the fixture, imported for pytest


def second_commit_pushed(published: Published) -> str:
    """Commit once more on top of HEAD and push it; returns the first commit's sha."""
    first = published.repo.git("rev-parse", "HEAD")
    published.repo.write("notes.txt", "x")
    published.repo.commit("second commit")
    published.push()
    return first


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_first_release_tags_pushes_and_records_lineage(published: Published) -> None:
    result = published.mlgate("release")
    assert result.exit_code == 0, result.output
    tag = f"{ARTIFACT}@v0.0.1"
    assert last_line(result.stdout) == tag
    assert tag in tag_names(published.root) and tag in published.remote_tags()
    message = tag_message(published.root, tag)
    assert message.startswith(f"Release {ARTIFACT} v0.0.1: gates passed")
    block = lineage.parse(message)
    assert block.status == lineage.OK
    head = published.repo.git("rev-parse", "HEAD")
    assert block.data["commit"] == head
    assert block.data["version"] == "v0.0.1"
    assert block.metrics["roc_auc"] == 0.93
    assert block.metrics["fairness.sex.equalized_odds_difference"] == 0.08
    assert block.data["gates"]["passed"] is True and len(block.data["gates"]["rules"]) == 4
    assert block.data["params"]["params.yaml"]["train.seed"] == 1
    lock = block.data["dvc_lock"]
    assert lock["inputs/metrics.json"]["kind"] == "dep"
    assert block.data["model"]["path"] == "models/model.bin"
    assert block.data["model"]["hash"] == lock["models/model.bin"]["hash"]
    assert block.data["tool"]["mlgate"]


def test_a_frozen_stages_metrics_are_not_the_releases_unless_a_gate_judges_them(
    published: Published,
) -> None:
    """A frozen stage (`dvc repro` never runs it: a monitoring stage judging a production
    batch with an earlier release) writes figures that are not the commit's model's: the
    release records the pipeline's metrics without them, unless a rule judged them."""
    repo = published.repo
    monitor = {"estimated": {"roc_auc": 0.71}, "rows": 120}
    repo.write("monitoring/inputs.json", monitor)
    stage = {
        "frozen": True,
        "cmd": "cp inputs.json metrics.json",
        "deps": ["inputs.json"],
        "metrics": [{"metrics.json": {"cache": False}}],
    }
    repo.write("monitoring/dvc.yaml", {"stages": {"monitor": stage}})
    repo.write("monitoring/metrics.json", monitor)
    repo.dvc("commit", "-f", "-q", "monitoring/dvc.yaml:monitor")  # as `make monitor` records it
    repo.commit("a monitored batch")
    published.push()
    result = published.mlgate("release")
    assert result.exit_code == 0, result.output
    block = lineage.parse(tag_message(published.root, f"{ARTIFACT}@v0.0.1"))
    assert block.metrics["roc_auc"] == 0.93
    assert "estimated.roc_auc" not in block.metrics and "rows" not in block.metrics
    shown = published.mlgate("show", f"{ARTIFACT}@v0.0.1", "--format", "json")
    assert "estimated.roc_auc" not in json.loads(shown.stdout)["metrics"]

    gates = {
        "baseline": "none",
        "rules": [{"metric": "estimated.roc_auc", "direction": "higher", "min": 0.7}],
    }
    repo.write("monitoring/gates.yaml", {"gates": gates})
    repo.commit("gate on the batch")
    published.push()
    result = published.mlgate("release", "--gates", "monitoring/gates.yaml")
    assert result.exit_code == 0, result.output
    block = lineage.parse(tag_message(published.root, f"{ARTIFACT}@v0.0.2"))
    assert block.metrics["estimated.roc_auc"] == 0.71 and block.metrics["rows"] == 120
    assert block.metrics["roc_auc"] == 0.93


def test_next_release_is_above_the_latest_and_uses_it_as_baseline(published: Published) -> None:
    assert published.mlgate("release").exit_code == 0
    published.repo.set_metrics(metrics_with(roc_auc=0.94))
    published.repo.repro()
    published.repo.commit("better model")
    published.push()
    result = published.mlgate("release", "--bump", "minor")
    assert result.exit_code == 0, result.output
    assert last_line(result.stdout) == f"{ARTIFACT}@v0.1.0"
    block = lineage.parse(tag_message(published.root, f"{ARTIFACT}@v0.1.0"))
    assert block.data["gates"]["baseline"]["ref"] == f"{ARTIFACT}@v0.0.1"


def _regressed_commit(published: Published, gates: dict | None = None) -> None:
    """Commit (and push) a model 0.008 below v0.0.1's roc_auc: over max_regression 0.005, yet
    above min 0.92; ``gates`` replaces params.yaml's gates in the same commit."""
    if gates is not None:
        published.repo.write_params(gates=gates)
    published.repo.set_metrics(metrics_with(roc_auc=0.922))
    published.repo.repro()
    published.repo.commit("weaker model")
    published.push()


def test_release_honours_a_none_baseline_in_the_gates(published: Published) -> None:
    """As `mlgate check` does: `baseline: none` judges the bounds alone."""
    from tests.mlgate.repo_factory import DEFAULT_GATES

    assert published.mlgate("release").exit_code == 0
    _regressed_commit(published, {**DEFAULT_GATES, "baseline": "none"})
    assert published.mlgate("check").exit_code == 0
    result = published.mlgate("release")
    assert result.exit_code == 0, result.output
    block = lineage.parse(tag_message(published.root, f"{ARTIFACT}@v0.0.2"))
    assert block.data["gates"]["baseline"] is None
    assert block.data["gates"]["baseline_note"] == "baseline is 'none'"


def test_release_with_latest_release_baseline_refuses_the_same_regression(
    published: Published,
) -> None:
    assert published.mlgate("release").exit_code == 0
    _regressed_commit(published)
    result = published.mlgate("release")
    assert result.exit_code == 1, result.output
    assert f"{ARTIFACT}@v0.0.2" not in tag_names(published.root)


def test_release_reads_the_gates_from_a_file_like_check(
    published: Published, tmp_path: Path
) -> None:
    gates = tmp_path / "strict.yaml"
    gates.write_text(
        "gates:\n  rules:\n    - {metric: roc_auc, direction: higher, min: 0.99}\n",
        encoding="utf-8",
    )
    assert published.mlgate("check", "--gates", str(gates)).exit_code == 1
    result = published.mlgate("release", "--gates", str(gates))
    assert result.exit_code == 1, result.output
    assert "roc_auc" in result.stdout
    assert f"{ARTIFACT}@v0.0.1" not in tag_names(published.root)
    loose = tmp_path / "loose.yaml"
    loose.write_text(
        "gates:\n  rules:\n    - {metric: roc_auc, direction: higher, min: 0.5}\n",
        encoding="utf-8",
    )
    result = published.mlgate("release", "--gates", str(loose))
    assert result.exit_code == 0, result.output
    block = lineage.parse(tag_message(published.root, f"{ARTIFACT}@v0.0.1"))
    assert [rule["metric"] for rule in block.data["gates"]["rules"]] == ["roc_auc"]


def test_rerun_on_a_released_commit_prints_the_tag_and_creates_nothing(
    published: Published,
) -> None:
    published.mlgate("release")
    before = tag_names(published.root)
    result = published.mlgate("release", "--bump", "major")
    assert result.exit_code == 0, result.output
    assert "already released" in result.stdout
    assert last_line(result.stdout) == f"{ARTIFACT}@v0.0.1"
    assert tag_names(published.root) == before


def test_failing_gates_exit_1_and_create_no_tag(published: Published) -> None:
    published.repo.set_metrics(metrics_with(accuracy=0.5))
    published.repo.repro()
    published.repo.commit("worse model")
    published.push()
    result = published.mlgate("release")
    assert result.exit_code == 1, result.output
    assert "gates failed" in result.stdout
    assert tag_names(published.root) == set() and published.remote_tags() == set()


def test_dry_run_prints_the_tag_and_creates_nothing(published: Published) -> None:
    result = published.mlgate("release", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would create" in result.stdout
    assert last_line(result.stdout) == f"{ARTIFACT}@v0.0.1"
    assert tag_names(published.root) == set() and published.remote_tags() == set()


def test_version_counts_remote_only_and_lightweight_tags(published: Published) -> None:
    first = second_commit_pushed(published)
    # Someone released v0.4.0 on the first commit, only on the remote; a stray
    # lightweight tag holds v0.5.0 locally. Neither may be reused or moved.
    subprocess.run(
        ["git", "tag", "-a", f"{ARTIFACT}@v0.4.0", "-m", "elsewhere", first],
        cwd=published.remote,
        check=True,
    )
    published.repo.git("tag", f"{ARTIFACT}@v0.5.0", first)
    result = published.mlgate("release")
    assert result.exit_code == 0, result.output
    assert last_line(result.stdout) == f"{ARTIFACT}@v0.5.1"
    assert published.repo.git("rev-parse", f"{ARTIFACT}@v0.5.0") == first  # untouched
    block = lineage.parse(tag_message(published.root, f"{ARTIFACT}@v0.5.1"))
    assert block.data["gates"]["baseline"]["ref"] == f"{ARTIFACT}@v0.4.0"


def test_detached_head_on_the_default_branch_works(published: Published) -> None:
    head = published.repo.git("rev-parse", "HEAD")
    published.repo.git("checkout", "-q", "--detach", head)
    result = published.mlgate("release", "--rev", head)
    assert result.exit_code == 0, result.output
    assert last_line(result.stdout) == f"{ARTIFACT}@v0.0.1"


def test_a_release_made_without_push_is_pushed_by_the_next_release(
    published: Published,
) -> None:
    local = published.mlgate("release", "--no-push")
    assert local.exit_code == 0, local.output
    tag = f"{ARTIFACT}@v0.0.1"
    assert tag not in published.remote_tags()
    again = published.mlgate("release")
    assert again.exit_code == 0, again.output
    assert f"already released as {tag}; pushed it to origin" in again.stdout
    assert tag in published.remote_tags()
    third = published.mlgate("release")
    assert f"already released as {tag}; nothing to do" in third.stdout


def test_no_push_needs_no_remote(published: Published) -> None:
    published.repo.git("remote", "remove", "origin")
    result = published.mlgate("release", "--no-push")
    assert result.exit_code == 0, result.output
    assert "(not pushed)" in result.stdout
    assert tag_names(published.root) == {f"{ARTIFACT}@v0.0.1"}


# --- refusals: exit 2, one line on stderr, nothing created ----------------------------------


def refused(published: Published, *args: str) -> str:
    result = published.mlgate("release", *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlgate: error: "), result.stderr
    assert tag_names(published.root) <= {f"{ARTIFACT}@v0.5.0"}
    assert published.remote_tags() == set()
    return lines[0]


def test_file_and_tag_names_that_are_not_utf8_do_not_break_a_release(
    published: Published,
) -> None:
    """Git names are bytes: a data file named in Latin-1 (listed raw by `ls-files -z`) and a
    remote tag named so (listed raw by `ls-remote`) are names, not a UnicodeDecodeError."""
    p = published
    (p.root / os.fsdecode(b"caf\xe9.csv")).write_text("x", encoding="utf-8")
    p.repo.commit("a Latin-1 file name")
    p.push()
    subprocess.run([b"git", b"tag", b"-a", b"caf\xe9", b"-m", b"x"], cwd=p.remote, check=True)
    result = p.mlgate("release")
    assert result.exit_code == 0, result.output
    assert last_line(result.stdout) == f"{ARTIFACT}@v0.0.1"
    pushed = ["git", "rev-parse", "--verify", "-q", f"refs/tags/{ARTIFACT}@v0.0.1"]
    assert subprocess.run(pushed, cwd=p.remote, capture_output=True).returncode == 0


def test_refuses_untracked_file(published: Published) -> None:
    (published.root / "scratch.txt").write_text("x")
    assert "uncommitted changes (scratch.txt)" in refused(published)


def test_refuses_modified_file(published: Published) -> None:
    published.repo.write_params(gates=None, seed=2)
    assert "uncommitted changes (params.yaml)" in refused(published)


@pytest.mark.parametrize("flag", ["--assume-unchanged", "--skip-worktree"])
def test_refuses_edits_git_is_told_to_hide(published: Published, flag: str) -> None:
    # git status is clean, but params.yaml on disk (the gates judged) differs from the commit
    published.repo.git("update-index", flag, "params.yaml")
    published.repo.write_params(gates=None, seed=2)
    assert published.repo.git("status", "--porcelain") == ""
    message = refused(published)
    assert "git is told to ignore changes to params.yaml" in message


def test_refuses_stale_pipeline(published: Published) -> None:
    published.repo.set_metrics(metrics_with(accuracy=0.9))  # committed but not reproduced
    published.repo.commit("inputs changed, no repro")
    published.push()
    assert "pipeline is stale" in refused(published)


def test_refuses_rev_that_is_not_checked_out(published: Published) -> None:
    first = second_commit_pushed(published)
    assert "is not the checked-out commit" in refused(published, "--rev", first)


def test_refuses_unknown_rev(published: Published) -> None:
    assert "unknown git ref 'nope'" in refused(published, "--rev", "nope")


def test_refuses_commit_not_on_remote_default_branch(published: Published) -> None:
    published.repo.write("notes.txt", "x")
    published.repo.commit("local only")
    line = refused(published)
    assert "is not on the default branch of 'origin' (main)" in line


def test_refuses_unreachable_remote(published: Published, tmp_path: Path) -> None:
    published.repo.git("remote", "set-url", "origin", str(tmp_path / "gone.git"))
    line = refused(published)
    assert "cannot reach git remote 'origin'" in line
    assert "does not appear to be a git repository" in line  # git's reason, not its advice


def test_refuses_without_remote(published: Published) -> None:
    published.repo.git("remote", "remove", "origin")
    assert "has no git remote to publish to" in refused(published)


def test_refuses_unknown_remote_name(published: Published) -> None:
    assert "no git remote 'upstream' (remotes: origin)" in refused(
        published, "--remote", "upstream"
    )


def test_refuses_repo_without_commits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from mlgate.cli import cli

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".dvc").mkdir()
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["release"])
    assert result.exit_code == 2
    assert "has no commits yet" in result.stderr


def test_refuses_unknown_artifact(published: Published) -> None:
    assert "no artifact 'other'" in refused(published, "--artifact", "other")


def test_bad_bump_is_a_usage_error(published: Published) -> None:
    result = published.mlgate("release", "--bump", "huge")
    assert result.exit_code == 2 and "huge" in result.stderr


def test_remote_hook_refusal_leaves_no_local_tag(published: Published) -> None:
    hook = published.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'tags are frozen today' >&2\nexit 1\n")
    hook.chmod(0o755)
    line = refused(published)
    assert f"refused tag {ARTIFACT}@v0.0.1" in line and "local tag was removed" in line


# --- the race: a push rejected because someone released first -----------------------------


def test_rejected_push_removes_the_local_tag_and_takes_the_next_version(
    published: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clone B releases between A's fetch and A's push: A must retry, not overwrite."""
    first = second_commit_pushed(published)
    other = published.clone(tmp_path / "other")
    assert published.mlgate("release", cwd=other.root).exit_code == 0  # B: v0.0.1 on HEAD
    published.repo.git("checkout", "-q", "--detach", first)

    real_read, real_fetch = publish.read_remote, publish.fetch
    calls = {"n": 0}

    def stale_read(root: Path, name: str) -> RemoteState:
        calls["n"] += 1
        state = real_read(root, name)
        # A's first look at the remote happened before B pushed.
        return replace(state, tags=frozenset(), tag_objects={}) if calls["n"] == 1 else state

    def stale_fetch(root: Path, state: RemoteState) -> None:
        if calls["n"] == 1:
            subprocess.run(
                ["git", "fetch", "-q", "--no-tags", "origin", "main"], cwd=root, check=True
            )
            subprocess.run(
                ["git", "update-ref", "refs/remotes/origin/main", "FETCH_HEAD"],
                cwd=root,
                check=True,
            )
            return
        real_fetch(root, state)

    monkeypatch.setattr(publish, "read_remote", stale_read)
    monkeypatch.setattr(publish, "fetch", stale_fetch)
    result = published.mlgate("release")
    assert result.exit_code == 0, result.output
    assert f"{ARTIFACT}@v0.0.1 was published by someone else first" in result.stdout
    assert last_line(result.stdout) == f"{ARTIFACT}@v0.0.2"
    assert published.remote_tags() == {f"{ARTIFACT}@v0.0.1", f"{ARTIFACT}@v0.0.2"}
    # The local v0.0.1 is B's (fetched), not A's refused one.
    b_sha = other.git("rev-parse", "HEAD")
    assert published.repo.git("rev-parse", f"{ARTIFACT}@v0.0.1^{{commit}}") == b_sha
    assert published.repo.git("rev-parse", f"{ARTIFACT}@v0.0.2^{{commit}}") == first
    assert tag_names(published.root) == published.remote_tags()


def test_gives_up_after_bounded_attempts(
    published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlgate.remote import Pushed, PushResult

    monkeypatch.setattr(
        publish, "push_tag", lambda *a: PushResult(Pushed.TAKEN, "[rejected] (already exists)")
    )
    line = refused(published)
    assert f"gave up after {publish.MAX_ATTEMPTS} attempts" in line


def test_json_of_history_after_release(published: Published) -> None:
    published.mlgate("release")
    result = published.mlgate("history", "--format", "json")
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)
    assert entry["tag"] == f"{ARTIFACT}@v0.0.1" and entry["lineage"] == "ok"


def test_remote_rejected_because_a_simultaneous_push_won_is_retried(
    published: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two pushes of one name at once: git reports the loser as "[remote rejected]"."""
    from mlgate.remote import Pushed, PushResult

    first = second_commit_pushed(published)
    other = published.clone(tmp_path / "other")
    published.repo.git("checkout", "-q", "--detach", first)
    real_push = publish.push_tag

    def lose_first_race(root: Path, remote: str, tag: str) -> PushResult:
        if not published.remote_tags():
            other.tag_release("v0.0.1")  # clone B's push of the same name lands first
            other.git("push", "-q", "origin", "--tags")
            return PushResult(Pushed.REFUSED, "[remote rejected] (failed to update ref)")
        return real_push(root, remote, tag)

    monkeypatch.setattr(publish, "push_tag", lose_first_race)
    result = published.mlgate("release")
    assert result.exit_code == 0, result.output
    assert last_line(result.stdout) == f"{ARTIFACT}@v0.0.2"
    assert tag_names(published.root) == published.remote_tags()


def test_an_identical_tag_published_first_is_reported_as_already_released(
    published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two clones releasing one commit in the same second build byte-identical tags (same
    name, commit, message, tagger, timestamp), so the loser's push is "[up to date]": it
    created nothing and must not say "created"."""
    real_push = publish.push_tag

    def identical_one_lands_first(root: Path, remote: str, tag: str) -> object:
        # The other clone's tag is this very object: push ours by plain git to stand for it.
        published.repo.git("push", "-q", "origin", f"refs/tags/{tag}")
        return real_push(root, remote, tag)

    monkeypatch.setattr(publish, "push_tag", identical_one_lands_first)
    result = published.mlgate("release")
    assert result.exit_code == 0, result.output
    assert "created" not in result.stdout
    head = published.repo.git("rev-parse", "HEAD")[:8]
    assert result.stdout.splitlines() == [
        f"{ARTIFACT}@v0.0.1 was published by someone else first",
        f"{head} is already released as {ARTIFACT}@v0.0.1; nothing to do",
        f"{ARTIFACT}@v0.0.1",
    ]
    assert tag_names(published.root) == published.remote_tags() == {f"{ARTIFACT}@v0.0.1"}


def test_a_tag_created_in_this_clone_meanwhile_is_found_not_refused(
    published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two releases in one clone: the other process creates the name between this one's
    reading the tags and its `git tag`. Not an error: the commit is released."""
    real_lineage = releasing.release_lineage

    def other_process_tags_first(*args: object, **kwargs: object) -> dict:
        published.repo.git("tag", "-a", f"{ARTIFACT}@v0.0.1", "-m", "the other process's")
        return real_lineage(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(releasing, "release_lineage", other_process_tags_first)
    result = published.mlgate("release", "--no-push")
    assert result.exit_code == 0, result.output
    assert not [line for line in result.stdout.splitlines() if line.startswith("created ")]
    assert f"{ARTIFACT}@v0.0.1 was created by someone else first; retrying" in result.stdout
    assert f"is already released as {ARTIFACT}@v0.0.1; nothing to do" in result.stdout
    message = published.repo.git("for-each-ref", "--format=%(contents)", "refs/tags")
    assert message == "the other process's"  # untouched


def test_refuses_when_a_local_tag_differs_from_the_remote_one(published: Published) -> None:
    """A tag of the same name but another object on each side is never overwritten."""
    subprocess.run(
        ["git", "tag", "-a", "other-tool@v1.0.0", "-m", "remote's", "main"],
        cwd=published.remote,
        check=True,
    )
    published.repo.git("tag", "-a", "other-tool@v1.0.0", "-m", "local")
    local = published.repo.git("rev-parse", "other-tool@v1.0.0")
    result = published.mlgate("release")
    assert result.exit_code == 2, result.output
    assert "cannot fetch tags from git remote 'origin'" in result.stderr
    assert "would clobber existing tag" in result.stderr
    assert published.repo.git("rev-parse", "other-tool@v1.0.0") == local


def test_interrupted_push_leaves_no_local_tag(
    published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(publish, "push_tag", interrupted)
    with pytest.raises(KeyboardInterrupt):
        releasing.release(published.root)
    assert tag_names(published.root) == set()
