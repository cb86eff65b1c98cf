"""Which files a DVC project declares as metrics and params, reading and flattening them,
and parsing ``dvc.lock``.

The declarations follow DVC's own rules (``dvc metrics show`` and ``dvc params diff``
read the same files), in the root ``dvc.yaml`` and every nested one, each resolved by
DVC's own resolver (see ``mlgate.dvcadapter``): top-level ``metrics:`` paths, plus every
stage's ``metrics:`` outputs (relative to the stage's ``wdir``); params files are the root
``params.yaml`` plus any file a stage or the top-level ``params:`` list names (a stage's
bare key: ``params.yaml`` in its ``wdir``), and any ``vars:`` file whose values a stage's
templates use (DVC tracks those as params). ``foreach`` and ``matrix`` stages count as
the ``name@key`` stages DVC generates from them.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlgate.dvcadapter import (
    DVC_LOCK,
    DVC_YAML,
    PARAMS_YAML,
    Pipeline,
    norm_path,
    resolve,
    validate_lock,
)
from mlgate.dvcfiles import artifacts
from mlgate.errors import ConfigError, InputError
from mlgate.gates import as_number
from mlgate.gitio import Snapshot, files_named, files_under
from mlgate.loaders import parse_structured, parse_yaml
from mlgate.tags import NESTED_ARTIFACT_RE

# Keys DVC writes for a file's content hash in dvc.lock, in order of preference.
HASH_KEYS = ("md5", "etag", "checksum", "version_id")
METRICS_SUFFIXES = (".json", ".yaml", ".yml", ".toml")


def _out_paths(entries: Any, source: str, where: str) -> list[str]:
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: '{where}' must be a list of paths")
    paths = []
    for entry in entries:
        if isinstance(entry, str):
            paths.append(entry)
        elif isinstance(entry, dict) and len(entry) == 1:
            paths.append(str(next(iter(entry))))
        else:
            raise ConfigError(f"{source}: '{where}' entries must be a path or {{path: options}}")
    return paths


def _wdir(pipeline: Pipeline, stage: Mapping[str, Any]) -> str:
    """A resolved stage's ``wdir`` from the project root."""
    return norm_path(str(stage.get("wdir") or ""), pipeline.directory)


def declared_metrics(pipeline: Pipeline) -> list[str]:
    """The metrics files of one resolved dvc.yaml, from the project root, in declaration
    order: its top-level ``metrics:``, then each stage's ``metrics:`` outputs."""
    top = _out_paths(pipeline.metrics, pipeline.where, "metrics")
    paths = [norm_path(path, pipeline.directory) for path in top]
    for name, stage in pipeline.stages.items():
        wdir = _wdir(pipeline, stage)
        entries = _out_paths(stage.get("metrics"), pipeline.where, f"stages.{name}.metrics")
        paths.extend(norm_path(path, wdir) for path in entries)
    return list(dict.fromkeys(paths))


def declared_params(pipeline: Pipeline, default: str | None = PARAMS_YAML) -> list[str]:
    """The params files of one resolved dvc.yaml, from the project root: ``default`` first
    (DVC always reads the root ``params.yaml``; None for a nested dvc.yaml), the top-level
    ``params:`` files, then each stage's (a bare key names ``params.yaml`` in its ``wdir``)
    followed by the vars files whose values its templates use."""
    paths = [default] if default else []
    top = pipeline.params if isinstance(pipeline.params, list) else []
    paths.extend(norm_path(path, pipeline.directory) for path in top if isinstance(path, str))
    for name, stage in pipeline.stages.items():
        wdir = _wdir(pipeline, stage)
        for entry in stage.get("params") or []:
            if isinstance(entry, dict):
                paths.extend(norm_path(str(file), wdir) for file in entry)
            else:
                paths.append(norm_path(PARAMS_YAML, wdir))
        paths.extend(pipeline.tracked.get(name, []))
    return list(dict.fromkeys(paths))


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings to one level with dotted keys; leaves (numbers, strings, lists) kept."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


