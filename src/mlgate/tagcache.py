"""What ``mlgate history`` reads from tag objects and release commits, kept under ``.git``.

Listing 1,000 lineage-carrying releases reads their 13 MB of tag messages (one ``git
for-each-ref``) and parses each block's metrics, on every run; listing releases another tool
tagged (GTO) resolves each commit's ``dvc.yaml`` and reads its metrics files. All of it
depends on objects that never change: a tag object and a commit, each named by its id. So
what history takes from each is kept in ``.git/mlgate/history`` by that id, and a repeat
run reads only the tags' names and ids (``tags.tag_ids``, no tag object) and this file:
BENCHMARKS.md, "history over 1,000 releases: a cache under .git".

The file: a header line (format, code, CRC-32 of the rest), one line of JSON (the records)
and the metrics' numbers as little-endian doubles, which the records point into. Parsing
77,000 numbers as JSON text took 30 ms of the 0.3 s history may take; as doubles, 0.03 ms.

Kept per tag object: what ``tags.list_tags`` reads of it (its target, date, subject; the
message itself when under 4 KB, as a stage tag's is), and the ``lineage.headline`` of its
message (status, problem, commit, version and numeric metrics). Per release commit: its
metrics as read from its files, only when every declared file was in git (a file in DVC's
cache reads differently once fetched) and nothing failed.

Never wrong, never in the way:
- a moved tag names another object, a deleted one is not listed, a new one is read afresh;
- the file records the code that wrote it (the bytes of mlgate's modules and DVC's version
  file): other code, as after an upgrade, misses. Each work tree keeps its own (in its git
  directory: ``git worktree add`` makes one per worktree), so worktrees on branches with
  different code do not overwrite each other's on every run;
- an unreadable, corrupt or foreign file, or a record of the wrong shape, is ignored (read
  afresh) and the file rewritten; it is replaced atomically (a temporary file renamed over
  it); when ``.git`` is read-only or the disk full, the command goes on without it.
"""

from __future__ import annotations

import json
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate import gitio, kept, lineage
from mlgate.errors import InputError
from mlgate.tags import GitTagRef, is_stage_name, list_tags, tag_ids

FORMAT = "mlgate history cache 1"
DIRECTORY, FILE = kept.DIRECTORY, "history"
MESSAGE_LIMIT = 4096  # keep a message this short (stage tags'); a release's block is ~12 KB
# Beyond this many tags to read afresh (or half of them), one for-each-ref over all of them
# beats naming each.
_NAMED_READ_LIMIT = 200


@dataclass(frozen=True)
class _TagObject:
    """What ``list_tags`` reads of one object a tag ref names, and its message's headline."""

    objecttype: str
    target_type: str
    peeled: str
    date: str
    subject: str
    message: str | None  # None: longer than MESSAGE_LIMIT, not kept
    headline: lineage.Lineage

    def ref(self, name: str, oid: str) -> GitTagRef:
        """The tag ``name`` that names this object, as ``list_tags`` gives it."""
        annotated = self.objecttype == "tag"
        sha, target = (self.peeled, self.target_type) if annotated else (oid, self.objecttype)
        message = self.message or ""
        return GitTagRef(name, sha, annotated, self.date, self.subject, message, target, oid)


def _headline_of(tag: GitTagRef) -> lineage.Lineage:
    """The headline of a message as history uses it: status, problem, the commit and version
    it names (if text) and its numeric metrics; the rest of a block is never read."""
    block = lineage.headline(tag.message)
    if block.status is not lineage.OK:
        return lineage.Lineage(block.status, {}, block.problem)
    data: dict[str, Any] = {"metrics": block.metrics}
    for key in ("commit", "version"):
        if block.get_str(key) is not None:
            data[key] = block.get_str(key)
    return lineage.Lineage(lineage.OK, data)


def _object_of(tag: GitTagRef) -> _TagObject:
    objecttype = "tag" if tag.annotated else tag.target_type
    peeled, target_type = (tag.sha, tag.target_type) if tag.annotated else ("", "")
    message = tag.message if len(tag.message) <= MESSAGE_LIMIT else None
    return _TagObject(
        objecttype, target_type, peeled, tag.tagger_date, tag.subject, message, _headline_of(tag)
    )


