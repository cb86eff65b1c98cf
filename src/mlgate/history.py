"""``mlgate history`` and ``show``: the releases of an artifact, read back from its tags.

The hot path: the tags' names and object ids, and what ``tagcache`` keeps of each tag object
(its lineage headline) and release commit; what it does not keep yet is read with one
``git for-each-ref`` (the tag messages) and, for tags without a usable block, the metrics
files at their commits (dvc.yaml resolved once per group of commits that share it). Nothing
here imports DVC (``metrics`` is imported late, for those commits only).

Metrics are listed under the dotted keys ``dvc metrics show`` prints (dvclive's
``log_metric("test/roc_auc")`` is ``test.roc_auc``), the gated ones and ``main_metric``
first. Without ``--artifact``, ``history`` lists every artifact, as ``gto show`` does.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate import gitio, lineage
from mlgate.dvcadapter import DVC_YAML, PARAMS_YAML
from mlgate.dvcfiles import artifact_name
from mlgate.errors import FETCH_TAGS, ConfigError, InputError, MlgateError
from mlgate.gates import gates_from_document
from mlgate.loaders import parse_yaml
from mlgate.stages import assignments, current_holders, load_stage_order
from mlgate.tagcache import TagCache
from mlgate.tags import (
    GitTagRef,
    ReleaseTag,
    Version,
    active_releases,
    list_tags,
    off_commit,
    parse_release,
    tag_artifact_name,
)


@dataclass(frozen=True)
class HistoryEntry:
    tag: str
    artifact: str
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
            "artifact": self.artifact,
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

    entries: list[HistoryEntry]  # by artifact (by name), each newest first
    ignored: list[tuple[str, str]]  # (tag name, why)
    note: str | None = None  # why the listing may be incomplete (a shallow clone)


def gated_first(metrics: dict[str, float], leading: list[str]) -> dict[str, float]:
    """``metrics`` with the keys in ``leading`` (``main_metric``, then the gates' metrics)
    first, in that order, and the rest by name, as ``dvc metrics show`` orders its columns
    (a lineage block and a metrics file list them in different orders). A rule may name a
    metric ``file:key``; the listing says ``key`` unless two files hold it
    (``metrics.MetricsAt.flat``)."""
    return {key: metrics[key] for key in _listing_order(tuple(metrics), tuple(leading))}


@functools.lru_cache(maxsize=64)
def _listing_order(keys: tuple[str, ...], leading: tuple[str, ...]) -> tuple[str, ...]:
    """``gated_first``'s order of ``keys``, worked out once per set of metric names (the
    1,000 releases of a registry mostly share one)."""
    present = set(keys)
    first: list[str] = []
    for name in leading:
        for key in (name, name.split(":", 1)[-1]):
            if key in present and key not in first:
                first.append(key)
                break
    return tuple(dict.fromkeys([*first, *sorted(keys)]))


def leading_metrics(repo_root: Path) -> list[str]:
    """The metrics the working tree's gates name (``main_metric`` first), for the order
    of the listing; none when ``params.yaml`` has no usable gates (a listing is no check)."""
    snap = gitio.Snapshot(repo_root)
    text = snap.read_text(PARAMS_YAML)
    if text is None:
        return []
    try:
        gates = gates_from_document(parse_yaml(text, snap.where(PARAMS_YAML)), PARAMS_YAML)
    except MlgateError:
        return []
    names = [gates.main_metric] if gates.main_metric else []
    return list(dict.fromkeys([*names, *(rule.metric for rule in gates.rules)]))


def _fallback_metrics(
    repo_root: Path, shas: list[str], cache: TagCache
) -> dict[str, dict[str, float]]:
    """Metrics read from the files each commit declares, for releases without lineage: as
    the cache keeps them, else read (all in one git process) and kept when every file was
    in git (a file in DVC's cache may be fetched later)."""
    found = {sha: kept for sha in shas if (kept := cache.commit_metrics(sha)) is not None}
    unread = [sha for sha in shas if sha not in found]
    if not unread:
        return found
    from mlgate.metrics import read_metrics

    prefix = gitio.git_prefix(repo_root)
    declared = _declared_files(repo_root, prefix, unread)
    snaps = {sha: gitio.Snapshot(repo_root, sha, gitio.short(sha), prefix) for sha in unread}
    gitio.prefetch_each((snaps[sha], declared[sha] or []) for sha in unread)
    for sha in unread:
        files = declared[sha]
        try:
            found[sha] = read_metrics(snaps[sha], files).numbers() if files is not None else {}
        except MlgateError:
            found[sha] = {}
            continue
        if files is not None and all(snaps[sha].read_bytes(path) is not None for path in files):
            cache.keep_commit_metrics(sha, found[sha])
    return found


def _declared_files(repo_root: Path, prefix: str, shas: list[str]) -> dict[str, list[str] | None]:
    """The metrics files each commit declares (None: its dvc.yaml does not resolve; one old
    commit's broken dvc.yaml must not break the listing), templates (${...}) resolved.

    DVC's resolver runs once per group of commits whose trees answer the questions it asked
    alike (``gitio.TracedSnapshot``): the dvc.yaml files, the vars and params files it read,
    the directories it listed. Release commits mostly share those, so 1,000 of them cost one
    resolution and a few git processes; a commit that answers differently is resolved in
    the next round, with others that answer as it does."""
    from mlgate.metrics import metrics_files, read_dvc_yaml

    declared: dict[str, list[str] | None] = {}
    groups = [shas]
    while groups:
        traced = [gitio.TracedSnapshot(repo_root, g[0], gitio.short(g[0]), prefix) for g in groups]
        if len(traced) > 1:
            gitio.fill_listings(traced)
        gitio.prefetch_all(traced, [DVC_YAML, PARAMS_YAML])
        resolved: dict[str, list[str] | None] = {}
        for snap in traced:
            try:
                resolved[str(snap.sha)] = metrics_files(snap, read_dvc_yaml(snap))
            except MlgateError:
                resolved[str(snap.sha)] = None
        questions = list(dict.fromkeys(q for snap in traced for q in snap.questions))
        said = gitio.answers(
            repo_root, prefix, [sha for group in groups for sha in group], questions
        )
        regrouped: list[list[str]] = []
        for group, snap in zip(groups, traced, strict=True):
            asked = [questions.index(question) for question in snap.questions]
            alike: dict[tuple[object, ...], list[str]] = {}
            for sha in group:
                alike.setdefault(tuple(said[sha][i] for i in asked), []).append(sha)
            for members in alike.values():
                if str(snap.sha) in members:
                    declared.update(dict.fromkeys(members, resolved[str(snap.sha)]))
                else:
                    regrouped.append(members)
        groups = regrouped
    return declared


def _tagged_artifacts(tags: list[GitTagRef]) -> list[str]:
    """Every artifact with a release tag, declared or not (``gto show`` lists those too)."""
    return sorted({rel.artifact for rel in map(parse_release, tags) if rel is not None})


def _artifacts(root: Path, tags: list[GitTagRef], artifact: str | None) -> list[str]:
    """The artifacts to list: the one asked for (declared in dvc.yaml or released), else
    every artifact declared or released, by name."""
    tagged = _tagged_artifacts(tags)
    if artifact is not None and artifact_name(artifact) in tagged:
        return [artifact_name(artifact)]  # no dvc.yaml needed to read its tags back
    from mlgate.metrics import declared_artifacts, read_dvc_yaml

    snap = gitio.Snapshot(root)
    declared = declared_artifacts(snap, read_dvc_yaml(snap))
    if artifact is not None:
        if artifact_name(artifact) not in declared:
            names = ", ".join(sorted(declared)) or "none"
            raise ConfigError(f"{DVC_YAML}: no artifact '{artifact}' (declared: {names})")
        return [artifact_name(artifact)]
    if not declared and not tagged:
        from mlgate.publish import artifact_in_worktree

        return [artifact_in_worktree(root, None)]  # raises: it declares no artifacts
    return sorted({*declared, *tagged})


def _stages_by_version(
    tags: list[GitTagRef], name: str, every: list[ReleaseTag], order: tuple[str, ...]
) -> dict[Version, list[str]]:
    holders = current_holders(assignments(tags, name, every))
    stages_of: dict[Version, list[str]] = {}
    for stage, version in sorted(
        holders.items(),
        key=lambda item: (order.index(item[0]) if item[0] in order else len(order), item[0]),
    ):
        stages_of.setdefault(version, []).append(stage)
    return stages_of


def history(repo_root: Path, artifact: str | None = None, limit: int | None = None) -> History:
    """Releases newest first by semantic version, with metrics and current stages, of
    ``artifact`` or of every artifact (one after the other, by name)."""
    root = Path(repo_root)
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be a positive number, got {limit}")
    cache = TagCache(root)
    tags = cache.tags()
    names = _artifacts(root, tags, artifact)
    by_name = {t.name: t for t in tags}
    order = load_stage_order(root)
    listed: list[tuple[str, ReleaseTag, list[str]]] = []
    ignored: list[tuple[str, str]] = []
    for name in names:
        every = active_releases(tags, name)
        stages_of = _stages_by_version(tags, name, every, order)
        for rel in every[:limit] if limit is not None else every:
            listed.append((name, rel, stages_of.get(rel.version, [])))
        ignored.extend(off_commit(tags, name))
    blocks = {
        rel.name: lineage.verified_for(cache.headline(by_name[rel.name]), rel.sha, str(rel.version))
        for _, rel, _ in listed
    }
    need_files = [rel.sha for _, rel, _ in listed if blocks[rel.name].status != lineage.OK]
    fallback = _fallback_metrics(root, list(dict.fromkeys(need_files)), cache)
    cache.save()
    leading = leading_metrics(root) if listed else []
    entries = []
    for name, rel, stages in listed:
        block = blocks[rel.name]
        # an ok block's metrics are numbers only (TagCache.headline)
        metrics = block.data["metrics"] if block.status == lineage.OK else fallback.get(rel.sha, {})
        entries.append(
            HistoryEntry(
                rel.name,
                name,
                rel.version,
                rel.sha,
                rel.date,
                gated_first(metrics, leading),
                stages,
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
    return History(entries, ignored, note)


@dataclass(frozen=True)
class Shown:
    """One release as ``show`` prints it: its ``history`` entry and its verified lineage
    block (None unless the entry's lineage is ok)."""

    entry: HistoryEntry
    record: lineage.ReleaseRecord | None
    note: str | None = None  # as History.note


def show(repo_root: Path, ref: str | None = None, artifact: str | None = None) -> Shown:
    """The release ``ref`` names, with what produced it: ``latest`` (by semantic version), a
    version (``v1.2.0``), or a stage (the version holding it now, as ``history`` shows);
    each also as gto writes it, after the artifact: ``name@v1.2.0``, ``name#prod``; None
    is ``latest``."""
    # Here, not at the top: history() needs none of publish (nor remote, which it imports).
    from mlgate.publish import LATEST, artifact_in_worktree, split_ref

    root = Path(repo_root)
    named, ref, is_stage = split_ref(LATEST if ref is None else ref)
    if named is not None and artifact is not None and artifact_name(artifact) != named:
        raise InputError(f"--artifact '{artifact}' and the ref's artifact '{named}' differ")
    wanted = named if named is not None else artifact
    name = artifact_name(wanted) if wanted is not None else artifact_in_worktree(root, None)
    listing = history(root, name)
    entries = listing.entries
    hint = f" (fetch the tags: {FETCH_TAGS})" if listing.note else ""
    if not entries:
        raise InputError(f"no release of '{name}' yet{hint}")
    if ref == LATEST:
        entry = entries[0]
    elif is_stage or ref in load_stage_order(root) or any(ref in e.stages for e in entries):
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
        message = next(t.message for t in list_tags(root, with_messages=True, names=[entry.tag]))
        parsed = lineage.verified_for(lineage.parse(message), entry.sha, str(entry.version))
        if parsed.status is lineage.OK:
            record = lineage.ReleaseRecord.from_block(parsed.data)
    return Shown(entry, record, listing.note)


MAX_CARD_BYTES = 1 << 20  # a card is a page of Markdown; more is not one


@dataclass(frozen=True)
class ReleaseCard:
    """The model card a release points at, as ``show --format md`` prints it: the card at
    the release commit, or None with why (``problem``): a release made before the project
    had a card (its lineage names none), or a card that could not be read or is not the
    one its lineage records (then the card is built from the lineage alone)."""

    path: str | None  # as the lineage records it
    text: str | None
    problem: str | None = None


def release_card(repo_root: Path, shown: Shown) -> ReleaseCard:
    """The card ``shown``'s lineage points at, read at the release commit as metrics are
    read (git, else DVC's cache, else the DVC remote) and checked against the md5 the
    lineage records for it."""
    record = shown.record
    if record is None or record.card_path is None:
        return ReleaseCard(None, None)
    from mlgate.dvcdata import LEGACY_MD5, content_md5
    from mlgate.metrics import read_output

    path, sha = record.card_path, shown.entry.sha
    snap = gitio.Snapshot(repo_root, sha, gitio.short(sha), gitio.git_prefix(Path(repo_root)))
    try:
        data = read_output(snap, path)
    except MlgateError as exc:
        return ReleaseCard(path, None, str(exc))
    where = snap.where(path)
    if data is None:
        return ReleaseCard(path, None, f"{where}: in neither git nor DVC's cache")
    if len(data) > MAX_CARD_BYTES:
        return ReleaseCard(path, None, f"{where}: larger than {MAX_CARD_BYTES >> 20} MB")
    # DVC 2 locks hash text with CRLF line ends as if LF (LEGACY_MD5); either is the file
    hashes = {content_md5(data), content_md5(data, LEGACY_MD5)}
    if record.card_hash is not None and record.card_hash not in hashes:
        return ReleaseCard(
            path,
            None,
            f"{where}: md5 {content_md5(data)}, not the {record.card_hash} its lineage records",
        )
    try:
        return ReleaseCard(path, data.decode("utf-8"))
    except UnicodeDecodeError:
        return ReleaseCard(path, None, f"{where}: not valid UTF-8 text")
