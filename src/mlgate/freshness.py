"""Whether a commit's ``dvc.lock`` still describes its pipeline: the check behind
"metrics are stale: run `dvc repro`" for a revision (issue 21).

``dvc status`` answers this for the working tree (``dvcadapter.stale_stages``), but not for
a commit: DVC opened at a revision (``Repo(rev=...)``) took 3-5 s here and calls every
DVC-cached dependency "deleted", since those are not in git. So the stages' records are
checked as DVC checks them, from git objects: a stage is stale when it is not in its
``dvc.lock``, when its ``cmd`` differs from the locked one, when a dependency's md5 (a
file's content, a directory's ``.dir`` manifest, hashed as DVC hashes them) differs from
the locked one, or when a param's value differs from the locked value. A dependency that is
not in git is compared with what its producer locked (another stage's output) or its
``.dvc`` file records; one found in neither (or hashed by etag, or outside the project)
cannot be checked from git and is taken as unchanged, as is a params file this tool cannot
parse (a Python one). Frozen stages are only checked for their command, as ``dvc status``
does; ``always_changed`` does not make a stage stale (the working-tree check ignores it too).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlgate.dvcadapter import (
    DVC_LOCK,
    PARAMS_YAML,
    Pipeline,
    norm_path,
    resolve,
    stage_address,
)
from mlgate.dvcdata import (
    DIR_SUFFIX,
    HASH_KEYS,
    LEGACY_MD5,
    LockedFile,
    content_md5,
    lock_document,
)
from mlgate.gitio import Snapshot
from mlgate.loaders import parse_structured, parse_yaml
from mlgate.metrics import pipelines, read_locks

NOT_LOCKED = "not in dvc.lock"
COMMAND = "cmd"
PARAMS_SUFFIXES = (".yaml", ".yml", ".json", ".toml")  # DVC also reads .py: not from here
_ABSENT: Any = object()


@dataclass(frozen=True)
class StaleStage:
    """A stage whose ``dvc.lock`` record does not match the commit: ``changed`` names what
    differs (``cmd``, a dependency's path, ``file:key`` of a param, or ``NOT_LOCKED``)."""

    stage: str  # as DVC addresses it from the project root
    changed: tuple[str, ...]


# What a stage's record is checked on: the other keys (outs, metrics, plots) hold no input,
# and resolving only these skips their ${...} (DVC's parser is most of the time spent here).
STAGE_KEYS = ("wdir", "cmd", "deps", "params", "frozen")


def stale_stages_at(
    snap: Snapshot,
    dvc_yaml: Mapping[str, Any],
    locks: Mapping[str, LockedFile] | None = None,
) -> list[StaleStage]:
    """The stages of every ``dvc.yaml`` of ``snap`` whose lock record does not match it,
    in the order DVC lists them. ``locks``: ``metrics.read_locks`` of the snapshot, when
    the caller has read them (which validated every dvc.lock with DVC's schema)."""
    found = pipelines(snap, dvc_yaml)
    if locks is None:
        locks = read_locks(snap, dvc_yaml)
    outputs = {path: entry for path, entry in locks.items() if entry.kind == "out"}
    params: dict[str, dict[str, Any]] = {}  # each params file parsed once for every stage
    stale: list[StaleStage] = []
    for directory, path, data in found:
        if not data.get("stages"):
            continue
        pipeline = resolve(snap, path, data, STAGE_KEYS)
        locked = _locked_stages(snap, norm_path(DVC_LOCK, directory))
        _prefetch_deps(snap, pipeline)
        for name, stage in pipeline.stages.items():
            changed = _stage_changes(snap, pipeline, stage, locked.get(name), outputs, params)
            if changed:
                stale.append(StaleStage(stage_address(path, name), tuple(changed)))
    return stale


def _locked_stages(snap: Snapshot, lock_path: str) -> dict[str, Mapping[str, Any]]:
    text = snap.read_text(lock_path)
    if text is None:
        return {}
    data = lock_document(text, snap.where(lock_path))  # read_locks validated this very text
    if not isinstance(data, dict):  # pragma: no cover - read_locks refused it already
        return {}
    return {str(name): spec for name, spec in (data.get("stages") or {}).items()}


def _wdir(pipeline: Pipeline, stage: Mapping[str, Any]) -> str:
    return norm_path(str(stage.get("wdir") or ""), pipeline.directory)


def _dep_paths(stage: Mapping[str, Any]) -> list[str]:
    return [str(dep) for dep in stage.get("deps") or [] if "://" not in str(dep)]


def _prefetch_deps(snap: Snapshot, pipeline: Pipeline) -> None:
    """One git process for every file dependency of the pipeline."""
    wanted = []
    for stage in pipeline.stages.values():
        wdir = _wdir(pipeline, stage)
        wanted += [norm_path(dep, wdir) for dep in _dep_paths(stage)]
    snap.prefetch([path for path in wanted if snap.is_inside(path)])


def _stage_changes(
    snap: Snapshot,
    pipeline: Pipeline,
    stage: Mapping[str, Any],
    lock: Mapping[str, Any] | None,
    outputs: Mapping[str, LockedFile],
    params: dict[str, dict[str, Any]],
) -> list[str]:
    if lock is None:
        return [NOT_LOCKED]
    changed = [COMMAND] if stage.get("cmd") != lock.get("cmd") else []
    if stage.get("frozen"):
        return changed
    wdir = _wdir(pipeline, stage)
    locked_deps = {norm_path(str(entry["path"]), wdir): entry for entry in lock.get("deps") or []}
    for dep in _dep_paths(stage):
        path = norm_path(dep, wdir)
        entry = locked_deps.get(path)
        if entry is None or not _dep_matches(snap, path, entry, outputs):
            changed.append(path)
    declared = stage.get("params") or []
    changed += _param_changes(snap, wdir, declared, lock.get("params") or {}, params)
    return changed


def _dep_matches(
    snap: Snapshot, path: str, entry: Mapping[str, Any], outputs: Mapping[str, LockedFile]
) -> bool:
    found = next((key for key in HASH_KEYS if entry.get(key)), None)
    if found != "md5" or not snap.is_inside(path):
        return True  # an etag, a file elsewhere: git cannot tell
    hash_name = str(entry.get("hash") or LEGACY_MD5)
    recorded = str(entry["md5"])
    data = snap.read_bytes(path)
    if data is not None:
        return content_md5(data, hash_name) == recorded
    inside = snap.files_under(path)
    if inside:
        return directory_md5(snap, path, inside, hash_name) == recorded
    made = outputs.get(path)
    if made is not None:  # another stage's output: what that stage locked
        return made.hash == recorded
    tracked = _dvc_file_md5(snap, f"{path}.dvc")
    return tracked is None or tracked == recorded


def directory_md5(snap: Snapshot, directory: str, files: list[str], hash_name: str) -> str:
    """The md5 DVC records for a directory: that of its ``.dir`` manifest, the JSON list of
    its files' ``relpath`` and ``md5`` sorted by path (dvc_data's ``Tree.as_bytes``). A file
    that git holds only as ``<file>.dvc`` (DVC-tracked inside the folder, like the labelled
    batches in data/labelled) counts with the md5 its ``.dvc`` file records."""
    snap.prefetch(files)
    entries = []
    for path in files:
        data = snap.read_bytes(path) or b""
        entries.append(
            {"md5": content_md5(data, hash_name), "relpath": posixpath.relpath(path, directory)}
        )
    known = set(files)
    for path in files:  # a file DVC tracks inside the folder: git holds only its .dvc file
        tracked = path[: -len(".dvc")]
        if not path.endswith(".dvc") or tracked in known:
            continue
        md5 = _dvc_file_md5(snap, path)
        if md5:
            entries.append({"md5": md5, "relpath": posixpath.relpath(tracked, directory)})
    entries.sort(key=lambda entry: entry["relpath"])
    manifest = json.dumps(entries, sort_keys=True).encode("utf-8")
    return hashlib.md5(manifest, usedforsecurity=False).hexdigest() + DIR_SUFFIX


def _dvc_file_md5(snap: Snapshot, path: str) -> str | None:
    """The md5 a ``.dvc`` file records for its output, None when there is none to compare."""
    text = snap.read_text(path)
    if text is None:
        return None
    data = parse_yaml(text, snap.where(path))
    outs = data.get("outs") if isinstance(data, dict) else None
    if not isinstance(outs, list) or len(outs) != 1 or not isinstance(outs[0], dict):
        return None
    md5 = outs[0].get("md5")
    return str(md5) if md5 else None


def _param_changes(
    snap: Snapshot,
    wdir: str,
    declared: list[Any],
    locked: Mapping[str, Any],
    parsed: dict[str, dict[str, Any]],
) -> list[str]:
    """``file:key`` (the key alone in ``params.yaml``) of every param whose value differs
    from the locked one: the declared keys, every key the lock records (the vars files a
    template uses are among them), and for a whole params file its top-level keys."""
    keys: dict[str, list[str] | None] = {}  # file from the root -> keys (None: whole file)
    for entry in declared:
        if isinstance(entry, dict):
            for file, names in entry.items():
                keys[norm_path(str(file), wdir)] = [str(n) for n in names] if names else None
        else:
            file = norm_path(PARAMS_YAML, wdir)
            if keys.get(file, []) is not None:
                keys[file] = [*(keys.get(file) or []), str(entry)]
    recorded = {norm_path(str(file), wdir): dict(values or {}) for file, values in locked.items()}
    changed: list[str] = []
    for file in dict.fromkeys([*keys, *recorded]):
        if not file.lower().endswith(PARAMS_SUFFIXES) or not snap.is_inside(file):
            continue
        if file not in parsed:
            text = snap.read_text(file)
            data = parse_structured(text, file, snap.where(file)) if text is not None else None
            parsed[file] = data if isinstance(data, dict) else {}
        current = parsed[file]
        names = keys.get(file, [])
        whole = names is None
        wanted = [*(current if whole else names or []), *recorded.get(file, {})]
        for key in dict.fromkeys(wanted):
            before = recorded.get(file, {}).get(key, _ABSENT)
            after = current.get(key, _ABSENT) if whole else _lookup(current, key)
            if not _same(before, after):
                changed.append(key if file == PARAMS_YAML else f"{file}:{key}")
    return changed


def _lookup(data: Any, key: str) -> Any:
    """A dotted key's value as DVC finds it (``train.seed``; a list item by its index)."""
    node = data
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _ABSENT
    return node


def _same(before: Any, after: Any) -> bool:
    if before is _ABSENT or after is _ABSENT:
        return before is after
    if isinstance(before, float) and isinstance(after, float) and before != before:
        return after != after  # NaN is NaN
    return bool(before == after)
