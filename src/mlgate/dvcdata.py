"""Where DVC keeps a pipeline's outputs, and what ``dvc.lock`` says they hold.

A declared metrics file is read as ``dvc metrics show`` reads it: from git when it is
committed (from disk in the working tree); otherwise from DVC's local cache by the hash
the revision's ``dvc.lock`` records for its output, a file inside a directory output
through that output's ``.dir`` manifest; and when the local cache lacks it, fetched from
the DVC remote through DVC (``dvcadapter.fetch``) and then read from the cache. When
neither has it, the error names the file, says it is a DVC-cached output and gives the
command that fetches it (DVC itself exits 0 there, showing nothing).

The cache is read directly, not through DVC's repository index: the lock names the
object, and its path in the cache follows from the hash (``files/md5/ab/cdef...``; DVC 2's
locks, which write no ``hash:`` key, use ``ab/cdef...``). Every object read is checked
with hashlib against the hash that named it, so a corrupt cache cannot feed a gate.

``expected_md5`` and ``content_md5`` serve the other half: a committed metrics file whose
content is not what ``dvc.lock`` records was not written by the pipeline run the lock
describes.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate import dvcadapter
from mlgate.dvcadapter import DVC_YAML, norm_path, validate_lock
from mlgate.errors import ConfigError, InputError
from mlgate.gitio import Snapshot, short
from mlgate.loaders import parse_yaml

# Keys DVC writes for a file's content hash in dvc.lock, in order of preference.
HASH_KEYS = ("md5", "etag", "checksum", "version_id")
DIR_SUFFIX = ".dir"
# What DVC 2 called the md5 of a text file with its CRLFs made LFs (no ``hash:`` key).
LEGACY_MD5 = "md5-dos2unix"


@dataclass(frozen=True)
class LockedFile:
    """One dependency or output recorded in dvc.lock. ``hash_name``: how ``hash`` was
    computed (``md5``; ``md5-dos2unix`` for a DVC 2 lock; the key for etags and the like);
    a directory output's md5 ends with ``.dir`` (its manifest)."""

    path: str
    stage: str
    kind: str  # "dep" or "out"
    hash: str
    size: int | None
    hash_name: str = "md5"

    @property
    def is_dir(self) -> bool:
        return self.hash_name in ("md5", LEGACY_MD5) and self.hash.endswith(DIR_SUFFIX)


def lock_document(text: str, where: str) -> Any:
    """A ``dvc.lock``'s text parsed (``parse_yaml``), once per process for the readers of one
    commit (``parse_lock``, and freshness, which reads its stages' records): the same object
    each time, which its readers only read."""
    found = _LOCK_DOCUMENTS.get(text)
    if found is None:
        found = parse_yaml(text, where)  # an error names ``where``, and is not kept
        if len(_LOCK_DOCUMENTS) >= _LOCK_DOCUMENTS_MAX:
            _LOCK_DOCUMENTS.pop(next(iter(_LOCK_DOCUMENTS)))
        _LOCK_DOCUMENTS[text] = found
    return found


_LOCK_DOCUMENTS: dict[str, Any] = {}
_LOCK_DOCUMENTS_MAX = 16


