"""Stages of the registry: their order (from the repo's ``.gto``) and who holds each one.

GTO keeps the allowed stages in ``.gto`` (``stages: [dev, staging, prod]``); mlgate reads the
same file, so both tools agree, and treats the list as an order: promoting to a listed stage
requires the version to hold the listed stage before it. A ``.gto`` that lists stages allows
no others (GTO refuses them too). Without that list any stage name GTO accepts is allowed, as
GTO allows it; the default order dev → staging → prod still applies to those three names.

Who holds a stage is decided the way GTO decides it: a version holds a stage from its
assignment until an un-assign tag ``<artifact>#<stage>!#<N>`` (what ``gto deprecate NAME
VERSION STAGE`` writes), and among the versions holding it the newest assignment wins (ties in
the same second are broken by GTO's tag counter, which GTO itself lacks). mlgate adds one thing
that makes rollback well defined: each stage keeps a stack of holders. A promotion pushes a
version; a rollback (recorded as such in its tag message by mlgate) pops the current holder,
so rolling back twice walks back two promotions instead of toggling between two versions.
mlgate un-assigns the version it replaces in the same push as each assignment (so GTO's API and
``dvc artifacts get`` agree with ``gto show``); such a paired un-assign tag names its
assignment and leaves the stack to it, so the replaced version stays the one a rollback
returns to. Any other un-assign (GTO's) takes the version out of the stack.
Everything here is pure; reading ``.gto`` is the only I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from mlgate import lineage
from mlgate.dvcfiles import read_text_file
from mlgate.errors import ConfigError, InputError
from mlgate.loaders import parse_yaml
from mlgate.tags import (
    STAGE_NAME,
    GitTagRef,
    ReleaseTag,
    Version,
    active_releases,
    parse_release,
    parse_stage,
    tag_artifact_name,
)

GTO_CONFIG = ".gto"
PROMOTE, ROLLBACK = "promote", "rollback"  # the "action" a stage tag's lineage block records
UNASSIGN = "unassign"  # the "action" of mlgate's un-assign tags
ASSIGNMENT_KEY = "assignment"  # in an un-assign tag's block: the tag of the paired assignment
DEFAULT_STAGES = ("dev", "staging", "prod")
# GTO's rule for stage names (gto.constants.name).
_STAGE_NAME = re.compile(rf"^{STAGE_NAME}$")


@dataclass(frozen=True)
class StageOrder:
    """The stages a repository declares, in order; ``listed``: ``.gto`` lists them, so no
    other stage exists (GTO refuses any other name then)."""

    stages: tuple[str, ...] = DEFAULT_STAGES
    listed: bool = False

    def check(self, stage: str) -> None:
        """Refuse a stage GTO would refuse, or one mlgate could not read back from its tag."""
        if self.listed and stage not in self.stages:
            raise InputError(
                f"unknown stage '{stage}' (stages in {GTO_CONFIG}: {', '.join(self.stages)})"
            )
        if not _STAGE_NAME.match(stage):
            raise InputError(
                f"'{stage}' is not a stage name GTO accepts (letters, digits, '-', '_', '/'; "
                "starting and ending with a letter or digit)"
            )

    def previous(self, stage: str) -> str | None:
        """The stage a version must hold before it may be promoted to ``stage``: the one
        before it in the order; None for the first stage and for stages outside the order."""
        self.check(stage)
        if stage not in self.stages:
            return None
        index = self.stages.index(stage)
        return self.stages[index - 1] if index > 0 else None


def parse_stages(text: str | None, source: str = GTO_CONFIG) -> StageOrder:
    """The stages declared in the text of a ``.gto`` file (None: no file)."""
    if text is None:
        return StageOrder()
    config = parse_yaml(text, source)
    if config is None:
        return StageOrder()
    if not isinstance(config, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    stages = config.get("stages")
    if stages is None:
        return StageOrder()
    if not isinstance(stages, list) or not stages:
        raise ConfigError(f"{source}: 'stages' must be a non-empty list of stage names")
    names = []
    for stage in stages:
        if not isinstance(stage, str) or not _STAGE_NAME.match(stage):
            raise ConfigError(
                f"{source}: 'stages' entry {stage!r} is not a valid stage name "
                "(letters, digits, '-', '_', '/'; starting and ending with a letter or digit)"
            )
        if stage in names:
            raise ConfigError(f"{source}: 'stages' lists '{stage}' twice")
        names.append(stage)
    return StageOrder(tuple(names), listed=True)


def load_stages(repo_root: str | Path) -> StageOrder:
    path = Path(repo_root) / GTO_CONFIG
    return parse_stages(read_text_file(path), str(path))


def parse_stage_order(text: str | None, source: str = GTO_CONFIG) -> tuple[str, ...]:
    """The stage order declared in the text of a ``.gto`` file (None: no file)."""
    return parse_stages(text, source).stages


def load_stage_order(repo_root: str | Path) -> tuple[str, ...]:
    return load_stages(repo_root).stages


def check_stage(order: tuple[str, ...], stage: str) -> None:
    """Refuse ``stage`` outside ``order`` (an explicit list, as ``.gto`` lists them)."""
    StageOrder(order, listed=True).check(stage)


def previous_stage(order: tuple[str, ...], stage: str) -> str | None:
    """The stage a version must hold before it may be promoted to ``stage`` (in ``order``)."""
    return StageOrder(order, listed=True).previous(stage)


@dataclass(frozen=True)
class Assignment:
    """One stage tag, resolved to the version it assigns (or un-assigns)."""

    tag: str
    stage: str
    version: Version
    date: str  # tagger date, ISO 8601
    counter: int | None
    unassign: bool = False
    rollback_from: Version | None = None  # set on mlgate rollback tags
    paired_with: str | None = None  # on mlgate's un-assign tags: the assignment it goes with


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
        version = by_sha.get(stage.sha)
        if version is None:
            continue  # a stage on a commit without a release: GTO shows no version either
        block = lineage.parse(tag.message)
        action = block.data.get("action")
        rollback_from = None
        if action == ROLLBACK and not stage.unassign:
            try:
                rollback_from = Version.parse(str(block.data.get("rollback_from", "")))
            except InputError:
                rollback_from = None
        paired = block.get_str(ASSIGNMENT_KEY) if action == UNASSIGN and stage.unassign else None
        found.append(
            Assignment(
                tag.name,
                stage.stage,
                version,
                stage.date,
                stage.counter,
                stage.unassign,
                rollback_from,
                paired,
            )
        )
    return found


def _moment(date: str) -> datetime:
    try:
        moment = datetime.fromisoformat(date.replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=timezone.utc)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def chronological(assignments: Iterable[Assignment]) -> list[Assignment]:
    """Oldest first, like GTO (by tag time), ties broken by GTO's counter."""
    return sorted(
        assignments,
        key=lambda a: (_moment(a.date), a.counter if a.counter is not None else -1),
    )


