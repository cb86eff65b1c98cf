"""`mlgate promote` and `mlgate rollback`: stage order, force with a reason, rollback history."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlgate import lineage
from tests.mlgate.registry_repo import ARTIFACT, Published, published, tag_names

__all__ = ["published"]

MLGATE = str(Path(sys.executable).with_name("mlgate"))


def message_of(root: Path, tag: str) -> str:
    return subprocess.run(
        ["git", "for-each-ref", "--format=%(contents)", f"refs/tags/{tag}"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def new_release(published: Published, note: str) -> str:
    """Commit, push and release; returns the version."""
    published.repo.write("notes.txt", note)
    published.repo.commit(note)
    published.push()
    result = published.mlgate("release")
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1].split("@")[1]


@pytest.fixture
def two_releases(published: Published) -> Published:
    assert published.mlgate("release").exit_code == 0  # v0.0.1
    assert new_release(published, "second") == "v0.0.2"
    return published


def ok(published: Published, *args: str) -> str:
    result = published.mlgate(*args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def refused(published: Published, *args: str) -> str:
    before = tag_names(published.root)
    result = published.mlgate(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlgate: error: "), result.stderr
    assert tag_names(published.root) == before
    return lines[0]


def holders(published: Published) -> dict[str, str]:
    import json

    result = published.mlgate("history", "--format", "json")
    return {stage: e["version"] for e in json.loads(result.stdout) for stage in e["stages"]}


def test_promote_through_the_stage_order(two_releases: Published) -> None:
    p = two_releases
    assert ok(p, "promote", "v0.0.1", "dev") == f"{ARTIFACT}#dev#1"
    assert ok(p, "promote", "v0.0.1", "staging") == f"{ARTIFACT}#staging#2"
    assert ok(p, "promote", "v0.0.1", "prod", "--message", "go live") == f"{ARTIFACT}#prod#3"
    assert holders(p) == {"dev": "v0.0.1", "staging": "v0.0.1", "prod": "v0.0.1"}
    assert {f"{ARTIFACT}#prod#3", f"{ARTIFACT}#dev#1"} <= p.remote_tags()
    message = message_of(p.root, f"{ARTIFACT}#prod#3")
    assert message.startswith(f"Promote {ARTIFACT} v0.0.1 to prod")
    assert "Reason: go live" in message
    block = lineage.parse(message)
    assert block.data["action"] == "promote" and block.data["forced"] is False


def test_promotion_skipping_a_stage_is_refused(two_releases: Published) -> None:
    line = refused(two_releases, "promote", "v0.0.2", "prod")
    assert "v0.0.2 does not hold 'staging'" in line
    assert "dev → staging → prod" in line and "--force --message" in line


def test_version_must_hold_the_previous_stage_now(two_releases: Published) -> None:
    p = two_releases
    ok(p, "promote", "v0.0.1", "dev")
    ok(p, "promote", "v0.0.2", "dev")  # v0.0.1 no longer holds dev
    assert "'dev' is held by v0.0.2" in refused(p, "promote", "v0.0.1", "staging")


def test_force_needs_a_message_and_records_it(two_releases: Published) -> None:
    p = two_releases
    assert "--force needs --message" in refused(p, "promote", "v0.0.2", "prod", "--force")
    tag = ok(p, "promote", "v0.0.2", "prod", "--force", "--message", "hotfix for outage")
    block = lineage.parse(message_of(p.root, tag))
    assert block.data["forced"] is True and block.data["reason"] == "hotfix for outage"
    assert holders(p) == {"prod": "v0.0.2"}


def test_already_holding_the_stage_is_a_no_op(two_releases: Published) -> None:
    p = two_releases
    ok(p, "promote", "v0.0.1", "dev")
    before = tag_names(p.root)
    result = p.mlgate("promote", "v0.0.1", "dev")
    assert result.exit_code == 0 and "already holds dev" in result.stdout
    assert tag_names(p.root) == before


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("promote", "1.0", "dev"), "'1.0' is not a semantic version"),
        (("promote", "v0.0.1", "bad name"), "'bad name' is not a stage name GTO accepts"),
        (("promote", "v0.0.1", "qa_"), "'qa_' is not a stage name GTO accepts"),
        (("promote", "v9.9.9", "dev"), f"no release {ARTIFACT}@v9.9.9 (latest is v0.0.2)"),
        (("rollback", "prod", "--message", "x"), "cannot roll back 'prod': no earlier version"),
        (("rollback", "live", "--message", "x"), "cannot roll back 'live': no earlier version"),
        (("rollback", "prod", "--message", " "), "rollback needs --message"),
    ],
)
def test_bad_input_is_refused_with_one_line(
    two_releases: Published, args: tuple[str, ...], problem: str
) -> None:
    assert problem in refused(two_releases, *args)


NOT_UTF8 = "--message is not UTF-8 text (it contains the byte 0xff); write it in UTF-8"


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        # argv bytes that are not UTF-8 reach Python as lone surrogates: b"\xff" is "\udcff"
        (("promote", "v0.0.1", "staging", "--message", "\udcff"), NOT_UTF8),
        (("promote", "v0.0.2", "prod", "--force", "--message", "hotfix \udcff"), NOT_UTF8),
        (("rollback", "dev", "--message", "bad \udcff build"), NOT_UTF8),
        (("rollback", "dev", "--message", "a\0b"), "--message contains a NUL character"),
    ],
)
def test_a_message_git_cannot_store_is_refused_before_any_tag(
    two_releases: Published, args: tuple[str, ...], problem: str
) -> None:
    p = two_releases
    ok(p, "promote", "v0.0.1", "dev")
    ok(p, "promote", "v0.0.2", "dev")  # so that each command would otherwise succeed
    assert refused(p, *args).endswith(problem)
    assert tag_names(p.root) == p.remote_tags()


def test_a_non_utf8_message_from_a_real_command_line(two_releases: Published) -> None:
    p = two_releases
    before = tag_names(p.root)
    done = subprocess.run(
        [MLGATE.encode(), b"promote", b"v0.0.1", b"dev", b"--message", b"\xff"],
        cwd=p.root,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.decode() == f"mlgate: error: {NOT_UTF8}\n"
    assert tag_names(p.root) == before


def test_rollback_needs_a_message(two_releases: Published) -> None:
    result = two_releases.mlgate("rollback", "prod")
    assert result.exit_code == 2 and "--message" in result.stderr


def test_stage_order_comes_from_gto_file(two_releases: Published) -> None:
    p = two_releases
    p.repo.write(".gto", "stages: [qa, live]\n")
    p.repo.commit("our own stages")
    p.push()
    assert "unknown stage 'dev' (stages in .gto: qa, live)" in refused(
        p, "promote", "v0.0.1", "dev"
    )
    assert "does not hold 'qa'" in refused(p, "promote", "v0.0.1", "live")
    assert "unknown stage 'canary' (stages in .gto: qa, live)" in refused(
        p, "promote", "v0.0.1", "canary"
    )
    ok(p, "promote", "v0.0.1", "qa")
    ok(p, "promote", "v0.0.1", "live")
    assert holders(p) == {"qa": "v0.0.1", "live": "v0.0.1"}


def test_without_a_stage_list_any_stage_gto_accepts_works(two_releases: Published) -> None:
    """As GTO without `stages:` in .gto: no refusal, no order rule outside dev → staging → prod."""
    gto_api = pytest.importorskip("gto.api")
    p = two_releases
    assert ok(p, "promote", "v0.0.1", "canary-eu") == f"{ARTIFACT}#canary-eu#1"
    assert ok(p, "promote", "v0.0.2", "canary-eu") == f"{ARTIFACT}#canary-eu#3"
    assert holders(p) == {"canary-eu": "v0.0.2"}
    assert gto_api.show(str(p.root))[ARTIFACT]["stage"] == {"canary-eu": "v0.0.2"}
    ok(p, "rollback", "canary-eu", "--message", "not yet")
    assert holders(p) == {"canary-eu": "v0.0.1"}
    assert gto_api.show(str(p.root))[ARTIFACT]["stage"] == {"canary-eu": "v0.0.1"}
    assert "v0.0.2 does not hold 'staging'" in refused(p, "promote", "v0.0.2", "prod")
    # GTO's names take upper case and '_' too: written, read back, and agreed on by GTO
    assert ok(p, "promote", "v0.0.1", "QA_eu").startswith(f"{ARTIFACT}#QA_eu#")
    assert holders(p)["QA_eu"] == "v0.0.1"
    assert gto_api.show(str(p.root))[ARTIFACT]["stage"]["QA_eu"] == "v0.0.1"


def test_rollback_walks_back_one_promotion_at_a_time(
    published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = published
    ok(p, "release")
    new_release(p, "second")
    new_release(p, "third")
    for version in ("v0.0.1", "v0.0.2", "v0.0.3"):
        for stage in ("dev", "staging", "prod"):
            ok(p, "promote", version, stage)
    assert holders(p)["prod"] == "v0.0.3"
    tag = ok(p, "rollback", "prod", "--message", "latency regression in v0.0.3")
    assert holders(p)["prod"] == "v0.0.2"
    message = message_of(p.root, tag)
    assert message.startswith(f"Roll back {ARTIFACT} v0.0.2 to prod (was v0.0.3)")
    assert "Reason: latency regression in v0.0.3" in message
    assert lineage.parse(message).data["rollback_from"] == "v0.0.3"
    ok(p, "rollback", "prod", "--message", "v0.0.2 too")
    assert holders(p) == {"dev": "v0.0.3", "staging": "v0.0.3", "prod": "v0.0.1"}
    assert "no earlier version held it (held by v0.0.1)" in refused(
        p, "rollback", "prod", "--message", "again"
    )
    assert tag_names(p.root) == p.remote_tags()


def test_a_rollback_that_loses_a_race_does_not_roll_back_twice(
    two_releases: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clone B rolls dev back between A's plan and A's push. A's retry must not pop the
    stack once more (that would undo a second promotion nobody asked to undo)."""
    from mlgate import assign, publish

    p = two_releases
    for version in ("v0.0.1", "v0.0.2", "v0.0.1"):
        ok(p, "promote", version, "dev")  # dev's holders: v0.0.1, v0.0.2, v0.0.1
    other = p.clone(tmp_path / "other")
    real_push = publish.push_tags
    calls = []

    # A rollback pushes its un-assign and assign tags together (publish.push_tags).
    def b_rolls_back_first(root: Path, remote: str, tags: list[str]) -> object:
        calls.append(tags)
        if len(calls) == 1:
            assign.rollback(other.root, "dev", "B's reason")  # its push is call 2
        return real_push(root, remote, tags)

    monkeypatch.setattr(publish, "push_tags", b_rolls_back_first)
    result = p.mlgate("rollback", "dev", "--message", "A's reason")
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "mlgate: error: 'dev' changed while rolling it back: it is now held by v0.0.2, not "
        "v0.0.1 (someone else published first); nothing done, check 'mlgate history' before "
        "rolling back again\n"
    )
    monkeypatch.undo()
    assert holders(p)["dev"] == "v0.0.2"  # rolled back once, by B
    assert tag_names(p.root) == p.remote_tags()  # B's tag fetched, A's removed
    assert len(calls) == 2


