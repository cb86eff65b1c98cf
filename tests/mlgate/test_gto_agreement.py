"""After every registry command, mlgate, GTO and DVC name the same holder of a stage (issue 16).

Three readings of one stage, each from the real tool:

- ``gto show --json`` (``gto.api.show``): the version with the newest assignment still active;
- ``gto.api.find_versions_in_stage`` (what ``gto show NAME#STAGE --version`` prints; gto 1.10
  has no ``gto which``): the highest *semantic version* still active;
- ``dvc artifacts get --stage`` (``Artifacts.get_rev``, here through ``dvc.api.artifacts_show``,
  the same call, offline; the CLI would download the model from the DVC remote): the commit of
  the newest ``NAME#STAGE...`` tag by tag date, un-assign tags included. The test also reads
  that tag with ``git for-each-ref --sort=creatordate`` to show which one DVC chose.

They only agree when a version that leaves a stage gets GTO's un-assign tag and the new
assignment is dated after it, which is what mlgate now publishes.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.mlgate.registry_repo import ARTIFACT, Published, published, tag_names

__all__ = ["published"]

gto_api = pytest.importorskip("gto.api")


def ok(p: Published, *args: str) -> str:
    result = p.mlgate(*args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def release_new_commit(p: Published, note: str) -> str:
    p.repo.write("notes.txt", note)
    p.repo.commit(note)
    p.push()
    return ok(p, "release").split("@")[1]


def mlgate_holders(p: Published) -> dict[str, str]:
    result = p.mlgate("history", "--format", "json")
    assert result.exit_code == 0, result.output
    return {stage: e["version"] for e in json.loads(result.stdout) for stage in e["stages"]}


def newest_stage_tag(root: Path, stage: str) -> str:
    """The tag DVC resolves ``--stage`` to: the newest ``NAME#STAGE...`` tag by its date."""
    out = subprocess.run(
        ["git", "for-each-ref", "--sort=creatordate", "--format=%(refname:strip=2)", "refs/tags"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [
        name for name in out if name.startswith((f"{ARTIFACT}#{stage}#", f"{ARTIFACT}#{stage}!"))
    ][-1]


def after_every_tag(root: Path) -> None:
    """Wait until the clock is past every tag's date, so that a tag GTO makes now is the
    newest (GTO dates its tags now; mlgate's may be a second or two ahead after quick
    promotions, each dated after the last)."""
    dates = subprocess.run(
        ["git", "for-each-ref", "--format=%(taggerdate:unix)", "refs/tags"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    newest = max(map(int, dates))
    while time.time() < newest + 1:
        time.sleep(0.05)


def readings(p: Published, stage: str) -> dict[str, str | None]:
    """Who holds ``stage`` according to each tool (versions; None: nobody)."""
    import dvc.api

    root = str(p.root)
    versions = {v["commit_hexsha"]: v["version"] for v in gto_api.show(root, name=ARTIFACT)}
    found = gto_api.find_versions_in_stage(root, ARTIFACT, stage)
    try:
        rev = dvc.api.artifacts_show(ARTIFACT, stage=stage, repo=root)["rev"]
    except Exception:  # DVC raises when no tag names the stage
        rev = None
    return {
        "mlgate": mlgate_holders(p).get(stage),
        "gto show": gto_api.show(root)[ARTIFACT]["stage"].get(stage),
        "find_versions_in_stage": found[0].version if found else None,
        "dvc artifacts": versions.get(rev) if rev else None,
    }


def agree(p: Published, stage: str, holder: str) -> None:
    assert readings(p, stage) == dict.fromkeys(
        ("mlgate", "gto show", "find_versions_in_stage", "dvc artifacts"), holder
    )


@pytest.fixture(params=["ticking", "frozen"])
def clock(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """``frozen``: every git date is the same second, so only the dates mlgate gives its stage
    tags (each after the artifact's newest) can order them; ``ticking``: the real clock."""
    if request.param == "frozen":
        monkeypatch.setenv("GIT_COMMITTER_DATE", "2026-01-02T03:04:05+00:00")
    return str(request.param)


def test_promote_and_rollback_keep_gto_and_dvc_in_agreement(
    published: Published, clock: str
) -> None:
    p = published
    ok(p, "release")
    assert release_new_commit(p, "second") == "v0.0.2"
    for stage in ("dev", "staging", "prod"):
        ok(p, "promote", "v0.0.1", stage)
    agree(p, "prod", "v0.0.1")

    for stage in ("dev", "staging"):
        ok(p, "promote", "v0.0.2", stage)
    # dev and staging took #4-#7 (an un-assign of v0.0.1 and an assignment each)
    assert ok(p, "promote", "v0.0.2", "prod") == f"{ARTIFACT}#prod#9"
    assert {f"{ARTIFACT}#prod!#8", f"{ARTIFACT}#prod#9"} <= p.remote_tags()
    assert newest_stage_tag(p.root, "prod") == f"{ARTIFACT}#prod#9"
    agree(p, "prod", "v0.0.2")

    assert ok(p, "rollback", "prod", "--message", "v0.0.2 misbehaves") == f"{ARTIFACT}#prod#11"
    assert newest_stage_tag(p.root, "prod") == f"{ARTIFACT}#prod#11"
    agree(p, "prod", "v0.0.1")  # before: find_versions_in_stage still said v0.0.2
    agree(p, "dev", "v0.0.2")
    assert tag_names(p.root) == p.remote_tags()
    history = gto_api.history(str(p.root), artifact=ARTIFACT)
    unassigned = [(e["version"], e["stage"]) for e in history if e["event"] == "unassignment"]
    assert sorted(unassigned) == [
        ("v0.0.1", "dev"),
        ("v0.0.1", "prod"),
        ("v0.0.1", "staging"),
        ("v0.0.2", "prod"),
    ]
    # mlgate still walks back promotions: nothing held prod before v0.0.1.
    result = p.mlgate("rollback", "prod", "--message", "again")
    assert result.exit_code == 2 and "no earlier version held it (held by v0.0.1)" in result.stderr


def test_rolling_back_twice_walks_back_two_promotions_and_gto_follows(published: Published) -> None:
    p = published
    ok(p, "release")
    release_new_commit(p, "second")
    release_new_commit(p, "third")
    for version in ("v0.0.1", "v0.0.2", "v0.0.3"):
        ok(p, "promote", version, "dev")
    agree(p, "dev", "v0.0.3")
    ok(p, "rollback", "dev", "--message", "v0.0.3 broke")
    agree(p, "dev", "v0.0.2")
    ok(p, "rollback", "dev", "--message", "v0.0.2 too")
    agree(p, "dev", "v0.0.1")


def test_a_stage_emptied_with_gto_deprecate_is_empty_for_mlgate_too(published: Published) -> None:
    p = published
    ok(p, "release")
    release_new_commit(p, "second")
    ok(p, "promote", "v0.0.1", "dev")
    ok(p, "promote", "v0.0.2", "dev")
    # `gto deprecate demo-model v0.0.2 dev`: v0.0.1 left dev when v0.0.2 came, so nobody holds it.
    after_every_tag(p.root)
    gto_api.unassign(str(p.root), ARTIFACT, stage="dev", version="v0.0.2")
    state = readings(p, "dev")
    assert state["mlgate"] is None and state["gto show"] is None
    assert state["find_versions_in_stage"] is None
    result = p.mlgate("rollback", "dev", "--message", "x")
    assert result.exit_code == 2 and "(held by no version)" in result.stderr
    # Promoting again is a plain assignment (nothing to un-assign), dated after GTO's tag.
    p.repo.git("push", "-q", "origin", "--tags")
    assert ok(p, "promote", "v0.0.2", "dev") == f"{ARTIFACT}#dev#5"
    agree(p, "dev", "v0.0.2")


def test_a_registry_made_before_un_assign_tags_comes_back_into_agreement(
    published: Published,
) -> None:
    """Stage tags from before (or from `gto assign --force`): several versions still count as
    in prod for GTO. mlgate's next stage change un-assigns all but the new holder."""
    p = published
    ok(p, "release")
    release_new_commit(p, "second")
    root = str(p.root)
    after_every_tag(p.root)
    gto_api.assign(root, ARTIFACT, "prod", version="v0.0.2")
    after_every_tag(p.root)
    gto_api.assign(root, ARTIFACT, "prod", version="v0.0.1")  # v0.0.2 is not un-assigned
    p.repo.git("push", "-q", "origin", "--tags")
    before = readings(p, "prod")
    assert before["mlgate"] == before["gto show"] == "v0.0.1"
    assert before["find_versions_in_stage"] == "v0.0.2"  # the disagreement of issue 16
    ok(p, "promote", "v0.0.2", "prod", "--force", "--message", "back to v0.0.2")
    agree(p, "prod", "v0.0.2")
    ok(p, "rollback", "prod", "--message", "no")
    agree(p, "prod", "v0.0.1")


def test_a_refused_push_leaves_neither_tag_behind(published: Published) -> None:
    """A hook that refuses un-assign tags: the atomic push takes neither tag, and mlgate
    deletes both local ones."""
    p = published
    ok(p, "release")
    release_new_commit(p, "second")
    ok(p, "promote", "v0.0.1", "dev")
    hook = p.remote / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\nwhile read old new ref; do\n"
        '  case "$ref" in *!*) echo "no un-assign tags here" >&2; exit 1;; esac\n'
        "done\n"
    )
    hook.chmod(0o755)
    before = tag_names(p.root)
    result = p.mlgate("promote", "v0.0.2", "dev")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(
        f"mlgate: error: git remote 'origin' refused tags {ARTIFACT}#dev!#2 and {ARTIFACT}#dev#3"
    )
    assert result.stderr.rstrip().endswith("the local tags were removed")
    assert tag_names(p.root) == before == p.remote_tags()
    assert mlgate_holders(p) == {"dev": "v0.0.1"}


def test_stage_tags_are_dated_after_every_tag_of_the_artifact(published: Published) -> None:
    p = published
    ok(p, "release")
    release_new_commit(p, "second")
    # A tag dated in the future (a skewed clock elsewhere) must not outrank the next promotion.
    p.repo.git("push", "-q", "origin", "--tags")
    env_date = "2030-01-01T00:00:00+00:00"
    subprocess.run(
        [
            "git",
            "tag",
            "-a",
            "-m",
            "from a fast clock",
            f"{ARTIFACT}#dev#1",
            f"{ARTIFACT}@v0.0.1^{{}}",
        ],
        cwd=p.root,
        check=True,
        env={**os.environ, "GIT_COMMITTER_DATE": env_date},
    )
    p.repo.git("push", "-q", "origin", "--tags")
    ok(p, "promote", "v0.0.2", "dev")
    dates = p.repo.git(
        "for-each-ref",
        "--format=%(refname:strip=2) %(taggerdate:unix)",
        f"refs/tags/{ARTIFACT}#dev*",
    ).splitlines()
    when = dict(line.split() for line in dates)
    skewed = int(when[f"{ARTIFACT}#dev#1"])
    assert int(when[f"{ARTIFACT}#dev!#2"]) == skewed + 1
    assert int(when[f"{ARTIFACT}#dev#3"]) == skewed + 2
    agree(p, "dev", "v0.0.2")
