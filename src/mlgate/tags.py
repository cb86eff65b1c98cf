"""The GTO tag grammar, semantic versions, and reading release tags from git.

GTO (https://github.com/iterative/gto) names releases ``<artifact>@v<semver>`` and stage
assignments ``<artifact>#<stage>#<N>``, annotated tags only. Everything here is pure except
``list_tags``, which reads every tag in one ``git for-each-ref`` call (fast for thousands of
tags, unlike per-tag lookups) through ``mlgate.gitio``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import total_ordering
from pathlib import Path

from mlgate import gitio
from mlgate.errors import InputError

# GTO's artifact name: lowercase letters, digits and dashes; a dvc.yaml in a subfolder
# prefixes the name with its path and ':' (which GTO writes as '=' in tag names); the path
# may hold what GTO's allows (upper case and '_' too).
_NAME = r"[a-z0-9]([a-z0-9-/]*[a-z0-9])?"
_DIRNAME = r"[a-zA-Z0-9-_./]+"
_NAME_IN_TAG = rf"(?:{_DIRNAME}=)?{_NAME}"
# GTO's stage names: letters of either case, digits, '-', '_' and '/'.
STAGE_NAME = r"[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?"
NESTED_ARTIFACT_RE = re.compile(rf"^{_DIRNAME}:{_NAME}$")
# Digits are 0-9 only: Python's \d also matches other scripts' digits, and int() reads them,
# so "v9\u0669.0.0" would pass for v99.0.0.
_SEMVER = (
    r"(?P<major>0|[1-9][0-9]*)\.(?P<minor>0|[1-9][0-9]*)\.(?P<patch>0|[1-9][0-9]*)"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+(?P<build>[0-9A-Za-z.-]+))?"
)
_RELEASE_RE = re.compile(rf"^(?P<artifact>{_NAME_IN_TAG})@v{_SEMVER}$")
_STAGE_RE = re.compile(
    rf"^(?P<artifact>{_NAME_IN_TAG})#(?P<stage>{STAGE_NAME})(?P<cancel>!?)(?:#(?P<counter>[0-9]+))?$"
)
_COUNTER_RE = re.compile(r"#([0-9]+)$")
_VERSION_RE = re.compile(rf"^v?{_SEMVER}$")
ARTIFACT_NAME_RE = re.compile(rf"^(?:{_DIRNAME}:)?{_NAME}$")  # what GTO can tag


@total_ordering
@dataclass(frozen=True)
class Version:
    """A semantic version (https://semver.org), ordered by precedence."""

    major: int
    minor: int
    patch: int
    prerelease: str = ""

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _VERSION_RE.match(text.strip())
        if not match:
            raise InputError(f"'{text}' is not a semantic version (expected e.g. v1.2.3)")
        return cls.from_match(match)

    @classmethod
    def from_match(cls, match: re.Match[str]) -> Version:
        """The version captured by a pattern built on ``_SEMVER``."""
        major, minor, patch = int(match["major"]), int(match["minor"]), int(match["patch"])
        return cls(major, minor, patch, match["pre"] or "")

    def bump(self, part: str) -> Version:
        if part == "major":
            return Version(self.major + 1, 0, 0)
        if part == "minor":
            return Version(self.major, self.minor + 1, 0)
        if part == "patch":
            return Version(self.major, self.minor, self.patch + 1)
        raise InputError(f"unknown version part '{part}' (expected patch, minor or major)")

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
        # A prerelease sorts before its release; numeric identifiers compare as numbers.
        pre = (
            tuple(
                (0, int(part)) if part.isdigit() else (1, part)
                for part in self.prerelease.split(".")
            )
            if self.prerelease
            else ()
        )
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __str__(self) -> str:
        core = f"v{self.major}.{self.minor}.{self.patch}"
        return f"{core}-{self.prerelease}" if self.prerelease else core


def tag_artifact_name(artifact: str) -> str:
    """The artifact as written in a tag (GTO replaces ':' with '=')."""
    return artifact.replace(":", "=")


def release_tag_name(artifact: str, version: Version) -> str:
    return f"{tag_artifact_name(artifact)}@{version}"


COMMIT = "commit"  # the only object a release or stage tag may point at


@dataclass(frozen=True)
class GitTagRef:
    """One tag as read from git: name, what it points at, and whether it is annotated."""

    name: str
    sha: str  # the object the tag points at: a commit, unless target_type says otherwise
    annotated: bool
    tagger_date: str  # ISO 8601, empty for lightweight tags
    subject: str
    message: str = ""  # the full tag message, read only when asked for (list_tags)
    target_type: str = COMMIT  # or tree, blob, tag (a tag of a tag): see off_commit
    oid: str = ""  # the object the ref names: the tag object itself when annotated


_TARGETS = {
    "tree": "a tree (a directory), not a commit",
    "blob": "a blob (a file), not a commit",
    "tag": "another tag, not a commit",
}


def off_commit(tags: Iterable[GitTagRef], artifact: str) -> list[tuple[str, str]]:
    """(name, why) of every annotated tag named as a release or stage tag of ``artifact`` that
    points at something other than a commit: not a release, nor a stage assignment.

    ``git tag -a NAME <tree>`` (or a blob, or another tag) makes one. No commit means no
    dvc.lock, metrics or model to release; GTO fails on a tree or blob ("'Tree' object has
    no attribute 'commit_time'") and takes a tag of a tag's inner tag object for its commit,
    so a stage put on the real commit would not reach it in ``gto show``. The name stays
    taken all the same (``taken_versions`` and ``max_counter`` count names).
    """
    found = []
    for tag in tags:
        if not tag.annotated or tag.target_type == COMMIT:
            continue
        match = _RELEASE_RE.match(tag.name) or _STAGE_RE.match(tag.name)
        if match and match["artifact"].replace("=", ":") == artifact:
            why = _TARGETS.get(tag.target_type, f"a {tag.target_type}, not a commit")
            found.append((tag.name, f"points at {why}"))
    return sorted(found)


@dataclass(frozen=True)
class ReleaseTag:
    name: str
    artifact: str
    version: Version
    sha: str
    date: str


@dataclass(frozen=True)
class StageTag:
    name: str
    artifact: str
    stage: str
    counter: int | None
    unassign: bool
    sha: str
    date: str


def parse_release(tag: GitTagRef) -> ReleaseTag | None:
    match = _RELEASE_RE.match(tag.name)
    if not match or not tag.annotated or tag.target_type != COMMIT:
        return None
    version = Version.from_match(match)
    artifact = match["artifact"].replace("=", ":")
    return ReleaseTag(tag.name, artifact, version, tag.sha, tag.tagger_date)


def is_stage_name(name: str) -> bool:
    """Whether ``name`` is written like a stage tag (whose message ``stages`` reads)."""
    return _STAGE_RE.match(name) is not None


def parse_stage(tag: GitTagRef) -> StageTag | None:
    match = _STAGE_RE.match(tag.name)
    if not match or not tag.annotated or tag.target_type != COMMIT:
        return None
    counter = int(match["counter"]) if match["counter"] else None
    artifact = match["artifact"].replace("=", ":")
    return StageTag(
        tag.name, artifact, match["stage"], counter, bool(match["cancel"]), tag.sha, tag.tagger_date
    )


_FOR_EACH_REF_FORMAT = "%00".join(
    [
        "%(refname:strip=2)",
        "%(objecttype)",
        "%(*objecttype)",
        "%(*objectname)",
        "%(objectname)",
        "%(taggerdate:iso-strict)",
        "%(contents:subject)",
    ]
)


_RECORD_END = "\0\x1e\n"


def list_tags(
    repo_root: str | Path, with_messages: bool = False, names: Iterable[str] | None = None
) -> list[GitTagRef]:
    """Every tag of the repository, in one git call (with full messages when asked); with
    ``names``, only the tags of those names (any absent are left out)."""
    fmt = _FOR_EACH_REF_FORMAT + ("%00%(contents)%00%1e" if with_messages else "")
    wanted = None if names is None else set(names)
    if wanted is not None and not wanted:
        return []
    # A ref name holds none of git's pattern characters, so each matches itself (and refs
    # below it, as 'refs/tags/a' matches 'refs/tags/a/b': left out by name below).
    patterns = () if wanted is None else tuple(f"refs/tags/{name}" for name in sorted(wanted))
    try:
        # Bytes, decoded once: text mode's newline translation costs time on 10 MB of messages.
        out = gitio.tag_refs(repo_root, fmt, patterns).decode("utf-8", "replace")
    except InputError as exc:  # no repository there, or no directory at all
        raise InputError(f"cannot list tags in '{repo_root}': not a git repository") from exc
    records = out.split(_RECORD_END)[:-1] if with_messages else out.splitlines()
    tags = []
    for record in records:
        name, objtype, target_type, peeled, direct, date, subject, *rest = record.split("\0", 7)
        annotated = objtype == "tag"
        message = rest[0] if rest else ""
        # An annotated tag peeled once: its target, which is a commit unless someone tagged
        # a tree, a blob or another tag (then it is no release: see off_commit).
        target = (peeled, target_type) if annotated else (direct, objtype)
        if wanted is None or name in wanted:
            tags.append(
                GitTagRef(name, target[0], annotated, date, subject, message, target[1], direct)
            )
    return tags


def tag_ids(repo_root: str | Path) -> list[tuple[str, str]]:
    """(name, object id) of every tag, in ``list_tags``'s order, without reading any tag
    object: a tenth of the time ``list_tags`` takes on 1,000 tags (``mlgate.tagcache``)."""
    try:
        out = gitio.tag_refs(repo_root, "%(objectname) %(refname:strip=2)")
    except InputError as exc:
        raise InputError(f"cannot list tags in '{repo_root}': not a git repository") from exc
    # A ref name holds no space or control character (git check-ref-format); decoded as
    # list_tags decodes it.
    lines = out.decode("utf-8", "replace").splitlines()
    return [(name, oid) for oid, _, name in (line.partition(" ") for line in lines)]


def taken_versions(names: Iterable[str], artifact: str) -> list[Version]:
    """Every version of ``artifact`` a tag name already uses, annotated or not.

    Counts GTO deregistrations (``@v1.0.0!``) and counter suffixes too: a version whose name
    is taken anywhere must never be released again.
    """
    pattern = re.compile(rf"^{re.escape(tag_artifact_name(artifact))}@v{_SEMVER}!?(?:#[0-9]+)?$")
    found = []
    for name in names:
        match = pattern.match(name)
        if match:
            found.append(Version.from_match(match))
    return found


def deregistered(tags: list[GitTagRef], artifact: str) -> set[Version]:
    """Versions GTO has deregistered (an annotated ``<artifact>@vX.Y.Z!`` tag, any counter)."""
    pattern = re.compile(rf"^{re.escape(tag_artifact_name(artifact))}@v{_SEMVER}!(?:#[0-9]+)?$")
    found = set()
    for tag in tags:
        match = pattern.match(tag.name) if tag.annotated else None
        if match:
            found.add(Version.from_match(match))
    return found


def max_counter(names: Iterable[str], artifact: str) -> int:
    """The highest GTO counter (``...#N``) among ``artifact``'s tags, 0 when none.

    GTO numbers every stage tag of an artifact with one counter; the next tag gets max + 1.
    """
    prefix = tag_artifact_name(artifact)
    best = 0
    for name in names:
        if name.startswith((f"{prefix}#", f"{prefix}@")):
            match = _COUNTER_RE.search(name)
            if match:
                best = max(best, int(match[1]))
    return best


def releases(tags: list[GitTagRef], artifact: str) -> list[ReleaseTag]:
    """Release tags of one artifact, newest (highest semantic version) first."""
    found = [r for r in map(parse_release, tags) if r is not None and r.artifact == artifact]
    return sorted(found, key=lambda r: r.version._key(), reverse=True)  # as by __lt__


def active_releases(tags: list[GitTagRef], artifact: str) -> list[ReleaseTag]:
    """Releases newest first, without versions GTO deregistered (as ``gto show`` lists them)."""
    gone = deregistered(tags, artifact)
    found = releases(tags, artifact)
    return [r for r in found if r.version not in gone] if gone else found


def latest_release(tags: list[GitTagRef], artifact: str) -> ReleaseTag | None:
    """The active release with the highest semantic version (not the newest timestamp); a
    version GTO deregistered is no baseline."""
    found = active_releases(tags, artifact)
    return found[0] if found else None