@dataclass(frozen=True)
class MetricsAt:
    """The flattened metrics of every declared file at one snapshot (None: file absent)."""

    label: str
    files: dict[str, dict[str, Any] | None]

    def flat(self) -> dict[str, Any]:
        """All metrics under their dotted key; a key found in several files gets ``file:key``."""
        counts: dict[str, int] = {}
        for values in self.files.values():
            for key in values or {}:
                counts[key] = counts.get(key, 0) + 1
        merged: dict[str, Any] = {}
        for path, values in self.files.items():
            for key, value in (values or {}).items():
                merged[key if counts[key] == 1 else f"{path}:{key}"] = value
        return merged

    def numbers(self) -> dict[str, float]:
        found = {key: as_number(value) for key, value in self.flat().items()}
        return {key: value for key, value in found.items() if value is not None}


def has_pipeline(snap: Snapshot) -> bool:
    """Whether the snapshot has a dvc.yaml, at the root or in a subdirectory."""
    return snap.read_text(DVC_YAML) is not None or bool(files_named(snap, DVC_YAML))


def read_dvc_yaml(snap: Snapshot) -> dict[str, Any]:
    """The root dvc.yaml, parsed; empty when only subdirectories have one (DVC reads those
    alike, so a project of nested pipelines needs none at the root)."""
    text = snap.read_text(DVC_YAML)
    if text is None:
        if files_named(snap, DVC_YAML):
            return {}
        raise InputError(f"{snap.where(DVC_YAML)}: not found (is this a DVC project?)")
    data = parse_yaml(text, snap.where(DVC_YAML))
    if not isinstance(data, dict):
        raise ConfigError(f"{snap.where(DVC_YAML)}: expected a mapping at the top level")
    return data


def read_metrics(snap: Snapshot, files: list[str]) -> MetricsAt:
    """Read and flatten the given metrics files at a snapshot; absent files map to None. A
    file outside the project, by its path or (in the working tree) by a symlink, is refused:
    a gate judges the project's own numbers, not a file elsewhere on the machine."""
    for path in files:
        if not snap.is_inside(path):
            raise ConfigError(f"{snap.where(path)}: a metrics file outside the repository")
    snap.prefetch(files)
    found: dict[str, dict[str, Any] | None] = {}
    for path in files:
        text = snap.read_text(path)
        if text is None:
            found[path] = None
            continue
        data = parse_structured(text, path, snap.where(path))
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise InputError(
                f"{snap.where(path)}: expected a mapping of metric names to values, "
                f"got {type(data).__name__}"
            )
        found[path] = flatten(data)
    return MetricsAt(snap.label, found)


def read_params(snap: Snapshot, files: list[str]) -> dict[str, dict[str, Any]]:
    """Flattened params files at a snapshot (absent files are left out)."""
    snap.prefetch(files)
    found: dict[str, dict[str, Any]] = {}
    for path in files:
        text = snap.read_text(path)
        if text is None:
            continue
        data = parse_structured(text, path, snap.where(path))
        if isinstance(data, dict):
            found[path] = flatten(data)
    return found


@dataclass(frozen=True)
class LockedFile:
    """One dependency or output recorded in dvc.lock."""

    path: str
    stage: str
    kind: str  # "dep" or "out"
    hash: str
    size: int | None


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
        data = parse_yaml(text, where)
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
                digest = next((str(entry[k]) for k in HASH_KEYS if entry.get(k)), "")
                if not digest:
                    raise InputError(
                        f"{where}: unreadable dvc.lock: stage '{stage}' {key} "
                        f"'{entry['path']}' has no hash (expected one of {', '.join(HASH_KEYS)})"
                    )
                path = norm_path(entry["path"], base)
                if kind == "dep" and path in files:
                    continue
                size = entry.get("size")
                files[path] = LockedFile(
                    path, name, kind, digest, size if isinstance(size, int) else None
                )
    return files


def read_lock(snap: Snapshot) -> dict[str, LockedFile] | None:
    """The parsed root dvc.lock of a snapshot (paths as written), or None when there is none."""
    text = snap.read_text(DVC_LOCK)
    return None if text is None else parse_lock(text, snap.where(DVC_LOCK))


