"""Publishing a registry tag: preconditions and the race-safe create-and-push loop.

The registry is GTO's tag grammar (``<artifact>@vX.Y.Z`` releases, ``<artifact>#<stage>#<N>``
stage assignments, annotated tags only), so ``gto``, ``dvc artifacts get`` and DVC Studio read
it unchanged. What mlgate adds, here:

- the next name is planned over the tags of the local repository *and* of the remote;
- publishing is race-safe: create the tag locally, push it without force, and when the remote
  already has that name (someone published first) delete the local tag, fetch, and plan again
  (a bounded number of times); a tag the remote refused never stays behind locally, and no
  existing tag is ever moved or overwritten. Only a push that created the tag counts as
  publishing it: a byte-identical tag already there (another clone, same commit, same
  second) or a name another process in this clone took first also means "plan again", so a
  run never says it created a tag it did not create.

A plan may ask for several tags (a stage assignment and the un-assignments that go with it):
they are created in order and pushed in one atomic push, so the remote gets all or none, and
a round that fails for one leaves none of them behind.

``release`` and ``assign`` plan; this module publishes. Every tag write goes through
``Publisher``, so a dry run cannot reach one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Generic, TypeVar

from mlgate import __version__, gitio
from mlgate.dvcfiles import artifact_name, choose_artifact
from mlgate.errors import IncompleteCloneError, InputError, RefusedError, no_release_found
from mlgate.remote import Pushed, PushResult, RemoteState, fetch, push_tag, read_remote
from mlgate.tags import GitTagRef, list_tags, taken_versions

MAX_ATTEMPTS = 5


# --- shared: preconditions and the race-safe publish loop ---------------------------------


def head_commit(repo_root: Path) -> str:
    if not gitio.has_commits(repo_root):
        raise InputError(gitio.no_commits(repo_root))
    return gitio.resolve(repo_root, "HEAD")


def dirty_paths(repo_root: Path) -> list[str]:
    return [line[3:] for line in gitio.status_lines(repo_root)]


def some(paths: list[str]) -> str:
    """'a.txt' or 'a.txt and 2 more'."""
    return paths[0] + (f" and {len(paths) - 1} more" if len(paths) > 1 else "")


def hidden_paths(repo_root: Path) -> list[str]:
    """Tracked files git is told not to compare (assume-unchanged or skip-worktree): git
    status says nothing about their edits, so a release could judge files its commit lacks."""
    entries = gitio.index_entries(repo_root)
    return [entry[2:] for entry in entries if entry[0].islower() or entry[0] == "S"]


def tool_versions() -> dict[str, str]:
    import importlib.metadata  # ~0.1 s to import: kept off the history path

    try:
        dvc_version = importlib.metadata.version("dvc")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - dvc is a dependency
        dvc_version = "unknown"
    return {"mlgate": __version__, "dvc": dvc_version}


def tag_clock(repo_root: Path) -> tuple[int, str]:
    """The date git would give a tag made now (Unix seconds, ``+HHMM`` offset); this
    process's clock in UTC when git cannot say (it has no identity: tagging then fails)."""
    found = gitio.committer_time(repo_root)
    return found if found is not None else (int(time.time()), "+0000")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class NewTag:
    """What a plan asks to publish; ``date`` (Unix seconds, ``+HHMM`` offset): the tagger
    date to give it, None for now."""

    name: str
    sha: str
    message: str
    date: tuple[int, str] | None = None


Result = TypeVar("Result")


@dataclass(frozen=True)
class Planned(Generic[Result]):
    """What one planning round decided: the operation's result if this round's tag (None:
    no tag is needed) gets published."""

    result: Result
    tag: NewTag | None = None
    before: tuple[NewTag, ...] = ()  # created before ``tag`` and pushed with it, all or none

    @property
    def tags(self) -> tuple[NewTag, ...]:
        return (*self.before, self.tag) if self.tag is not None else ()