def parse_lock(
    text: str, where: str, directory: str = "", wdirs: Mapping[str, str] | None = None
) -> dict[str, LockedFile]:
    """Every dep and out of a dvc.lock by path (outs win over deps), validated with DVC's schema.

    DVC writes each path relative to its stage's ``wdir`` (``wdirs``: stage name to wdir,
    relative to the lock's ``directory``); here they are relative to the project root. A
    stage of a lock in a subdirectory is named as DVC addresses it, ``sub/dvc.yaml:train``.
    A truncated or hand-broken lock is an InputError naming the file and the problem.
    """
    try:
        data = lock_document(text, where)
    except ConfigError as exc:
        raise InputError(f"{exc} (unreadable dvc.lock; rerun 'dvc repro')") from exc
    if not isinstance(data, dict):
        raise InputError(f"{where}: unreadable dvc.lock: expected a mapping at the top level")
    validate_lock(data, where)
    files: dict[str, LockedFile] = {}
    for stage, spec in (data.get("stages") or {}).items():
        name = f"{posixpath.join(directory, DVC_YAML)}:{stage}" if directory else str(stage)
        base = posixpath.join(directory, (wdirs or {}).get(str(stage), ""))
        for kind, key in (("dep", "deps"), ("out", "outs")):
            for entry in spec.get(key) or []:
                found = next((k for k in HASH_KEYS if entry.get(k)), None)
                if found is None:
                    raise InputError(
                        f"{where}: unreadable dvc.lock: stage '{stage}' {key} "
                        f"'{entry['path']}' has no hash (expected one of {', '.join(HASH_KEYS)})"
                    )
                hash_name = found
                if found == "md5":
                    hash_name = str(entry.get("hash") or LEGACY_MD5)
                path = norm_path(entry["path"], base)
                if kind == "dep" and path in files:
                    continue
                size = entry.get("size")
                files[path] = LockedFile(
                    path,
                    name,
                    kind,
                    str(entry[found]),
                    size if isinstance(size, int) else None,
                    hash_name,
                )
    return files


def covering(locks: Mapping[str, LockedFile], path: str) -> tuple[LockedFile, str] | None:
    """The output of ``locks`` that holds ``path`` and the path inside it ('' for the output
    itself): the output recorded at ``path``, else the innermost directory output above it."""
    found = locks.get(path)
    if found is not None and found.kind == "out":
        return found, ""
    parent = posixpath.dirname(path)
    while parent:
        found = locks.get(parent)
        if found is not None and found.kind == "out" and found.is_dir:
            return found, posixpath.relpath(path, parent)
        parent = posixpath.dirname(parent)
    return None


def content_md5(data: bytes, hash_name: str = "md5") -> str:
    """The md5 DVC records for a file of these bytes (DVC 2: text files with LF endings)."""
    # Experiments share most files with their parent, read once as one bytes object each
    # (gitio's object cache): their md5 is kept for the process by that object.
    key = (data, hash_name)
    found = _MD5S.get(key) if len(data) <= _MD5_KEPT_SIZE else None
    if found is None:
        hashed = data
        if hash_name == LEGACY_MD5 and dvcadapter.is_text(data):
            hashed = data.replace(b"\r\n", b"\n")
        found = hashlib.md5(hashed, usedforsecurity=False).hexdigest()
        if len(data) <= _MD5_KEPT_SIZE:
            if len(_MD5S) >= 4096:
                _MD5S.clear()
            _MD5S[key] = found
    return found


_MD5S: dict[tuple[bytes, str], str] = {}
_MD5_KEPT_SIZE = 1 << 20


