"""Operations behind ``mlgate release``, ``promote``, ``rollback`` and ``history``.

The registry is GTO's tag grammar (``<artifact>@vX.Y.Z`` releases, ``<artifact>#<stage>#<N>``
stage assignments, annotated tags only), so ``gto``, ``dvc artifacts get`` and DVC Studio read
it unchanged. What mlgate adds:

- the next version is computed over the tags of the local repository *and* of the remote;
- publishing is race-safe: create the tag locally, push it without force, and when the remote
  already has that name (someone published first) delete the local tag, fetch, and plan again
  (a bounded number of times); a tag the remote refused never stays behind locally, and no
  existing tag is ever moved or overwritten. Only a push that created the tag counts as
  publishing it: a byte-identical tag already there (another clone, same commit, same
  second) or a name another process in this clone took first also means "plan again", so a
  run never says it created a tag it did not create;
- "latest" is the highest semantic version, not the newest tag timestamp;
- every tag carries a lineage block (``mlgate.lineage``) that ``history`` reads back.

``history`` is the hot path: one ``git for-each-ref`` with the tag messages, no DVC import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate import __version__, gitio, lineage
from mlgate.dvcfiles import DVC_YAML, artifact_name, choose_artifact
from mlgate.errors import (
    FETCH_TAGS,
    IncompleteCloneError,
    InputError,
    MlgateError,
    RefusedError,
    no_release_found,
)
from mlgate.remote import Pushed, RemoteState, fetch, git, on_default_branch, push_tag, read_remote
from mlgate.stages import (
    Assignment,
    check_stage,
    current_holders,
    holder_stack,
    load_stage_order,
    previous_stage,
)
from mlgate.tags import (
    GitTagRef,
    ReleaseTag,
    Version,
    active_releases,
    deregistered,
    list_tags,
    max_counter,
    off_commit,
    parse_stage,
    release_tag_name,
    tag_artifact_name,
    taken_versions,
)

if TYPE_CHECKING:
    from mlgate.api import CheckResult

MAX_ATTEMPTS = 5
BUMPS = ("patch", "minor", "major")
PROMOTE, ROLLBACK = "promote", "rollback"


# --- shared: preconditions and the race-safe publish loop ---------------------------------


def _head(repo_root: Path) -> str:
    if not gitio.has_commits(repo_root):
        raise InputError(gitio.no_commits(repo_root))
    return gitio.resolve(repo_root, "HEAD")


def _dirty_paths(repo_root: Path) -> list[str]:
    out = git(repo_root, "status", "--porcelain", "--untracked-files=normal")
    return [line[3:] for line in out.splitlines() if line.strip()]


def _some(paths: list[str]) -> str:
    """'a.txt' or 'a.txt and 2 more'."""
    return paths[0] + (f" and {len(paths) - 1} more" if len(paths) > 1 else "")


def _hidden_paths(repo_root: Path) -> list[str]:
    """Tracked files git is told not to compare (assume-unchanged or skip-worktree): git
    status says nothing about their edits, so a release could judge files its commit lacks."""
    out = git(repo_root, "ls-files", "-v", "-z")
    entries = [entry for entry in out.split("\0") if entry]
    return [entry[2:] for entry in entries if entry[0].islower() or entry[0] == "S"]


def _tool() -> dict[str, str]:
    import importlib.metadata  # ~0.1 s to import: kept off the history path

    try:
        dvc_version = importlib.metadata.version("dvc")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - dvc is a dependency
        dvc_version = "unknown"
    return {"mlgate": __version__, "dvc": dvc_version}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class _NewTag:
    """What a plan asks to publish."""

    name: str
    sha: str
    message: str


@dataclass
class _Publisher:
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

    def publish(
        self, plan: Callable[[list[GitTagRef], set[str]], _NewTag | None]
    ) -> _NewTag | None:
        """Run ``plan`` on fresh tags until its tag is published or it decides none is needed.

        A dry run returns the first plan's tag unpublished: what a real run would try first.
        """
        for attempt in range(1, MAX_ATTEMPTS + 1):
            self.attempts = attempt
            tags = list_tags(self.repo_root, with_messages=self.with_messages)
            wanted = plan(tags, self.names(tags))
            if wanted is None or self.dry_run:
                return wanted
            if not _create_tag(self.repo_root, wanted):
                # Another mlgate in this clone created the name since the tags were read.
                self.notes.append(f"{wanted.name} was created by someone else first; retrying")
                continue
            if not self.push:
                return wanted
            try:
                result = push_tag(self.repo_root, self.remote_name, wanted.name)
            except BaseException:  # interrupted mid-push: leave no unpublished tag behind
                _delete_tag(self.repo_root, wanted.name)
                raise
            if result.outcome is Pushed.ACCEPTED:
                return wanted
            if result.outcome is Pushed.ALREADY:
                # The remote's tag is byte-identical to ours, so ours stays; but this run did
                # not publish it and must not say it did: plan again, which now finds it.
                self.notes.append(f"{wanted.name} was published by someone else first")
                self.connect()
                continue
            _delete_tag(self.repo_root, wanted.name)
            if result.outcome is Pushed.REFUSED and not self._taken(wanted.name):
                raise RefusedError(
                    f"git remote '{self.remote_name}' refused tag {wanted.name} "
                    f"({result.detail}); the local tag was removed"
                )
            self.notes.append(f"{wanted.name} was published by someone else first; retrying")
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


def _create_tag(repo_root: Path, tag: _NewTag) -> bool:
    """Create the annotated tag; False when the name exists by now, which only another
    process in this clone can have done since the plan read the tags. Without force, git
    refuses an existing name, so no tag is ever moved or overwritten."""
    try:
        # verbatim: git's default cleanup would drop lines starting with '#' from the message.
        git(
            repo_root,
            "tag",
            "-a",
            "--cleanup=verbatim",
            "-F",
            "-",
            tag.name,
            tag.sha,
            stdin=tag.message,
        )
    except InputError:  # "already exists", or "cannot lock ref" while another git writes it
        if git(repo_root, "tag", "--list", tag.name).strip():
            return False
        raise
    return True


def _delete_tag(repo_root: Path, name: str) -> None:
    git(repo_root, "tag", "-d", name)


def _artifact_name(repo_root: Path, requested: str | None) -> str:
    from mlgate.metrics import declared_artifacts, read_dvc_yaml

    snap = gitio.Snapshot(repo_root)
    return choose_artifact(declared_artifacts(snap, read_dvc_yaml(snap)), requested)


# --- release ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseOutcome:
    """What ``release`` did. ``status``: released, already-released, gates-failed, dry-run
    (would release). With ``dry_run`` nothing was created or pushed, and ``pushed`` says
    whether a real run would push the tag: the new one, or an existing one only here."""

    status: str
    artifact: str
    sha: str
    tag: str | None = None
    version: Version | None = None
    check: CheckResult | None = None
    pushed: bool = False
    notes: tuple[str, ...] = ()
    dry_run: bool = False


def next_version(names: set[str], artifact: str, bump: str) -> Version:
    """The version above every version any tag name of ``artifact`` uses (local or remote)."""
    taken = taken_versions(names, artifact)
    return max(taken, default=Version(0, 0, 0)).bump(bump)


def release_lineage(
    repo_root: Path, artifact: str, version: Version, sha: str, verdict: CheckResult
) -> dict[str, Any]:
    """The lineage block of a release: commit, metrics, gates, params, dvc.lock hashes, tool."""
    from mlgate.metrics import (
        declared_artifacts,
        params_files,
        read_dvc_yaml,
        read_locks,
        read_params,
    )

    snap = gitio.Snapshot(repo_root, sha, gitio.short(sha), gitio.git_prefix(repo_root))
    dvc_yaml = read_dvc_yaml(snap)
    lock = read_locks(snap, dvc_yaml)
    model_path = str(declared_artifacts(snap, dvc_yaml).get(artifact, {}).get("path", ""))
    model = lock.get(model_path)
    return {
        "artifact": artifact,
        "version": str(version),
        "commit": sha,
        "time": _now(),
        "tool": _tool(),
        "gates": {
            "passed": verdict.passed,
            "baseline": verdict.baseline.as_dict() if verdict.baseline else None,
            "baseline_note": verdict.baseline_note,
            "rules": [rule.as_dict() for rule in verdict.rules],
        },
        "metrics": verdict.metrics,
        "params": read_params(snap, params_files(snap, dvc_yaml)),
        "dvc_lock": {
            path: {"stage": f.stage, "kind": f.kind, "hash": f.hash, "size": f.size}
            for path, f in sorted(lock.items())
        },
        "model": {"path": model_path, "hash": model.hash if model else None},
    }


def _release_summary(artifact: str, version: Version, verdict: CheckResult) -> str:
    against = verdict.baseline.ref if verdict.baseline else "no baseline"
    return (
        f"Release {artifact} {version}: gates passed against {against} ({len(verdict.rules)} rules)"
    )


def release(
    repo_root: Path,
    rev: str | None = None,
    bump: str = "patch",
    artifact: str | None = None,
    remote: str = "origin",
    push: bool = True,
    dry_run: bool = False,
    check: Callable[..., CheckResult] | None = None,
) -> ReleaseOutcome:
    """Turn the checked-out commit into ``<artifact>@vX.Y.Z`` if its gates pass.

    ``check`` defaults to ``mlgate.api.check`` (injectable for tests).
    """
    if bump not in BUMPS:
        raise InputError(f"unknown version part '{bump}' (expected {', '.join(BUMPS)})")
    root = Path(repo_root)
    head = _head(root)
    sha = gitio.resolve(root, rev) if rev else head
    if sha != head:
        raise RefusedError(
            f"--rev {rev} ({gitio.short(sha)}) is not the checked-out commit "
            f"({gitio.short(head)}); check it out first so its pipeline outputs can be checked"
        )
    name = _artifact_name(root, artifact)
    hidden = _hidden_paths(root)
    if hidden:
        raise RefusedError(
            f"git is told to ignore changes to {_some(hidden)} (assume-unchanged or "
            "skip-worktree), so a clean status proves nothing; clear it with "
            f"'git update-index --no-assume-unchanged --no-skip-worktree {hidden[0]}'"
        )
    dirty = _dirty_paths(root)
    if dirty:
        raise RefusedError(
            f"the working tree has uncommitted changes ({_some(dirty)}); "
            "commit or remove them first: a release must be exactly a commit"
        )
    if check is None:
        from mlgate.api import check as api_check

        check = api_check
    publisher = _Publisher(root, remote, push, dry_run=dry_run)
    state = publisher.connect()
    if state is not None and not on_default_branch(root, state, sha):
        branch = state.default_branch or "(none: the remote has no default branch yet)"
        raise RefusedError(
            f"commit {gitio.short(sha)} is not on the default branch of '{remote}' "
            f"({branch}); push and merge it first"
        )
    verdicts: dict[str, CheckResult] = {}
    outcome: dict[str, Any] = {}

    def plan(tags: list[GitTagRef], names: set[str]) -> _NewTag | None:
        publisher.require_local_releases(names, name)
        for ignored, why in off_commit(tags, name):
            note = f"ignored {ignored}: {why}; its version is taken all the same"
            if taken_versions([ignored], name) and note not in publisher.notes:
                publisher.notes.append(note)  # explains a version that skips ahead
        # a deregistered version no longer releases its commit (GTO registers it again)
        found = [r for r in active_releases(tags, name) if r.sha == sha]
        if found:
            outcome.update(status="already-released", tag=found[0].name, version=found[0].version)
            return None
        active = active_releases(tags, name)
        baseline = active[0].name if active else "none"
        if baseline not in verdicts:  # the baseline moves if someone released meanwhile
            first = f"no release of '{name}' yet"  # why, when the baseline is none
            verdicts[baseline] = check(root, None, baseline, why_none=first)
        verdict = verdicts[baseline]
        outcome["check"] = verdict
        if not verdict.passed:
            outcome.update(status="gates-failed")
            return None
        version = next_version(names, name, bump)
        tag_name = f"{tag_artifact_name(name)}@{version}"
        outcome.update(status="dry-run" if dry_run else "released", tag=tag_name, version=version)
        # Built in a dry run too: a commit whose lineage cannot be read fails either way.
        message = lineage.render(
            _release_summary(name, version, verdict),
            release_lineage(root, name, version, sha, verdict),
        )
        return _NewTag(tag_name, sha, message)

    published = publisher.publish(plan)
    pushed = published is not None and push
    if outcome["status"] == "already-released":  # released with --no-push, or push lost
        pushed = publisher.ensure_published(outcome["tag"])
    return ReleaseOutcome(
        status=outcome["status"],
        artifact=name,
        sha=sha,
        tag=outcome.get("tag"),
        version=outcome.get("version"),
        check=outcome.get("check"),
        pushed=pushed,
        notes=tuple(publisher.notes),
        dry_run=dry_run,
    )


# --- stages: promote and rollback ------------------------------------------------------


def assignments(
    tags: list[GitTagRef], artifact: str, known: list[ReleaseTag] | None = None
) -> list[Assignment]:
    """The stage tags of ``artifact`` resolved to versions (via the release at their commit).

    ``known``: the artifact's releases when the caller has them already.
    """
    by_sha: dict[str, Version] = {}
    for rel in active_releases(tags, artifact) if known is None else known:
        by_sha.setdefault(rel.sha, rel.version)  # two releases of one commit: the highest
    found = []
    for tag in tags:
        stage = parse_stage(tag)
        if stage is None or stage.artifact != artifact:
            continue
        block = lineage.parse(tag.message)
        version = by_sha.get(stage.sha)
        if version is None:
            continue  # a stage on a commit without a release: GTO shows no version either
        rollback_from = None
        if block.data.get("action") == ROLLBACK:
            try:
                rollback_from = Version.parse(str(block.data.get("rollback_from", "")))
            except InputError:
                rollback_from = None
        found.append(
            Assignment(
                tag.name,
                stage.stage,
                version,
                stage.date,
                stage.counter,
                stage.unassign,
                rollback_from,
            )
        )
    return found


@dataclass(frozen=True)
class StageOutcome:
    """What ``promote`` / ``rollback`` did. ``status``: assigned, already-assigned."""

    status: str
    artifact: str
    stage: str
    version: Version
    tag: str | None
    previous: Version | None
    notes: tuple[str, ...] = ()


def _find_release(tags: list[GitTagRef], artifact: str, version: Version) -> ReleaseTag:
    active = active_releases(tags, artifact)
    for rel in active:
        if rel.version == version:
            return rel
    if version in deregistered(tags, artifact):
        raise InputError(f"{tag_artifact_name(artifact)}@{version} was deregistered")
    name = release_tag_name(artifact, version)
    for ignored, why in off_commit(tags, artifact):
        if ignored == name:  # a stage on it would point at no commit either
            raise InputError(f"{name} is not a release: it {why}")
    hint = f"latest is {active[0].version}" if active else "no releases yet"
    raise InputError(f"no release {tag_artifact_name(artifact)}@{version} ({hint})")


def require_text(text: str, what: str) -> str:
    """``text`` if it can be written out (to a tag message, to stdout); else an InputError,
    raised before anything is created.

    A command-line argument that is not UTF-8 reaches Python as lone surrogates ('\\udcff' for
    the byte 0xff), which UTF-8 cannot encode: git's stdin raised UnicodeEncodeError. A NUL
    would be stored by git but split the NUL-separated records ``list_tags`` reads back.
    """
    bad = next((char for char in text if "\ud800" <= char <= "\udfff"), None)
    if bad is not None:
        code = ord(bad)
        shown = f"the byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"U+{code:04X}"
        raise InputError(f"{what} is not UTF-8 text (it contains {shown}); write it in UTF-8")
    if "\0" in text:
        raise InputError(f"{what} contains a NUL character")
    return text


def _stage_message(
    action: str,
    artifact: str,
    version: Version,
    stage: str,
    sha: str,
    previous: Version | None,
    reason: str | None,
    forced: bool = False,
) -> str:
    verb = "Roll back" if action == ROLLBACK else "Promote"
    summary = f"{verb} {artifact} {version} to {stage}"
    if previous is not None:
        summary += f" (was {previous})"
    block: dict[str, Any] = {
        "action": action,
        "artifact": artifact,
        "version": str(version),
        "stage": stage,
        "commit": sha,
        "previous": str(previous) if previous else None,
        "forced": forced,
        "reason": reason,
        "time": _now(),
        "tool": _tool(),
    }
    if action == ROLLBACK:
        block["rollback_from"] = str(previous) if previous else None
    details = (f"Reason: {reason.strip()}",) if reason and reason.strip() else ()
    return lineage.render(summary, block, details)


def promote(
    repo_root: Path,
    version: str,
    stage: str,
    artifact: str | None = None,
    message: str | None = None,
    force: bool = False,
    remote: str = "origin",
    push: bool = True,
) -> StageOutcome:
    """Assign ``stage`` to a released version; it must hold the previous stage unless forced."""
    root = Path(repo_root)
    wanted = Version.parse(version)
    order = load_stage_order(root)
    check_stage(order, stage)
    if force and not (message and message.strip()):
        raise InputError("--force needs --message REASON: the reason is recorded in the tag")
    if message is not None:
        require_text(message, "--message")
    _head(root)
    name = _artifact_name(root, artifact)
    required = previous_stage(order, stage)
    publisher = _Publisher(root, remote, push, with_messages=True)
    publisher.connect()
    result: dict[str, Any] = {}

    def plan(tags: list[GitTagRef], names: set[str]) -> _NewTag | None:
        publisher.require_local_releases(names, name)
        target = _find_release(tags, name, wanted)
        holders = current_holders(assignments(tags, name))
        previous = holders.get(stage)
        result.update(previous=previous)
        if previous == wanted:
            result.update(status="already-assigned", tag=None)
            return None
        if required is not None and holders.get(required) != wanted and not force:
            holder = holders.get(required)
            raise RefusedError(
                f"{wanted} does not hold '{required}', which comes before '{stage}' "
                f"(stage order: {' → '.join(order)}); "
                f"'{required}' is held by {holder or 'no version'}; promote {wanted} to "
                f"'{required}' first, or pass --force --message REASON"
            )
        publisher.ensure_published(target.name)  # never a stage of a version others lack
        counter = max_counter(names, name) + 1
        tag_name = f"{tag_artifact_name(name)}#{stage}#{counter}"
        result.update(status="assigned", tag=tag_name)
        text = _stage_message(PROMOTE, name, wanted, stage, target.sha, previous, message, force)
        return _NewTag(tag_name, target.sha, text)

    publisher.publish(plan)
    return StageOutcome(
        result["status"],
        name,
        stage,
        wanted,
        result["tag"],
        result["previous"],
        tuple(publisher.notes),
    )


def rollback(
    repo_root: Path,
    stage: str,
    message: str,
    artifact: str | None = None,
    remote: str = "origin",
    push: bool = True,
) -> StageOutcome:
    """Give ``stage`` back to the version that held it before the current one."""
    root = Path(repo_root)
    check_stage(load_stage_order(root), stage)
    if not (message and message.strip()):
        raise InputError("rollback needs --message REASON: the reason is recorded in the tag")
    require_text(message, "--message")
    _head(root)
    name = _artifact_name(root, artifact)
    publisher = _Publisher(root, remote, push, with_messages=True)
    publisher.connect()
    result: dict[str, Any] = {}

    def plan(tags: list[GitTagRef], names: set[str]) -> _NewTag | None:
        publisher.require_local_releases(names, name)
        stack = holder_stack(assignments(tags, name), stage)
        if len(stack) < 2:
            now = f"held by {stack[-1]}" if stack else "held by no version"
            raise RefusedError(f"cannot roll back '{stage}': no earlier version held it ({now})")
        current, target = stack[-1], stack[-2]
        first = result.setdefault("from", current)
        if current != first:
            # Planning again after losing a race: a rollback is not idempotent (popping
            # once more would undo a second promotion), so never act on the new state.
            raise RefusedError(
                f"'{stage}' changed while rolling it back: it is now held by {current}, not "
                f"{first} (someone else published first); nothing done, check 'mlgate "
                "history' before rolling back again"
            )
        release_tag = _find_release(tags, name, target)
        counter = max_counter(names, name) + 1
        tag_name = f"{tag_artifact_name(name)}#{stage}#{counter}"
        result.update(version=target, previous=current, tag=tag_name)
        text = _stage_message(ROLLBACK, name, target, stage, release_tag.sha, current, message)
        return _NewTag(tag_name, release_tag.sha, text)

    publisher.publish(plan)
    return StageOutcome(
        "assigned",
        name,
        stage,
        result["version"],
        result["tag"],
        result["previous"],
        tuple(publisher.notes),
    )


# --- history ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    tag: str
    version: Version
    sha: str
    date: str
    metrics: dict[str, float]
    stages: list[str]
    lineage: str  # ok, missing (fell back to the metrics files), corrupt
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "version": str(self.version),
            "sha": self.sha,
            "date": self.date,
            "metrics": self.metrics,
            "stages": self.stages,
            "lineage": self.lineage,
            **({"problem": self.problem} if self.problem else {}),
        }


@dataclass(frozen=True)
class History:
    """What ``history`` lists: the releases, and the tags named like a release or stage of
    the artifact that are neither because they point at no commit (``tags.off_commit``)."""

    entries: list[HistoryEntry]
    ignored: list[tuple[str, str]]  # (tag name, why)
    note: str | None = None  # why the listing may be incomplete (a shallow clone)


def main_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The headline metrics: top-level keys (``accuracy``, not ``fairness.sex.…``)."""
    return {k: v for k, v in metrics.items() if "." not in k and ":" not in k}