@dataclass
class Publisher:
    """Fetches, plans, creates, pushes; retries when the remote already has the name.

    With ``dry_run`` it still reads (and fetches) the remote's tags and plans, but creates,
    pushes and deletes no tag: every tag write of an operation goes through here, so a dry
    run cannot reach one whichever path the operation takes.
    """

    repo_root: Path
    remote_name: str
    push: bool
    with_messages: bool = False  # stage plans read tag messages (rollbacks); releases do not
    dry_run: bool = False
    remote: RemoteState | None = None
    attempts: int = 0
    notes: list[str] = field(default_factory=list)

    def connect(self) -> RemoteState | None:
        if self.push:
            self.remote = read_remote(self.repo_root, self.remote_name)
            fetch(self.repo_root, self.remote)
        return self.remote

    def names(self, tags: list[GitTagRef]) -> set[str]:
        """Every tag name in use, locally or on the remote (as last read)."""
        remote_tags = self.remote.tags if self.remote else frozenset()
        return {t.name for t in tags} | set(remote_tags)

    def publish(self, plan: Callable[[list[GitTagRef], set[str]], Planned[Result]]) -> Result:
        """Run ``plan`` on fresh tags until its tag is published or it decides none is needed;
        the result of the round that did.

        A dry run returns the first plan's result unpublished: what a real run would try first.
        """
        for attempt in range(1, MAX_ATTEMPTS + 1):
            self.attempts = attempt
            tags = list_tags(self.repo_root, with_messages=self.with_messages)
            planned = plan(tags, self.names(tags))
            wanted = planned.tag
            if wanted is None or self.dry_run:
                return planned.result
            group = planned.tags
            names = _listing([tag.name for tag in group])
            was = "was" if len(group) == 1 else "were"
            if not _create_tags(self.repo_root, group):
                # Another mlgate in this clone created a name since the tags were read.
                self.notes.append(f"{names} {was} created by someone else first; retrying")
                continue
            if not self.push:
                return planned.result
            try:
                result = push_tags(self.repo_root, self.remote_name, [t.name for t in group])
            except BaseException:  # interrupted mid-push: leave no unpublished tag behind
                _delete_tags(self.repo_root, group)
                raise
            if result.outcome is Pushed.ACCEPTED:
                return planned.result
            if result.outcome is Pushed.ALREADY:
                # The remote's tag is byte-identical to ours, so ours stays; but this run did
                # not publish it and must not say it did: plan again, which now finds it.
                self.notes.append(f"{names} {was} published by someone else first")
                self.connect()
                continue
            _delete_tags(self.repo_root, group)
            if result.outcome is Pushed.REFUSED and not any(self._taken(t.name) for t in group):
                what = "tag" if len(group) == 1 else "tags"
                removed = "the local tag was" if len(group) == 1 else "the local tags were"
                raise RefusedError(
                    f"git remote '{self.remote_name}' refused {what} {names} "
                    f"({result.detail}); {removed} removed"
                )
            self.notes.append(f"{names} {was} published by someone else first; retrying")
            self.connect()  # read the remote's new tags and plan again
        raise RefusedError(
            f"gave up after {MAX_ATTEMPTS} attempts: every tag name mlgate chose was taken on "
            f"'{self.remote_name}' before it could push; try again"
        )

    def require_local_releases(self, names: set[str], artifact: str) -> None:
        """Without the remote (``--no-push``), this clone's tags are all there is. In a clone
        that may not have fetched them (shallow: CI's default checkout fetches no tags; or
        made with ``--no-tags``) that may be none of them: versions and stage counters would
        start over and a release's gates would run without a baseline."""
        if self.push or taken_versions(names, artifact):
            return
        clone = gitio.unfetched_tags(self.repo_root, self.remote_name)
        if clone is None:
            return
        raise IncompleteCloneError(
            f"{no_release_found(artifact, clone)}; or drop --no-push: the remote's tags "
            "are read then"
        )

    def ensure_published(self, name: str) -> bool:
        """Push the existing local tag ``name`` if the remote (as last read) lacks it, e.g.
        a release made with --no-push; returns whether it pushed, or in a dry run whether a
        real run would (without pushing). Without a remote, no-op."""
        if not self.push or self.remote is None or name in self.remote.tags:
            return False
        if self.dry_run:
            return True
        result = push_tag(self.repo_root, self.remote_name, name)
        if result.outcome is Pushed.ALREADY:  # someone pushed it since the remote was read
            self.remote = read_remote(self.repo_root, self.remote_name)
            return False
        if result.outcome is not Pushed.ACCEPTED:
            raise RefusedError(
                f"{name} exists here but not on git remote '{self.remote_name}', and pushing it "
                f"failed ({result.detail})"
            )
        self.remote = read_remote(self.repo_root, self.remote_name)
        self.notes.append(f"{name} was only in this clone; pushed it to {self.remote_name}")
        return True

    def _taken(self, name: str) -> bool:
        """Whether the remote now has ``name``: two pushes of one tag at the same moment make
        the loser's fail as "[remote rejected] (failed to update ref)", not "[rejected]"."""
        return name in read_remote(self.repo_root, self.remote_name).tags