class TagCache:
    """The tags of a repository and what history needs of them, read through the cache.

    ``tags()`` lists every tag as ``list_tags(with_messages=True)`` does, except that only
    stage-like tags are sure to carry their message (the others: when short); ``headline``
    gives a tag's lineage headline. ``save()`` writes what was read afresh."""

    def __init__(self, repo_root: str | Path) -> None:
        self.repo_root = Path(repo_root)
        self._code = _code_key()
        self._path: Path | None = None
        self._stored: dict[str, Any] = {"tags": {}, "commits": {}, "keys": []}
        self._keys: list[list[str] | None] = []  # the stored lists of metric names
        self._numbers = array("d")  # the stored metrics' values, which records point into
        self._objects: dict[str, _TagObject] = {}  # by object id: read afresh or validated
        self._commits: dict[str, dict[str, float]] = {}  # kept this run
        self._listed: list[GitTagRef] = []
        self._dirty = False
        self._load()

    # -- reading --------------------------------------------------------------------------
    def _load(self) -> None:
        if self._code is None:
            return
        try:
            self._path = gitio.git_dir(self.repo_root) / DIRECTORY / FILE
        except InputError:  # no repository
            return
        # The header names the format, the code and the CRC-32 of the rest: the content is
        # then exactly what this code wrote, so its numbers are not checked one by one.
        rest = kept.read(self._path, FORMAT, self._code)
        if rest is None and not self._path.exists():
            return  # none yet
        text, _, binary = (rest or b"").partition(b"\n")
        data = None
        if rest is not None and len(binary) % 8 == 0:
            try:
                data = json.loads(text)
            except ValueError:  # pragma: no cover - the CRC-32 vouched for it
                data = None
        if (
            isinstance(data, dict)
            and isinstance(data.get("tags"), dict)
            and isinstance(data.get("commits"), dict)
            and isinstance(data.get("keys"), list)
        ):
            self._stored = data
            self._keys = [
                keys if isinstance(keys, list) and all(type(k) is str for k in keys) else None
                for keys in data["keys"]
            ]
            self._numbers.frombytes(binary)
            if sys.byteorder != "little":  # pragma: no cover - written little-endian
                self._numbers.byteswap()
        else:
            self._dirty = True  # damaged, foreign or another code's: rewritten with ours

    def _metrics(self, keys_index: Any, start: Any) -> dict[str, float] | None:
        """The metrics a record points at: names from the table, values from the numbers."""
        if type(keys_index) is not int or not 0 <= keys_index < len(self._keys):
            return None
        keys = self._keys[keys_index]
        if keys is None or type(start) is not int or not 0 <= start <= len(self._numbers):
            return None
        values = self._numbers[start : start + len(keys)]
        return dict(zip(keys, values, strict=True)) if len(values) == len(keys) else None

    def _stored_object(self, oid: str) -> _TagObject | None:
        """A stored record, if it has the shape ``_record`` writes."""
        record = self._stored["tags"].get(oid)
        if not isinstance(record, list) or len(record) != 12:
            return None
        objecttype, target_type, peeled, date, subject, message, *rest = record
        status, problem, commit, version, keys_index, start = rest
        text = (objecttype, target_type, peeled, date, subject)
        if not all(type(item) is str for item in (*text, problem)):
            return None
        if not (message is None or type(message) is str) or status not in _STATUSES:
            return None
        if status != lineage.OK.value:
            headline = lineage.Lineage(lineage.Status(status), {}, problem)
        else:
            metrics = self._metrics(keys_index, start)
            if metrics is None or not all(v is None or type(v) is str for v in (commit, version)):
                return None
            named = {"commit": commit, "version": version}
            data = {"metrics": metrics, **{k: v for k, v in named.items() if v is not None}}
            headline = lineage.Lineage(lineage.OK, data)
        return _TagObject(objecttype, target_type, peeled, date, subject, message, headline)

    def tags(self) -> list[GitTagRef]:
        """Every tag, in ``list_tags``'s order; tags whose objects are not kept (or a
        stage-like tag whose message was too long to keep) are read with their messages."""
        if self._code is None or not self._stored["tags"]:  # nothing kept: read them all
            self._listed = self._fresh(list_tags(self.repo_root, with_messages=True))
            return self._listed
        ids = tag_ids(self.repo_root)
        afresh = []
        for name, oid in ids:
            found = self._objects.get(oid) or self._stored_object(oid)
            if found is None or (found.message is None and is_stage_name(name)):
                afresh.append(name)
            else:
                self._objects[oid] = found
        if not afresh:
            self._listed = [self._objects[oid].ref(name, oid) for name, oid in ids]
        elif (
            len(afresh) > min(_NAMED_READ_LIMIT, len(ids) // 2)
            or any("\ufffd" in name for name in afresh)  # not UTF-8: cannot be asked for
        ):
            self._listed = self._fresh(list_tags(self.repo_root, with_messages=True))
        else:
            read = {tag.name: tag for tag in self._fresh(list_tags(self.repo_root, True, afresh))}
            self._listed = [
                read[name] if name in read else self._objects[oid].ref(name, oid)
                for name, oid in ids
                if name in read or name not in afresh  # gone since: as if listed after
            ]
        return self._listed

    def _fresh(self, read: list[GitTagRef]) -> list[GitTagRef]:
        """Tags just read with their messages: their objects, to keep."""
        for tag in read:
            self._objects[tag.oid] = _object_of(tag)
            self._dirty = self._dirty or tag.oid not in self._stored["tags"]
        return read

    def headline(self, tag: GitTagRef) -> lineage.Lineage:
        """What history takes of ``lineage.headline`` of the tag's message (kept, or read
        afresh by ``tags``): status and problem and, when ok, its ``metrics`` as
        ``lineage.numeric_items`` gives them (finite numbers only) and its ``commit`` and
        ``version`` when they are text."""
        found = self._objects.get(tag.oid)
        return found.headline if found is not None else _headline_of(tag)

    def commit_metrics(self, sha: str) -> dict[str, float] | None:
        """The metrics kept for a release commit, None when none are."""
        if sha in self._commits:
            return self._commits[sha]
        record = self._stored["commits"].get(sha)
        if not isinstance(record, list) or len(record) != 2:
            return None
        found = self._metrics(*record)
        if found is not None:
            self._commits[sha] = found
        return found

    def keep_commit_metrics(self, sha: str, metrics: dict[str, float]) -> None:
        """Keep what a commit's files said (only when all were read from git)."""
        self._commits[sha] = dict(metrics)
        self._dirty = True

    # -- writing --------------------------------------------------------------------------
    def save(self) -> None:
        """Write the objects of the listed tags and the metrics of their commits, if
        anything changed; atomically, and never failing the command."""
        if self._path is None or self._code is None:
            return
        oids = {tag.oid for tag in self._listed}
        targets = {tag.sha for tag in self._listed}
        stale = set(self._stored["tags"]) - oids or set(self._stored["commits"]) - targets
        if not (self._dirty or stale):
            return
        for sha in targets:
            self.commit_metrics(sha)  # validates what is kept before it is written again
        numbers = _Numbers()
        data = {
            "tags": {oid: _record(self._objects[oid], numbers) for oid in sorted(oids)},
            "commits": {
                sha: numbers.add(self._commits[sha])
                for sha in sorted(targets)
                if sha in self._commits
            },
            "keys": [list(keys) for keys in numbers.table],
        }
        values = numbers.values
        if sys.byteorder != "little":  # pragma: no cover - written little-endian
            values.byteswap()
        rest = json.dumps(data, separators=(",", ":")).encode() + b"\n" + values.tobytes()
        kept.write(self._path, FORMAT, self._code, rest)


_STATUSES = {status.value for status in lineage.Status}


def _header(code: str, body: bytes) -> bytes:
    return kept.header(FORMAT, code, body)


class _Numbers:
    """The metrics of the records being written: each list of names once (``table``), and
    every value in one array of doubles; a record holds [names' index, first value's]."""

    def __init__(self) -> None:
        self.table: dict[tuple[str, ...], int] = {}
        self.values = array("d")

    def add(self, metrics: dict[str, float]) -> list[int]:
        start = len(self.values)
        self.values.extend(metrics.values())
        return [self.table.setdefault(tuple(metrics), len(self.table)), start]


def _record(found: _TagObject, numbers: _Numbers) -> list[Any]:
    headline = found.headline
    ok = headline.status is lineage.OK
    keys_index, start = numbers.add(headline.metrics) if ok else (-1, -1)
    return [
        found.objecttype,
        found.target_type,
        found.peeled,
        found.date,
        found.subject,
        found.message,
        headline.status.value,
        headline.problem,
        headline.get_str("commit"),
        headline.get_str("version"),
        keys_index,
        start,
    ]


_code_key = kept.code_key