def _fallback_metrics(repo_root: Path, shas: list[str]) -> dict[str, dict[str, float]]:
    """Metrics read from the files each commit declares, for releases without lineage."""
    if not shas:
        return {}
    from mlgate.metrics import metrics_files, read_dvc_yaml, read_metrics

    prefix = gitio.git_prefix(repo_root)
    snaps = [gitio.Snapshot(repo_root, sha, gitio.short(sha), prefix) for sha in shas]
    gitio.prefetch_all(snaps, [DVC_YAML])
    declared = {}
    for snap in snaps:
        try:
            # Resolves ${...} in the declared paths (this repository's dvc.yaml uses vars).
            declared[snap.sha] = metrics_files(snap, read_dvc_yaml(snap))
        except MlgateError:  # one old commit's broken dvc.yaml must not break the listing
            declared[snap.sha] = []
    gitio.prefetch_all(snaps, sorted({p for paths in declared.values() for p in paths}))
    found: dict[str, dict[str, float]] = {}
    for snap in snaps:
        try:
            found[str(snap.sha)] = read_metrics(snap, declared[snap.sha]).numbers()
        except MlgateError:
            found[str(snap.sha)] = {}
    return found


def history(repo_root: Path, artifact: str | None = None, limit: int | None = None) -> History:
    """Releases newest first by semantic version, with metrics and current stages."""
    root = Path(repo_root)
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be a positive number, got {limit}")
    name = artifact_name(artifact) if artifact is not None else _artifact_name(root, None)
    tags = list_tags(root, with_messages=True)
    by_name = {t.name: t for t in tags}
    every = active_releases(tags, name)
    found = every[:limit] if limit is not None else every
    holders = current_holders(assignments(tags, name, every))
    order = load_stage_order(root)
    stages_of: dict[Version, list[str]] = {}
    for stage, version in sorted(
        holders.items(),
        key=lambda item: (order.index(item[0]) if item[0] in order else len(order), item[0]),
    ):
        stages_of.setdefault(version, []).append(stage)
    blocks = {
        rel.name: lineage.verified_for(
            lineage.headline(by_name[rel.name].message), rel.sha, str(rel.version)
        )
        for rel in found
    }
    need_files = [rel.sha for rel in found if blocks[rel.name].status != lineage.OK]
    fallback = _fallback_metrics(root, list(dict.fromkeys(need_files)))
    entries = []
    for rel in found:
        block = blocks[rel.name]
        if block.status == lineage.OK:
            recorded = block.data.get("metrics")
            metrics = lineage.numeric_items(
                main_metrics(recorded) if isinstance(recorded, dict) else {}
            )
        else:
            metrics = main_metrics(fallback.get(rel.sha, {}))
        entries.append(
            HistoryEntry(
                rel.name,
                rel.version,
                rel.sha,
                rel.date,
                metrics,
                stages_of.get(rel.version, []),
                block.status,
                block.problem if block.status == lineage.CORRUPT else "",
            )
        )
    # A shallow clone holds only the tags it fetched (none, with CI's default checkout; those
    # on the fetched commit, with `git clone --depth`), one made with --no-tags none at all:
    # the listing cannot tell.
    clone = gitio.unfetched_tags(root)
    note = (
        f"{clone} may lack tags: releases and stages whose tags were not fetched are not "
        f"listed; {FETCH_TAGS}"
        if clone
        else None
    )
    return History(entries, off_commit(tags, name), note)


