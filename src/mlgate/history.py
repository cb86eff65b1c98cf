"""``mlgate history`` and ``show``: the releases of an artifact, read back from its tags.

The hot path: one ``git for-each-ref`` with the tag messages and each release's lineage
headline; the metrics files are read (from git objects) only for tags without a usable block.
Nothing here imports DVC (``metrics`` is imported late, for those tags only).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate import gitio, lineage
from mlgate.dvcadapter import DVC_YAML
from mlgate.dvcfiles import artifact_name
from mlgate.errors import FETCH_TAGS, InputError, MlgateError
from mlgate.publish import artifact_in_worktree
from mlgate.stages import assignments, current_holders, load_stage_order
from mlgate.tags import Version, active_releases, list_tags, off_commit, tag_artifact_name


@dataclass(frozen=True)
class HistoryEntry:
    tag: str
    version: Version
    sha: str
    date: str
    metrics: dict[str, float]
    stages: list[str]
    lineage: lineage.Status  # missing or corrupt: metrics from the files at the commit
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "version": str(self.version),
            "sha": self.sha,
            "date": self.date,
            "metrics": self.metrics,
            "stages": self.stages,
            "lineage": self.lineage.value,
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
    name = artifact_name(artifact) if artifact is not None else artifact_in_worktree(root, None)
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
    """One release as ``show`` prints it: its ``history`` entry and its verified lineage
    block (None unless the entry's lineage is ok)."""

    entry: HistoryEntry
    record: lineage.ReleaseRecord | None
    note: str | None = None  # as History.note


LATEST = "latest"


def show(repo_root: Path, ref: str = LATEST, artifact: str | None = None) -> Shown:
    """The release ``ref`` names, with what produced it: ``latest`` (by semantic version), a
    version (``v1.2.0``), or a stage (the version holding it now, as ``history`` shows)."""
    root = Path(repo_root)
    listing = history(root, artifact)
    name = artifact_name(artifact) if artifact is not None else artifact_in_worktree(root, None)
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
    record = None
    if entry.lineage is lineage.OK:
        message = next(
            t.message for t in list_tags(root, with_messages=True) if t.name == entry.tag
        )
        parsed = lineage.verified_for(lineage.parse(message), entry.sha, str(entry.version))
        if parsed.status is lineage.OK:
            record = lineage.ReleaseRecord.from_block(parsed.data)
    return Shown(entry, record, listing.note)