def _create_tag(repo_root: Path, tag: NewTag) -> bool:
    """Create the annotated tag; False when the name exists by now, which only another
    process in this clone can have done since the plan read the tags. Without force, git
    refuses an existing name, so no tag is ever moved or overwritten."""
    try:
        if tag.date is None:
            gitio.create_annotated_tag(repo_root, tag.name, tag.sha, tag.message)
        else:
            gitio.create_annotated_tag_at(repo_root, tag.name, tag.sha, tag.message, *tag.date)
    except InputError:  # "already exists", or "cannot lock ref" while another git writes it
        if gitio.has_tag(repo_root, tag.name):
            return False
        raise
    return True


def _create_tags(repo_root: Path, tags: tuple[NewTag, ...]) -> bool:
    """Create every tag in order; when one fails, the ones made before it are deleted."""
    made: list[NewTag] = []
    try:
        for tag in tags:
            if not _create_tag(repo_root, tag):
                _delete_tags(repo_root, tuple(made))
                return False
            made.append(tag)
    except BaseException:
        _delete_tags(repo_root, tuple(made))
        raise
    return True


def _delete_tag(repo_root: Path, name: str) -> None:
    gitio.delete_tag(repo_root, name)


def _delete_tags(repo_root: Path, tags: tuple[NewTag, ...]) -> None:
    for tag in tags:
        _delete_tag(repo_root, tag.name)


def _listing(names: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def push_tags(repo_root: Path, remote: str, names: list[str]) -> PushResult:
    """Push tags without force, all or none, and say whether the remote took them: one tag
    as ``remote.push_tag``; several in one atomic push, whose outcome is the worst of theirs
    (a name taken, else a refusal, else "already there" when every tag already was)."""
    if len(names) == 1:
        return push_tag(repo_root, remote, names[0])
    try:
        pushed = gitio.push_atomic(repo_root, remote, [f"refs/tags/{name}" for name in names])
    except gitio.GitError as exc:
        return PushResult(Pushed.REFUSED, exc.detail)
    said = [pushed.get(f"refs/tags/{name}") for name in names]
    reported = [ref for ref in said if ref is not None]
    if len(reported) < len(names):
        return PushResult(Pushed.REFUSED, "git reported nothing for some of the tags")
    # With --atomic the refs that were not the problem say "(atomic push failed)" or
    # "(atomic transaction failed)": the others say why.
    problems = [ref for ref in reported if ref.rejected or ref.failed]
    causes = [ref for ref in problems if "atomic" not in ref.summary] or problems
    if any(ref.rejected for ref in causes):
        return PushResult(Pushed.TAKEN, next(ref.summary for ref in causes if ref.rejected))
    if causes:
        return PushResult(Pushed.REFUSED, causes[0].summary)
    if all(ref.up_to_date for ref in reported):
        return PushResult(Pushed.ALREADY, reported[-1].summary)
    return PushResult(Pushed.ACCEPTED, reported[-1].summary)


def artifact_in_worktree(repo_root: Path, requested: str | None) -> str:
    from mlgate.metrics import declared_artifacts, read_dvc_yaml

    snap = gitio.Snapshot(repo_root)
    return choose_artifact(declared_artifacts(snap, read_dvc_yaml(snap)), requested)


LATEST = "latest"
_LATEST_WORDS = (LATEST, "greatest")  # GTO's ``name@latest`` and ``name@greatest``


def split_ref(ref: str) -> tuple[str | None, str, bool]:
    """(artifact, ref, whether ref is a stage) of a ref as ``gto`` prints and takes it:
    ``name@v1.2.0`` and ``name#prod`` (a nested artifact written ``dir=name`` as in tags, or
    ``dir:name``); ``v1.2.0``, ``prod`` and ``latest`` name no artifact."""
    for mark in ("@", "#"):
        if mark in ref:
            name, rest = ref.rsplit(mark, 1)
            if not name or not rest:
                raise InputError(
                    f"'{ref}' names no release: expected NAME@vX.Y.Z, NAME#STAGE, a version, "
                    "a stage or 'latest'"
                )
            if mark == "@" and rest in _LATEST_WORDS:
                rest = LATEST
            return artifact_name(name.replace("=", ":")), rest, mark == "#"
    return None, ref, False
