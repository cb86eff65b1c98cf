"""Which files a DVC project declares as metrics and params, reading and flattening them,
and parsing ``dvc.lock``.

The declarations follow DVC's own rules (``dvc metrics show`` reads the same files):
top-level ``metrics:`` paths, plus every stage's ``metrics:`` outputs (relative to the
stage's ``wdir``); params files are ``params.yaml`` plus any file a stage or the
top-level ``params:`` list names. Reading is our own so that a commit can be judged
straight from git objects without building DVC's repository index (the slow part of
``dvc metrics diff``); ``dvc.lock`` is validated with DVC's own schema.
"""

from __future__ import annotations

import json
import math
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mlgate.dvcfiles import DVC_YAML, parse_yaml, unreadable_value
from mlgate.errors import ConfigError, InputError
from mlgate.gitio import Snapshot, files_named

DVC_LOCK = "dvc.lock"
PARAMS_YAML = "params.yaml"
# Keys DVC writes for a file's content hash in dvc.lock, in order of preference.
HASH_KEYS = ("md5", "etag", "checksum", "version_id")


def _norm(path: str, wdir: str = "") -> str:
    joined = posixpath.normpath(posixpath.join(wdir, path.replace("\\", "/")))
    return joined[2:] if joined.startswith("./") else joined


def _stages(dvc_yaml: Mapping[str, Any], source: str) -> dict[str, dict[str, Any]]:
    stages = dvc_yaml.get("stages") or {}
    if not isinstance(stages, dict):
        raise ConfigError(f"{source}: 'stages' must be a mapping of stage name to definition")
    found: dict[str, dict[str, Any]] = {}
    for name, stage in stages.items():
        if not isinstance(stage, dict):
            raise ConfigError(f"{source}: stage '{name}' must be a mapping")
        found[str(name)] = stage
    return found


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


_TEMPLATE = re.compile(r"\$\{\s*([^}]*?)\s*\}")


def template_context(
    dvc_yaml: Mapping[str, Any], read: Callable[[str], Any], source: str = DVC_YAML
) -> dict[str, Any]:
    """The values ``${...}`` in dvc.yaml can name, as DVC builds them: ``params.yaml`` (when
    present) updated by each ``vars:`` entry, a mapping or a file (``file`` or ``file:k1,k2``).
    ``read(path)`` returns a parsed file or None when it does not exist.
    """
    context: dict[str, Any] = {}
    default = read(PARAMS_YAML)
    if isinstance(default, Mapping):
        context.update(default)
    entries = dvc_yaml.get("vars") or []
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: 'vars' must be a list")
    for entry in entries:
        if isinstance(entry, Mapping):
            context.update(entry)
            continue
        path, _, keys = str(entry).partition(":")
        data = read(_norm(path))
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: vars file '{path}' not found or not a mapping")
        selected = [k.strip() for k in keys.split(",") if k.strip()] or list(data)
        context.update({key: data[key] for key in selected if key in data})
    return context


def interpolate(text: str, context: Mapping[str, Any], source: str = DVC_YAML) -> str:
    """Resolve ``${a.b}`` / ``${a[0]}`` references in a dvc.yaml string."""

    def lookup(match: re.Match[str]) -> str:
        value: Any = context
        for part in re.findall(r"[^.\[\]]+", match.group(1)):
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                raise ConfigError(f"{source}: cannot resolve '${{{match.group(1)}}}'")
        return str(value)

    return _TEMPLATE.sub(lookup, text) if "${" in text else text


def declared_metrics(
    dvc_yaml: Mapping[str, Any], source: str = DVC_YAML, context: Mapping[str, Any] | None = None
) -> list[str]:
    """Metrics files declared in a parsed dvc.yaml, as normalised paths, in declaration order.

    ``context`` resolves ``${...}`` templates (see ``template_context``); without it,
    templated paths are left out.
    """

    def resolve(path: str) -> str:
        return interpolate(path, context, source) if context is not None else path

    paths = [_norm(resolve(p)) for p in _out_paths(dvc_yaml.get("metrics"), source, "metrics")]
    for name, stage in _stages(dvc_yaml, source).items():
        if "foreach" in stage or "matrix" in stage:
            continue  # per-item templates resolve only inside DVC's parser
        wdir = resolve(str(stage.get("wdir") or ""))
        for path in _out_paths(stage.get("metrics"), source, f"stages.{name}.metrics"):
            paths.append(_norm(resolve(path), wdir))
    return [p for p in dict.fromkeys(paths) if "${" not in p]


def declared_params(
    dvc_yaml: Mapping[str, Any], source: str = DVC_YAML, context: Mapping[str, Any] | None = None
) -> list[str]:
    """Params files a parsed dvc.yaml uses (params.yaml first, as DVC's default)."""

    def resolve(path: str) -> str:
        return interpolate(path, context, source) if context is not None else path

    paths = [PARAMS_YAML]
    top = dvc_yaml.get("params") or []
    if isinstance(top, list):
        paths.extend(_norm(resolve(p)) for p in top if isinstance(p, str))
    for stage in _stages(dvc_yaml, source).values():
        if "foreach" in stage or "matrix" in stage:
            continue
        wdir = resolve(str(stage.get("wdir") or ""))
        for entry in stage.get("params") or []:
            if isinstance(entry, dict):
                paths.extend(_norm(resolve(str(file)), wdir) for file in entry)
    return [p for p in dict.fromkeys(paths) if "${" not in p]