def test_no_push_promotes_locally_without_remote(two_releases: Published) -> None:
    p = two_releases
    p.repo.git("remote", "remove", "origin")
    assert "has no git remote" in refused(p, "promote", "v0.0.1", "dev")
    assert ok(p, "promote", "v0.0.1", "dev", "--no-push") == f"{ARTIFACT}#dev#1"


def test_stage_tag_race_takes_the_next_counter(
    two_releases: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another clone's #dev#1 lands between our look at the remote and our push."""
    from dataclasses import replace

    from mlgate import publish

    p = two_releases
    other = p.clone(tmp_path / "other")
    other.git("fetch", "-q", "origin", "refs/tags/*:refs/tags/*")
    assert p.mlgate("promote", "v0.0.2", "dev", cwd=other.root).exit_code == 0
    real_read = publish.read_remote
    calls = {"n": 0}

    def stale_read(root: Path, name: str) -> publish.RemoteState:
        calls["n"] += 1
        state = real_read(root, name)
        if calls["n"] == 1:  # as seen just before the other clone pushed
            kept = {k: v for k, v in state.tag_objects.items() if "#" not in k}
            return replace(state, tags=frozenset(kept), tag_objects=kept)
        return state

    monkeypatch.setattr(publish, "read_remote", stale_read)
    result = p.mlgate("promote", "v0.0.1", "dev")
    assert result.exit_code == 0, result.output
    assert f"{ARTIFACT}#dev#1 was published by someone else first" in result.stdout
    # Planned again, v0.0.1 now replaces the other clone's v0.0.2: GTO's un-assign tag of
    # v0.0.2 takes the next counter, the assignment the one after.
    assert result.stdout.strip().splitlines()[-1] == f"{ARTIFACT}#dev#3"
    assert f"{ARTIFACT}#dev!#2" in p.remote_tags()
    assert holders(p)["dev"] == "v0.0.1"
    assert tag_names(p.root) == p.remote_tags()


def test_promote_in_a_repo_without_commits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from mlgate.cli import cli

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".dvc").mkdir()
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["promote", "v1.0.0", "dev"])
    assert result.exit_code == 2 and "has no commits yet" in result.stderr


