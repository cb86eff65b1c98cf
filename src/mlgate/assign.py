"""``mlgate promote`` and ``rollback``: GTO stage tags ``<artifact>#<stage>#<N>``.

Promoting requires the version to hold the stage before (``stages.load_stages``) unless
forced with a reason; a rollback gives a stage back to its previous holder and records that in
its tag, so ``stages.holder_stack`` pops instead of toggling. Publishing is ``publish``'s.

GTO's rule is that a version leaves a stage only through an un-assign tag
``<artifact>#<stage>!#<N>`` (``gto deprecate NAME VERSION STAGE``), and ``gto.api``'s
``find_versions_in_stage`` names the highest version still in it while ``dvc artifacts get
--stage`` takes the newest ``<artifact>#<stage>...`` tag. So every stage change here is one
round of tags: an un-assign tag for each version that leaves the stage, then the assignment,
dated one second after them (GTO orders by tag time, to the second), pushed together. Then
``gto show``, GTO's API and DVC all name the holder mlgate names.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any

from mlgate import lineage
from mlgate.dvcfiles import artifact_name
from mlgate.errors import InputError, RefusedError, require_text
from mlgate.publish import (
    LATEST,
    NewTag,
    Planned,
    Publisher,
    artifact_in_worktree,
    head_commit,
    now,
    split_ref,
    tag_clock,
    tool_versions,
)
from mlgate.stages import (
    ASSIGNMENT_KEY,
    PROMOTE,
    ROLLBACK,
    UNASSIGN,
    Assignment,
    assignments,
    current_holders,
    holder_stack,
    in_stage,
    load_stages,
    newest_tag_time,
)
from mlgate.tags import (
    GitTagRef,
    ReleaseTag,
    Version,
    active_releases,
    deregistered,
    max_counter,
    off_commit,
    release_tag_name,
    tag_artifact_name,
)


class StageStatus(Enum):
    ASSIGNED = "assigned"
    ALREADY_ASSIGNED = "already-assigned"  # no tag


@dataclass(frozen=True)
class StageOutcome:
    """What ``promote`` / ``rollback`` did."""

    status: StageStatus
    artifact: str
    stage: str
    version: Version
    tag: str | None
    previous: Version | None
    notes: tuple[str, ...] = ()
    unassigned: tuple[str, ...] = ()  # the un-assign tags published with ``tag``


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
        "time": now(),
        "tool": tool_versions(),
    }
    if action == ROLLBACK:
        block["rollback_from"] = str(previous) if previous else None
    details = (f"Reason: {reason.strip()}",) if reason and reason.strip() else ()
    return lineage.render(summary, block, details)


def _unassign_message(
    artifact: str, version: Version, stage: str, sha: str, assignment: str, reason: str | None
) -> str:
    # GTO's own wording (``gto deprecate NAME VERSION STAGE``), then mlgate's block.
    summary = f"Unassigning stage '{stage}' to artifact '{artifact}' version '{version}'"
    block: dict[str, Any] = {
        "action": UNASSIGN,
        "artifact": artifact,
        "version": str(version),
        "stage": stage,
        "commit": sha,
        ASSIGNMENT_KEY: assignment,
        "reason": reason,
        "time": now(),
        "tool": tool_versions(),
    }
    return lineage.render(summary, block)


def _stage_change(
    publisher: Publisher,
    tags: list[GitTagRef],
    names: set[str],
    artifact: str,
    stage: str,
    events: list[Assignment],
    target: ReleaseTag,
    assign_message: str,
    reason: str | None,
    previous: Version | None,
) -> Planned[StageOutcome]:
    """The assignment of ``target`` to ``stage`` (which ``previous`` held) and, before it, an
    un-assignment of every other version GTO counts in the stage; dated after every tag of
    the artifact, the assignment one second after the un-assignments."""
    leaving = [_find_release(tags, artifact, v) for v in in_stage(events, stage)]
    leaving = [rel for rel in leaving if rel.version != target.version]
    for rel in leaving:  # never an un-assignment of a version the remote lacks
        publisher.ensure_published(rel.name)
    seconds, offset = tag_clock(publisher.repo_root)
    newest = newest_tag_time(tags, artifact)
    if newest is not None:
        seconds = max(seconds, newest + 1)
    counter = max_counter(names, artifact) + 1
    prefix = tag_artifact_name(artifact)
    tag_name = f"{prefix}#{stage}#{counter + len(leaving)}"
    before = tuple(
        NewTag(
            f"{prefix}#{stage}!#{counter + i}",
            rel.sha,
            _unassign_message(artifact, rel.version, stage, rel.sha, tag_name, reason),
            (seconds, offset),
        )
        for i, rel in enumerate(leaving)
    )
    later = seconds + 1 if before else seconds
    tag = NewTag(tag_name, target.sha, assign_message, (later, offset))
    unassigned = tuple(t.name for t in before)
    outcome = StageOutcome(
        StageStatus.ASSIGNED, artifact, stage, target.version, tag_name, previous, (), unassigned
    )
    return Planned(outcome, tag, before)


def _version_named(
    tags: list[GitTagRef], name: str, ref: str, holders: dict[str, Version]
) -> Version:
    """The version ``name@latest`` or ``name#stage`` names in these tags."""
    if ref == LATEST:
        active = active_releases(tags, name)
        if not active:
            raise InputError(f"no release of '{name}' yet")
        return active[0].version
    holder = holders.get(ref)
    if holder is None:
        raise RefusedError(f"no version of '{name}' holds stage '{ref}'")
    return holder


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
    """Assign ``stage`` to a released version; it must hold the previous stage unless forced.

    ``version`` as ``gto`` prints it too: ``name@v1.2.0``, ``name@latest``, or ``name#stage``
    for the version that holds that stage now."""
    root = Path(repo_root)
    named, ref, by_stage = split_ref(version)
    if named is not None and artifact is not None and artifact_name(artifact) != named:
        raise InputError(f"--artifact '{artifact}' and the version's artifact '{named}' differ")
    pinned = None if by_stage or ref == LATEST else Version.parse(ref)
    order = load_stages(root)
    order.check(stage)
    if force and not (message and message.strip()):
        raise InputError("--force needs --message REASON: the reason is recorded in the tag")
    if message is not None:
        require_text(message, "--message")
    head_commit(root)
    name = artifact_in_worktree(root, named or artifact)
    required = order.previous(stage)
    publisher = Publisher(root, remote, push, with_messages=True)
    publisher.connect()

    def plan(tags: list[GitTagRef], names: set[str]) -> Planned[StageOutcome]:
        publisher.require_local_releases(names, name)
        events = assignments(tags, name)
        holders = current_holders(events)
        wanted = pinned or _version_named(tags, name, ref, holders)
        target = _find_release(tags, name, wanted)
        previous = holders.get(stage)
        if previous == wanted:
            done = StageStatus.ALREADY_ASSIGNED
            return Planned(StageOutcome(done, name, stage, wanted, None, previous))
        if required is not None and holders.get(required) != wanted and not force:
            holder = holders.get(required)
            raise RefusedError(
                f"{wanted} does not hold '{required}', which comes before '{stage}' "
                f"(stage order: {' → '.join(order.stages)}); "
                f"'{required}' is held by {holder or 'no version'}; promote {wanted} to "
                f"'{required}' first, or pass --force --message REASON"
            )
        publisher.ensure_published(target.name)  # never a stage of a version others lack
        text = _stage_message(PROMOTE, name, wanted, stage, target.sha, previous, message, force)
        return _stage_change(
            publisher, tags, names, name, stage, events, target, text, message, previous
        )

    return replace(publisher.publish(plan), notes=tuple(publisher.notes))


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
    load_stages(root).check(stage)
    if not (message and message.strip()):
        raise InputError("rollback needs --message REASON: the reason is recorded in the tag")
    require_text(message, "--message")
    head_commit(root)
    name = artifact_in_worktree(root, artifact)
    publisher = Publisher(root, remote, push, with_messages=True)
    publisher.connect()
    first_holder: Version | None = None  # what the first round saw: the plan may run again

    def plan(tags: list[GitTagRef], names: set[str]) -> Planned[StageOutcome]:
        nonlocal first_holder
        publisher.require_local_releases(names, name)
        events = assignments(tags, name)
        stack = holder_stack(events, stage)
        if len(stack) < 2:
            held = f"held by {stack[-1]}" if stack else "held by no version"
            raise RefusedError(f"cannot roll back '{stage}': no earlier version held it ({held})")
        current, target = stack[-1], stack[-2]
        if first_holder is None:
            first_holder = current
        first = first_holder
        if current != first:
            # Planning again after losing a race: a rollback is not idempotent (popping
            # once more would undo a second promotion), so never act on the new state.
            raise RefusedError(
                f"'{stage}' changed while rolling it back: it is now held by {current}, not "
                f"{first} (someone else published first); nothing done, check 'mlgate "
                "history' before rolling back again"
            )
        release_tag = _find_release(tags, name, target)
        text = _stage_message(ROLLBACK, name, target, stage, release_tag.sha, current, message)
        return _stage_change(
            publisher, tags, names, name, stage, events, release_tag, text, message, current
        )

    return replace(publisher.publish(plan), notes=tuple(publisher.notes))