@dataclass(frozen=True)
class Shown:
    """One release as ``show`` prints it: its ``history`` entry and its whole lineage block
    (empty unless the entry's lineage is ok)."""

    entry: HistoryEntry
    lineage: dict[str, Any]
    note: str | None = None  # as History.note

    def as_dict(self) -> dict[str, Any]:
        return {**self.entry.as_dict(), "block": self.lineage}


LATEST = "latest"


def show(repo_root: Path, ref: str = LATEST, artifact: str | None = None) -> Shown:
    """The release ``ref`` names, with what produced it: ``latest`` (by semantic version), a
    version (``v1.2.0``), or a stage (the version holding it now, as ``history`` shows)."""
    root = Path(repo_root)
    listing = history(root, artifact)
    name = artifact_name(artifact) if artifact is not None else _artifact_name(root, None)
    entries = listing.entries
    hint = f" (fetch the tags: {FETCH_TAGS})" if listing.note else ""
    if not entries:
        raise InputError(f"no release of '{name}' yet{hint}")
    if ref == LATEST:
        entry = entries[0]
    elif ref in load_stage_order(root) or any(ref in e.stages for e in entries):
        holding = [e for e in entries if ref in e.stages]
        if not holding:
            raise InputError(f"no version of '{name}' holds stage '{ref}'{hint}")
        entry = holding[0]
    else:
        version = Version.parse(ref)
        found = [e for e in entries if e.version == version]
        if not found:
            raise InputError(f"no release {tag_artifact_name(name)}@{version}{hint}")
        entry = found[0]
    block: dict[str, Any] = {}
    if entry.lineage == lineage.OK:
        message = next(
            t.message for t in list_tags(root, with_messages=True) if t.name == entry.tag
        )
        parsed = lineage.verified_for(lineage.parse(message), entry.sha, str(entry.version))
        block = parsed.data if parsed.status == lineage.OK else {}
    return Shown(entry, block, listing.note)


__all__ = [
    "History",
    "HistoryEntry",
    "ReleaseOutcome",
    "Shown",
    "StageOutcome",
    "history",
    "promote",
    "release",
    "require_text",
    "rollback",
    "show",
]