def test_promoting_a_release_the_remote_lacks_pushes_the_release_first(
    published: Published,
) -> None:
    assert published.mlgate("release", "--no-push").exit_code == 0
    release = f"{ARTIFACT}@v0.0.1"
    assert release not in published.remote_tags()
    result = published.mlgate("promote", "v0.0.1", "dev")
    assert result.exit_code == 0, result.output
    assert f"{release} was only in this clone; pushed it to origin" in result.stdout
    remote = published.remote_tags()
    assert release in remote and any(name.startswith(f"{ARTIFACT}#dev#") for name in remote)


def test_promote_takes_versions_as_gto_prints_them(two_releases: Published) -> None:
    """`name@vX.Y.Z`, `name@latest`, and `name#stage` (the version holding that stage now),
    as `gto show` prints them and `gto assign` takes them."""
    p = two_releases
    assert ok(p, "promote", f"{ARTIFACT}@v0.0.1", "dev").startswith(f"{ARTIFACT}#dev#")
    assert ok(p, "promote", f"{ARTIFACT}#dev", "staging").startswith(f"{ARTIFACT}#staging#")
    assert holders(p) == {"dev": "v0.0.1", "staging": "v0.0.1"}
    ok(p, "promote", f"{ARTIFACT}@latest", "dev")
    assert holders(p)["dev"] == "v0.0.2"
    assert "no version of" in refused(p, "promote", f"{ARTIFACT}#prod", "dev")
    assert "differ" in refused(p, "promote", "other@v0.0.1", "dev", "--artifact", ARTIFACT)
    assert "not a semantic version" in refused(p, "promote", f"{ARTIFACT}@v1", "dev")
