"""`mlgate release --dry-run` creates, pushes and deletes no tag, and predicts the real run.

The tests compare every ref of the clone and of the bare remote before and after the dry
run, then run the real release to check that the dry run said what it would do and exited
with the same code. The one change a dry run makes is the real run's fetch of the remote's
tags, which it plans with.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mlgate import publish
from mlgate import release as releasing
from mlgate.release import ReleaseStatus
from tests.mlgate.registry_repo import (
    ARTIFACT,
    Published,
    metrics_with,
    published,
    tag_names,
)
from tests.mlgate.repo_factory import run

__all__ = ["published"]  # the fixture, imported for pytest

TAG = f"{ARTIFACT}@v0.0.1"


def refs(root: Path) -> list[str]:
    """Every ref with the object it points at: a created, moved or deleted ref shows."""
    listing = run(["git", "for-each-ref", "--format=%(refname) %(objectname)"], root)
    return listing.stdout.splitlines()


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_dry_run_does_not_push_a_release_made_without_push(published: Published) -> None:
    # Before: the dry run pushed the local tag and said "pushed it to origin".
    assert published.mlgate("release", "--no-push").exit_code == 0
    local, remote = refs(published.root), refs(published.remote)
    assert TAG not in published.remote_tags()
    dry = published.mlgate("release", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert refs(published.root) == local and refs(published.remote) == remote
    assert (
        f"is already released as {TAG}; dry run: would publish the existing local tag {TAG} "
        "to origin" in dry.stdout
    )
    assert "pushed" not in dry.stdout
    assert last_line(dry.stdout) == TAG
    real = published.mlgate("release")
    assert real.exit_code == 0, real.output
    assert f"already released as {TAG}; pushed it to origin" in real.stdout
    assert TAG in published.remote_tags()


def test_dry_run_of_a_published_release_has_nothing_to_do(published: Published) -> None:
    assert published.mlgate("release").exit_code == 0
    local, remote = refs(published.root), refs(published.remote)
    dry = published.mlgate("release", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"is already released as {TAG}; nothing to do" in dry.stdout
    assert refs(published.root) == local and refs(published.remote) == remote


def test_dry_run_with_no_push_does_not_offer_to_publish(published: Published) -> None:
    assert published.mlgate("release", "--no-push").exit_code == 0
    dry = published.mlgate("release", "--dry-run", "--no-push")
    assert dry.exit_code == 0, dry.output
    assert f"is already released as {TAG}; nothing to do" in dry.stdout
    assert published.remote_tags() == set()


def test_dry_run_says_whether_the_new_tag_would_be_pushed(published: Published) -> None:
    # Before: both said only "would create <tag> on <sha>".
    head = published.repo.git("rev-parse", "--short=8", "HEAD")
    pushing = published.mlgate("release", "--dry-run")
    would = f"dry run: would create {TAG} on {head}"
    assert pushing.stdout.splitlines()[-2] == f"{would} and push it to origin"
    local = published.mlgate("release", "--dry-run", "--no-push")
    assert local.stdout.splitlines()[-2] == f"{would} (not pushed)"
    assert published.remote_tags() == set() and tag_names(published.root) == set()


def test_dry_run_fetches_the_remote_tags_it_plans_with(published: Published) -> None:
    """Documented: like a real run, a dry run copies the remote's tags here (the version and
    the baseline depend on them); it adds no tag of its own and changes nothing remote."""
    first = published.repo.git("rev-parse", "HEAD")
    published.repo.write("notes.txt", "second")
    published.repo.commit("second commit")
    published.push()
    run(["git", "tag", "-a", f"{ARTIFACT}@v0.4.0", "-m", "elsewhere", first], published.remote)
    remote = refs(published.remote)
    dry = published.mlgate("release", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"gates passed against {ARTIFACT}@v0.4.0" in dry.stdout
    assert last_line(dry.stdout) == f"{ARTIFACT}@v0.4.1"
    assert tag_names(published.root) == {f"{ARTIFACT}@v0.4.0"}
    assert refs(published.remote) == remote


def _fresh(published: Published) -> None:
    """A commit on the remote's main without a release."""


def _released_without_push(published: Published) -> None:
    assert published.mlgate("release", "--no-push").exit_code == 0


def _released(published: Published) -> None:
    assert published.mlgate("release").exit_code == 0


def _gates_fail(published: Published) -> None:
    published.repo.set_metrics(metrics_with(accuracy=0.5))
    published.repo.repro()
    published.repo.commit("worse model")
    published.push()


def _not_on_the_remote(published: Published) -> None:
    published.repo.write("notes.txt", "unpushed")
    published.repo.commit("not pushed")


STATES: dict[str, tuple[Callable[[Published], None], int]] = {
    "fresh": (_fresh, 0),
    "released-without-push": (_released_without_push, 0),
    "released": (_released, 0),
    "gates-fail": (_gates_fail, 1),
    "not-on-the-remote": (_not_on_the_remote, 2),
}


@pytest.mark.parametrize("no_push", [False, True], ids=["push", "no-push"])
@pytest.mark.parametrize("state", sorted(STATES))
def test_dry_run_changes_no_ref_and_exits_as_the_real_run(
    published: Published, state: str, no_push: bool
) -> None:
    prepare, expected = STATES[state]
    prepare(published)
    flags = ["--no-push"] if no_push else []
    if no_push and state == "not-on-the-remote":
        expected = 0  # --no-push does not ask the remote
    local, remote = refs(published.root), refs(published.remote)
    dry = published.mlgate("release", "--dry-run", *flags)
    assert dry.exit_code == expected, dry.output
    assert refs(published.root) == local, "the dry run changed a ref of the clone"
    assert refs(published.remote) == remote, "the dry run changed a ref of the remote"
    real = published.mlgate("release", *flags)
    assert real.exit_code == expected, real.output
    if expected != 2:
        assert last_line(dry.stdout) == last_line(real.stdout)


def test_dry_run_never_reaches_a_tag_write(
    published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever path release takes, a dry run calls none of the functions that write a tag."""
    assert published.mlgate("release", "--no-push").exit_code == 0

    def forbidden(*args: object) -> None:
        raise AssertionError(f"a dry run wrote a tag: {args}")

    for writer in ("push_tag", "_create_tag", "_delete_tag"):
        monkeypatch.setattr(publish, writer, forbidden)
    outcome = releasing.release(published.root, dry_run=True)
    assert outcome.status is ReleaseStatus.ALREADY_RELEASED and outcome.tag == TAG
    assert outcome.dry_run and outcome.pushed  # a real run would push it
    published.repo.write("notes.txt", "next")
    published.repo.commit("next")
    published.push()
    outcome = releasing.release(published.root, dry_run=True)
    assert outcome.status is ReleaseStatus.DRY_RUN and outcome.tag == f"{ARTIFACT}@v0.0.2"
    assert outcome.dry_run and outcome.pushed
