"""``mlgate promote`` and ``rollback``: GTO stage tags ``<artifact>#<stage>#<N>``.

Promoting requires the version to hold the stage before (``stages.load_stage_order``) unless
forced with a reason; a rollback gives a stage back to its previous holder and records that in
its tag, so ``stages.holder_stack`` pops instead of toggling. Publishing is ``publish``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any

from mlgate import lineage
from mlgate.errors import InputError, RefusedError, require_text
from mlgate.publish import (
    NewTag,
    Planned,
    Publisher,
    artifact_in_worktree,
    head_commit,
    now,
    tool_versions,
)
from mlgate.stages import (
    PROMOTE,
    ROLLBACK,
    assignments,
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
    head_commit(root)
    name = artifact_in_worktree(root, artifact)
    required = previous_stage(order, stage)
    publisher = Publisher(root, remote, push, with_messages=True)
    publisher.connect()

    def plan(tags: list[GitTagRef], names: set[str]) -> Planned[StageOutcome]:
        publisher.require_local_releases(names, name)
        target = _find_release(tags, name, wanted)
        holders = current_holders(assignments(tags, name))
        previous = holders.get(stage)
        if previous == wanted:
            done = StageStatus.ALREADY_ASSIGNED
            return Planned(StageOutcome(done, name, stage, wanted, None, previous))
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
        text = _stage_message(PROMOTE, name, wanted, stage, target.sha, previous, message, force)
        outcome = StageOutcome(StageStatus.ASSIGNED, name, stage, wanted, tag_name, previous)
        return Planned(outcome, NewTag(tag_name, target.sha, text))

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
    check_stage(load_stage_order(root), stage)
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
        stack = holder_stack(assignments(tags, name), stage)
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
        counter = max_counter(names, name) + 1
        tag_name = f"{tag_artifact_name(name)}#{stage}#{counter}"
        text = _stage_message(ROLLBACK, name, target, stage, release_tag.sha, current, message)
        outcome = StageOutcome(StageStatus.ASSIGNED, name, stage, target, tag_name, current)
        return Planned(outcome, NewTag(tag_name, release_tag.sha, text))

    return replace(publisher.publish(plan), notes=tuple(publisher.notes))