def parse_structured(text: str, path: str, where: str) -> Any:
    """Parse a metrics or params file by its extension (JSON, YAML or TOML)."""
    suffix = posixpath.splitext(path)[1].lower()
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: malformed JSON (line {exc.lineno}: {exc.msg})") from exc
        except ValueError as exc:  # an integer with more digits than Python converts
            raise InputError(f"{where}: malformed JSON ({unreadable_value(exc)})") from exc
    if suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # pragma: no cover - Python 3.10 without tomllib
            raise InputError(f"{where}: TOML needs Python 3.11 or newer") from None
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{where}: malformed TOML ({exc})") from exc
        except ValueError as exc:  # an integer with more digits than Python converts
            raise InputError(f"{where}: malformed TOML ({unreadable_value(exc)})") from exc
    try:
        return parse_yaml(text, where)
    except ConfigError as exc:
        raise InputError(str(exc)) from exc


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


def as_number(value: Any) -> float | None:
    """A finite number, or None for anything else (missing, NaN, infinite, text, bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond every float, e.g. 400 digits in a JSON file
        return None
    return number if math.isfinite(number) else None


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


def read_dvc_yaml(snap: Snapshot) -> dict[str, Any]:
    text = snap.read_text(DVC_YAML)
    if text is None:
        raise InputError(f"{snap.where(DVC_YAML)}: not found (is this a DVC project?)")
    data = parse_yaml(text, snap.where(DVC_YAML))
    if not isinstance(data, dict):
        raise ConfigError(f"{snap.where(DVC_YAML)}: expected a mapping at the top level")
    return data


def read_metrics(snap: Snapshot, files: list[str]) -> MetricsAt:
    """Read and flatten the given metrics files at a snapshot; absent files map to None."""
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


def parse_lock(text: str, where: str) -> dict[str, LockedFile]:
    """Every dep and out of a dvc.lock by path (outs win over deps), validated with DVC's schema.

    A truncated or hand-broken lock is an InputError naming the file and the problem.
    """
    try:
        data = parse_yaml(text, where)
    except ConfigError as exc:
        raise InputError(f"{exc} (unreadable dvc.lock; rerun 'dvc repro')") from exc
    if not isinstance(data, dict):
        raise InputError(f"{where}: unreadable dvc.lock: expected a mapping at the top level")
    import voluptuous as vol
    from dvc.schema import COMPILED_LOCKFILE_SCHEMA

    try:
        COMPILED_LOCKFILE_SCHEMA(data)
    except vol.Invalid as exc:
        raise InputError(f"{where}: unreadable dvc.lock: {exc}") from exc
    files: dict[str, LockedFile] = {}
    for stage, spec in (data.get("stages") or {}).items():
        for kind, key in (("dep", "deps"), ("out", "outs")):
            for entry in spec.get(key) or []:
                digest = next((str(entry[k]) for k in HASH_KEYS if entry.get(k)), "")
                if not digest:
                    raise InputError(
                        f"{where}: unreadable dvc.lock: stage '{stage}' {key} "
                        f"'{entry['path']}' has no hash (expected one of {', '.join(HASH_KEYS)})"
                    )
                path = _norm(entry["path"])  # dvc.lock paths are relative to its directory
                if kind == "dep" and path in files:
                    continue
                size = entry.get("size")
                files[path] = LockedFile(
                    path, str(stage), kind, digest, size if isinstance(size, int) else None
                )
    return files


def read_lock(snap: Snapshot) -> dict[str, LockedFile] | None:
    """The parsed dvc.lock of a snapshot, or None when there is none."""
    text = snap.read_text(DVC_LOCK)
    return None if text is None else parse_lock(text, snap.where(DVC_LOCK))


def snapshot_context(
    snap: Snapshot, dvc_yaml: Mapping[str, Any], directory: str = ""
) -> dict[str, Any]:
    """``template_context`` with files read from a snapshot (relative to ``directory``)."""

    def read(path: str) -> Any:
        full = _norm(path, directory)
        text = snap.read_text(full)
        return None if text is None else parse_structured(text, full, snap.where(full))

    where = snap.where(_norm(DVC_YAML, directory))
    return template_context(dvc_yaml, read, where)


def metrics_files(snap: Snapshot, dvc_yaml: Mapping[str, Any]) -> list[str]:
    """The metrics files a snapshot declares, templates resolved: those of the root
    ``dvc.yaml`` (already parsed) and of every ``dvc.yaml`` in a subdirectory, as DVC does."""
    files = declared_metrics(dvc_yaml, snap.where(DVC_YAML), snapshot_context(snap, dvc_yaml))
    nested = [path for path in files_named(snap, DVC_YAML) if path != DVC_YAML]
    snap.prefetch(nested)
    for path in nested:
        directory = posixpath.dirname(path)
        text = snap.read_text(path)
        data = parse_yaml(text or "", snap.where(path))
        if not isinstance(data, dict):
            continue  # an empty or foreign dvc.yaml declares nothing
        context = snapshot_context(snap, data, directory)
        declared = declared_metrics(data, snap.where(path), context)
        files.extend(_norm(metric, directory) for metric in declared)
    return list(dict.fromkeys(files))