def cache_dir(project_root: Path) -> Path:
    """DVC's local cache of the project: ``cache.dir`` of ``.dvc/config.local`` or
    ``.dvc/config`` (relative to ``.dvc/``), else ``.dvc/cache``."""
    dvc_dir = Path(project_root) / ".dvc"
    for name in ("config.local", "config"):
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read(dvc_dir / name, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            continue  # DVC itself reports a broken config where it matters (fetch)
        configured = parser.get("cache", "dir", fallback=None)
        if configured:
            return (dvc_dir / configured.strip().strip("'\"")).resolve()
    return dvc_dir / "cache"


def fetch_command(snap: Snapshot, path: str) -> str:
    """The command that brings ``path`` of ``snap`` into the local cache."""
    if snap.is_worktree:
        return f"dvc fetch {path}"
    return f"git checkout {short(snap.sha or '')} && dvc fetch {path} (or dvc fetch -A {path})"


@dataclass
class Outputs:
    """Reads the DVC-cached outputs of one snapshot, fetching what the local cache lacks.

    ``fetch``: whether to ask DVC to fetch a missing object from the remote (once per
    output); objects and manifests are checked against their hash when read."""

    snap: Snapshot
    locks: Mapping[str, LockedFile]
    fetch: bool = True
    _cache: Path | None = field(default=None, repr=False)
    _manifests: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    _fetched: dict[str, str | None] = field(default_factory=dict, repr=False)

    @property
    def cache(self) -> Path:
        if self._cache is None:
            self._cache = cache_dir(self.snap.repo_root)
        return self._cache

    def _object(self, oid: str, hash_name: str) -> bytes | None:
        """An object of the local cache by its hash, or None when the cache lacks it."""
        if hash_name not in ("md5", LEGACY_MD5) or not _is_md5(oid.removesuffix(DIR_SUFFIX)):
            return None
        layout = self.cache / "files" / "md5" if hash_name == "md5" else self.cache
        try:
            data = (layout / oid[:2] / oid[2:]).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as exc:
            raise InputError(f"{layout / oid[:2] / oid[2:]}: cannot read ({exc.strerror})") from exc
        if hashlib.md5(data, usedforsecurity=False).hexdigest() != oid.removesuffix(DIR_SUFFIX):
            raise InputError(
                f"{layout / oid[:2] / oid[2:]}: the DVC cache holds a corrupt copy of md5 {oid} "
                "(run 'dvc cache migrate' or delete it and fetch again)"
            )
        return data

    def _or_fetch(self, path: str, out: LockedFile, read: Any) -> Any:
        """``read()``, fetching ``path`` (the output ``out``, or a file in it) once when the
        local cache lacks it."""
        found = read()
        if found is None and self.fetch and out.path not in self._fetched:
            self._fetched[out.path] = dvcadapter.fetch(self.snap.repo_root, path, self.snap.sha)
            found = read()
        return found

    def _missing(self, path: str, out: LockedFile, what: str) -> InputError:
        why = self._fetched.get(out.path)
        where = (
            f"is not in the local cache and DVC could not fetch it ({why})"
            if why
            else "is in neither the local cache nor the DVC remote"
        )
        return InputError(
            f"{self.snap.where(path)}: a DVC-cached output of stage '{out.stage}' whose "
            f"{what} {where}; fetch it with '{fetch_command(self.snap, path)}'"
        )

    def manifest(self, path: str, out: LockedFile) -> dict[str, str]:
        """A directory output's files (path inside it → md5), from its ``.dir`` manifest."""
        if out.path in self._manifests:
            return self._manifests[out.path]
        data = self._or_fetch(path, out, lambda: self._object(out.hash, out.hash_name))
        if data is None:
            raise self._missing(path, out, f"manifest ({out.hash})")
        try:
            entries = json.loads(data)
            files = {str(e["relpath"]): str(e["md5"]) for e in entries}
        except (ValueError, TypeError, KeyError) as exc:
            raise InputError(
                f"{self.snap.where(out.path)}: the DVC manifest {out.hash} is not a list of "
                "files (corrupt cache)"
            ) from exc
        self._manifests[out.path] = files
        return files

    def expected_md5(self, path: str, out: LockedFile, inside: str) -> str | None:
        """The md5 ``dvc.lock`` records for ``path`` (through the manifest when it is
        ``inside`` a directory output); None when the manifest does not list it."""
        if not inside:
            return out.hash
        return self.manifest(path, out).get(inside)

    def read(self, path: str, out: LockedFile, inside: str) -> bytes | None:
        """The bytes of ``path`` as the lock records them, from the cache (fetched when
        missing); None when a directory output's manifest does not list it."""
        oid = self.expected_md5(path, out, inside)
        if oid is None:
            return None
        hash_name = out.hash_name
        data = self._or_fetch(path, out, lambda: self._object(oid, hash_name))
        if data is None:
            raise self._missing(path, out, f"copy (md5 {oid})")
        return data


def _is_md5(text: str) -> bool:
    return len(text) == 32 and all(char in "0123456789abcdef" for char in text)