def read_locks(snap: Snapshot, dvc_yaml: Mapping[str, Any]) -> dict[str, LockedFile]:
    """Every dep and out that the dvc.lock files of a snapshot record, by path from the
    project root: the root lock and the lock next to each nested ``dvc.yaml``, each path
    resolved against its stage's ``wdir`` as DVC writes it (outs win over deps)."""
    pipelines = _pipelines(snap, dvc_yaml)
    snap.prefetch([norm_path(DVC_LOCK, directory) for directory, *_ in pipelines])
    files: dict[str, LockedFile] = {}
    for directory, path, data in pipelines:
        lock = norm_path(DVC_LOCK, directory)
        text = snap.read_text(lock)
        if text is None:
            continue
        pipeline = resolve(snap, path, data, ("wdir",))
        wdirs = {name: str(stage.get("wdir") or "") for name, stage in pipeline.stages.items()}
        for file, entry in parse_lock(text, snap.where(lock), directory, wdirs).items():
            if entry.kind == "out" or file not in files:
                files[file] = entry
    return files


def _pipelines(
    snap: Snapshot, dvc_yaml: Mapping[str, Any]
) -> list[tuple[str, str, Mapping[str, Any]]]:
    """Every dvc.yaml of a snapshot as DVC finds them: the root one (already parsed), then
    each one in a subdirectory, as (directory, path, content)."""
    nested = [path for path in files_named(snap, DVC_YAML) if path != DVC_YAML]
    snap.prefetch(nested)
    found: list[tuple[str, str, Mapping[str, Any]]] = [("", DVC_YAML, dvc_yaml)]
    for path in nested:
        data = parse_yaml(snap.read_text(path) or "", snap.where(path))
        if isinstance(data, dict):  # an empty or foreign dvc.yaml declares nothing
            found.append((posixpath.dirname(path), path, data))
    return found


def declared_artifacts(snap: Snapshot, dvc_yaml: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every ``artifacts:`` entry of a snapshot by the name DVC and GTO give it: a root
    dvc.yaml's by its own name, a nested one's as ``path/to:name``; each ``path`` is made
    relative to the project root."""
    found: dict[str, dict[str, Any]] = {}
    for directory, path, data in _pipelines(snap, dvc_yaml):
        where = snap.where(path)
        for name, spec in artifacts(dict(data), where).items():
            if spec.get("path"):
                spec["path"] = norm_path(str(spec["path"]), directory)
            full = f"{directory}:{name}" if directory else name
            if directory and not NESTED_ARTIFACT_RE.match(full):
                raise ConfigError(
                    f"{where}: artifact '{name}' would be '{full}', which cannot be a git tag "
                    "name as GTO writes it (its folder may hold letters, digits, '-', '_', "
                    "'.' and '/'; the name lowercase letters, digits, '-' and '/')"
                )
            found[full] = spec
    return found


def params_files(snap: Snapshot, dvc_yaml: Mapping[str, Any]) -> list[str]:
    """The params files a snapshot uses, templates resolved: ``params.yaml`` and those of
    the root ``dvc.yaml`` (already parsed) and of every ``dvc.yaml`` in a subdirectory,
    as DVC does."""
    files: list[str] = []
    for directory, path, data in _pipelines(snap, dvc_yaml):
        default = None if directory else PARAMS_YAML
        files.extend(declared_params(resolve(snap, path, data), default))
    return list(dict.fromkeys(files))


def metrics_files(snap: Snapshot, dvc_yaml: Mapping[str, Any]) -> list[str]:
    """The metrics files a snapshot declares, templates resolved: those of the root
    ``dvc.yaml`` (already parsed) and of every ``dvc.yaml`` in a subdirectory, as DVC does;
    a declared directory stands for every file in it, at any depth, as in ``dvc metrics
    show``."""
    files: list[str] = []
    for _, path, data in _pipelines(snap, dvc_yaml):
        pipeline = resolve(snap, path, data, ("wdir", "metrics"), holding="metrics")
        files.extend(declared_metrics(pipeline))
    expanded: list[str] = []
    for path in dict.fromkeys(files):
        inside = files_under(snap, path)
        # DVC shows a README in there as one string; only these can hold metric values
        expanded.extend([p for p in inside if p.lower().endswith(METRICS_SUFFIXES)] or [path])
    return list(dict.fromkeys(expanded))
