"""Stages of the registry: their order (from the repo's ``.gto``) and who holds each one.

GTO keeps the allowed stages in ``.gto`` (``stages: [dev, staging, prod]``); mlgate reads the
same file, so both tools agree, and treats the list as an order: promoting to a stage requires
the version to hold the stage before it. Without a ``.gto`` (or without ``stages:`` in it) the
order is dev → staging → prod.

Who holds a stage is decided the way ``gto show`` decides it (the most recent assignment wins;
ties in the same second are broken by GTO's tag counter, which GTO itself lacks), with one
addition that makes rollback well defined: each stage keeps a stack of holders. A promotion
pushes a version; a rollback (recorded as such in its tag message by mlgate) pops the current
holder, so rolling back twice walks back two promotions instead of toggling between two versions.
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
from mlgate.tags import GitTagRef, ReleaseTag, Version, active_releases, parse_stage

GTO_CONFIG = ".gto"
PROMOTE, ROLLBACK = "promote", "rollback"  # the "action" a stage tag's lineage block records
DEFAULT_STAGES = ("dev", "staging", "prod")
# GTO's rule for stage names (gto.constants.name).
_STAGE_NAME = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?$")


def parse_stage_order(text: str | None, source: str = GTO_CONFIG) -> tuple[str, ...]:
    """The stage order declared in the text of a ``.gto`` file (None: no file)."""
    if text is None:
        return DEFAULT_STAGES
    config = parse_yaml(text, source)
    if config is None:
        return DEFAULT_STAGES
    if not isinstance(config, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    stages = config.get("stages")
    if stages is None:
        return DEFAULT_STAGES
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
    return tuple(names)


def load_stage_order(repo_root: str | Path) -> tuple[str, ...]:
    path = Path(repo_root) / GTO_CONFIG
    return parse_stage_order(read_text_file(path), str(path))


def check_stage(order: tuple[str, ...], stage: str) -> None:
    if stage not in order:
        raise InputError(f"unknown stage '{stage}' (stages in {GTO_CONFIG}: {', '.join(order)})")


def previous_stage(order: tuple[str, ...], stage: str) -> str | None:
    """The stage a version must hold before it may be promoted to ``stage``."""
    check_stage(order, stage)
    index = order.index(stage)
    return order[index - 1] if index > 0 else None


@dataclass(frozen=True)
class Assignment:
    """One stage tag, resolved to the version it assigns."""

    tag: str
    stage: str
    version: Version
    date: str  # tagger date, ISO 8601
    counter: int | None
    unassign: bool = False
    rollback_from: Version | None = None  # set on mlgate rollback tags


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


def holder_stack(assignments: Iterable[Assignment], stage: str) -> list[Version]:
    """The versions that held ``stage``, oldest first; the last one holds it now."""
    stack: list[Version] = []
    for event in chronological(a for a in assignments if a.stage == stage):
        if event.unassign:
            stack = [v for v in stack if v != event.version]
            continue
        if event.rollback_from is not None and stack and stack[-1] == event.rollback_from:
            stack = stack[:-1]
        if not stack or stack[-1] != event.version:
            stack = [*stack, event.version]
    return stack


def current_holders(assignments: Iterable[Assignment]) -> dict[str, Version]:
    """Stage → the version holding it now (stages nobody holds are absent)."""
    events = list(assignments)
    holders = {}
    for stage in dict.fromkeys(a.stage for a in events):
        stack = holder_stack(events, stage)
        if stack:
            holders[stage] = stack[-1]
    return holders