def _replay(assignments: Iterable[Assignment], stage: str) -> tuple[list[Version], set[Version]]:
    """The stack of ``stage``'s holders (oldest first) and the versions GTO counts as in it
    (those whose newest event there is an assignment), after every event."""
    events = chronological(a for a in assignments if a.stage == stage)
    names = {a.tag for a in events if not a.unassign}
    stack: list[Version] = []
    active: dict[Version, bool] = {}
    for event in events:
        active[event.version] = not event.unassign
        if event.unassign:
            if event.paired_with not in names:  # GTO's un-assign, or one left without its pair
                stack = [v for v in stack if v != event.version]
            continue
        if event.rollback_from is not None and stack and stack[-1] == event.rollback_from:
            stack = stack[:-1]
        if not stack or stack[-1] != event.version:
            stack = [*stack, event.version]
    return stack, {version for version, on in active.items() if on}


def holder_stack(assignments: Iterable[Assignment], stage: str) -> list[Version]:
    """The versions that held ``stage``, oldest first; the last one holds it now.

    A version GTO no longer counts in the stage holds it no more: such versions are dropped
    from the top (those below stay: a rollback may give the stage back to them).
    """
    stack, active = _replay(assignments, stage)
    while stack and stack[-1] not in active:
        stack = stack[:-1]
    return stack


def in_stage(assignments: Iterable[Assignment], stage: str) -> list[Version]:
    """Every version GTO counts in ``stage`` (assigned and not un-assigned since), highest
    first: ``gto.api.find_versions_in_stage`` names the highest of them, so all but the new
    holder must be un-assigned when the stage changes hands."""
    return sorted(_replay(assignments, stage)[1], reverse=True)


def current_holders(assignments: Iterable[Assignment]) -> dict[str, Version]:
    """Stage → the version holding it now (stages nobody holds are absent)."""
    events = list(assignments)
    holders = {}
    for stage in dict.fromkeys(a.stage for a in events):
        stack = holder_stack(events, stage)
        if stack:
            holders[stage] = stack[-1]
    return holders


def newest_tag_time(tags: Iterable[GitTagRef], artifact: str) -> int | None:
    """The tagger time (Unix seconds) of ``artifact``'s newest release or stage tag.

    GTO and ``dvc artifacts get`` order stage events by tag time alone, to the second: a new
    stage tag must be dated after every existing one, or the order is a coin toss.
    """
    prefix = tag_artifact_name(artifact)
    newest = None
    for tag in tags:
        if not tag.tagger_date or not tag.name.startswith((f"{prefix}#", f"{prefix}@")):
            continue
        if parse_stage(tag) is None and parse_release(tag) is None:
            continue
        seconds = int(_moment(tag.tagger_date).timestamp())
        newest = seconds if newest is None else max(newest, seconds)
    return newest
