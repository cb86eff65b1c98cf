"""Which files a DVC project declares as metrics and params, reading and flattening them,
and parsing ``dvc.lock``.

The declarations follow DVC's own rules (``dvc metrics show`` and ``dvc params diff``
read the same files), in the root ``dvc.yaml`` and every nested one: top-level
``metrics:`` paths, plus every stage's ``metrics:`` outputs (relative to the stage's
``wdir``); params files are the root ``params.yaml`` plus any file a stage or the
top-level ``params:`` list names (a stage's bare key: ``params.yaml`` in its ``wdir``),
and any ``vars:`` file whose values a stage's templates use (DVC tracks those as params).
``${...}`` resolves against ``params.yaml`` and ``vars:``, the file's and the stage's own.
``foreach`` and ``matrix`` stages count as the ``name@key`` stages DVC generates from them.
Reading is our own so that a commit can be judged straight from git objects without
building DVC's repository index (the slow part of ``dvc metrics diff``); ``dvc.lock`` is
validated with DVC's own schema.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlgate.dvcfiles import DVC_YAML, artifacts, parse_yaml, unreadable_value
from mlgate.errors import ConfigError, InputError
from mlgate.gitio import Snapshot, files_named, files_under
from mlgate.tags import NESTED_ARTIFACT_RE

DVC_LOCK = "dvc.lock"
PARAMS_YAML = "params.yaml"
# Keys DVC writes for a file's content hash in dvc.lock, in order of preference.
HASH_KEYS = ("md5", "etag", "checksum", "version_id")


def norm_path(path: str, wdir: str = "") -> str:
    """``path`` (relative to ``wdir``) as a normalised POSIX path from the project root."""
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

# ``read(path)``: a file parsed, or None when it does not exist (paths relative to the
# directory of the dvc.yaml being read).
Reader = Callable[[str], Any]


def _no_files(path: str) -> Any:
    return None


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, Mapping):
        return any(map(_has_template, [*value, *value.values()]))
    return isinstance(value, list) and any(map(_has_template, value))


def _merged(
    base: Mapping[str, Any], update: Mapping[str, Any], where: str, prefix: str = ""
) -> dict[str, Any]:
    """``base`` updated by ``update`` as DVC merges ``vars``: mappings merge key by key,
    and redefining any other value is an error."""
    merged = dict(base)
    for key, value in update.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = _merged(current, value, where, f"{prefix}{key}.")
        elif key in merged:
            raise ConfigError(f"{where}: 'vars' cannot redefine '{prefix}{key}', already set")
        else:
            merged[key] = value
    return merged


Sources = Mapping[tuple[str, ...], str]  # a value's path in the template context -> its file


def _leaves(data: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Paths of the values inside ``data`` (list items by index), as DVC names params keys."""
    if isinstance(data, Mapping) and data:
        items = [(str(key), value) for key, value in data.items()]
    elif isinstance(data, list) and data:
        items = [(str(index), value) for index, value in enumerate(data)]
    else:
        return [prefix] if prefix else []  # an empty file gives no value
    return [leaf for key, value in items for leaf in _leaves(value, (*prefix, key))]


def _load_vars(
    context: Mapping[str, Any],
    entries: Any,
    read: Reader,
    wdir: str,
    where: str,
    imported: frozenset[str],
    sources: Sources,
) -> tuple[dict[str, Any], frozenset[str], Sources]:
    """``context`` with each ``vars`` entry merged in: a mapping, or a file (``file`` or
    ``file:k1,k2``, relative to ``wdir``); also the whole files now loaded, which DVC lets
    a later entry name again, and ``sources`` with the file of each value a file gave."""
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: 'vars' must be a list")
    loaded = dict(context)
    sources = dict(sources)
    for entry in entries:
        if _has_template(entry):
            raise ConfigError(f"{where}: 'vars' cannot use ${{...}} (DVC does not resolve them)")
        if isinstance(entry, Mapping):
            loaded = _merged(loaded, entry, where)
            continue
        path, _, keys = str(entry).partition(":")
        full = norm_path(path, wdir)
        selected = [k.strip() for k in keys.split(",") if k.strip()]
        if not selected and full in imported:
            continue
        data = read(full)
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: vars file '{path}' not found or not a mapping")
        if selected:
            data = {key: data[key] for key in selected if key in data}
        else:
            imported = imported | {full}
        loaded = _merged(loaded, data, where)
        sources.update(dict.fromkeys(_leaves(data), full))
    return loaded, imported, sources


def _top_vars(
    dvc_yaml: Mapping[str, Any], read: Reader, source: str
) -> tuple[dict[str, Any], frozenset[str], Sources]:
    default = read(PARAMS_YAML)
    if isinstance(default, Mapping):
        context, imported = dict(default), frozenset({PARAMS_YAML})
        sources: Sources = dict.fromkeys(_leaves(default), PARAMS_YAML)
    else:
        context, imported, sources = {}, frozenset(), {}
    return _load_vars(context, dvc_yaml.get("vars") or [], read, "", source, imported, sources)


def template_context(
    dvc_yaml: Mapping[str, Any], read: Reader, source: str = DVC_YAML
) -> dict[str, Any]:
    """The values ``${...}`` in dvc.yaml can name, as DVC builds them: ``params.yaml`` (when
    present) merged with each ``vars:`` entry, a mapping or a file (``file`` or
    ``file:k1,k2``). A stage's own ``vars:`` add to this for that stage.
    """
    return _top_vars(dvc_yaml, read, source)[0]


def _parts(expression: str) -> tuple[str, ...]:
    """The keys a ``${...}`` expression walks: ``a.b[0]`` is ``("a", "b", "0")``."""
    return tuple(re.findall(r"[^.\[\]]+", expression))


def _lookup(expression: str, context: Mapping[str, Any], source: str) -> Any:
    value: Any = context
    for part in _parts(expression):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise ConfigError(f"{source}: cannot resolve '${{{expression}}}'")
    return value


def _to_str(value: Any) -> str:
    # DVC writes booleans the YAML way inside a string: "lr-${flag}" gives "lr-true".
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def interpolate(text: str, context: Mapping[str, Any], source: str = DVC_YAML) -> str:
    """Resolve ``${a.b}`` / ``${a[0]}`` references in a dvc.yaml string."""

    def lookup(match: re.Match[str]) -> str:
        return _to_str(_lookup(match.group(1), context, source))

    return _TEMPLATE.sub(lookup, text) if "${" in text else text


def _resolve_data(data: Any, context: Mapping[str, Any], source: str) -> Any:
    """Resolve templates inside ``foreach``/``matrix`` data as DVC does: a string that is
    one whole ``${...}`` is the value it names (a list stays a list), other strings are
    interpolated, lists and mappings are resolved item by item."""
    if isinstance(data, str):
        whole = _TEMPLATE.fullmatch(data.strip())
        if whole:
            return _lookup(whole.group(1), context, source)
        return interpolate(data, context, source)
    if isinstance(data, list):
        return [_resolve_data(item, context, source) for item in data]
    if isinstance(data, Mapping):
        return {key: _resolve_data(value, context, source) for key, value in data.items()}
    return data


def _is_map_or_list(value: Any) -> bool:
    return isinstance(value, (Mapping, list))


def _foreach_items(data: Any, where: str) -> dict[str, dict[str, Any]]:
    """``foreach`` data as DVC names its stages: ``{key: {"item": .., ["key": ..]}}``.

    A mapping gives ``key`` and ``item``; a list of scalars is keyed by the values
    themselves, a list holding any list or mapping by index (and gives no ``key``).
    """
    if isinstance(data, Mapping):
        return {_to_str(key): {"item": item, "key": _to_str(key)} for key, item in data.items()}
    if not isinstance(data, list):
        raise ConfigError(
            f"{where}: 'foreach' must be a list, a mapping or a ${{...}} reference to one,"
            f" got {type(data).__name__}"
        )
    if any(map(_is_map_or_list, data)):
        return {str(index): {"item": item} for index, item in enumerate(data)}
    return {_to_str(item): {"item": item} for item in data}


def _matrix_axes(data: Any, context: Mapping[str, Any], where: str) -> dict[str, list[Any]]:
    """Each axis of a ``matrix`` as the values DVC iterates over: a list, or a string's
    characters; a whole ``${...}`` must name a list (a mapping gives its keys)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: 'matrix' must be a mapping of names to lists")
    if not data:
        raise ConfigError(f"{where}: 'matrix' is empty (DVC cannot generate stages from it)")
    axes: dict[str, list[Any]] = {}
    for name, raw in data.items():
        reference = isinstance(raw, str) and _TEMPLATE.fullmatch(raw.strip())
        values = _resolve_data(raw, context, where)
        if isinstance(values, list) or (reference and isinstance(values, Mapping)):
            axes[str(name)] = list(values)
        elif isinstance(values, str) and not reference:
            axes[str(name)] = list(values)  # DVC loops over the characters of a string
        else:
            raise ConfigError(
                f"{where}: 'matrix.{name}' must be a list, a string or a ${{...}} reference"
                f" to a list, got {type(values).__name__}"
            )
    return axes


def _matrix_items(
    axes: Mapping[str, list[Any]],
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, int]]]:
    """The cartesian product of a ``matrix`` as DVC names its stages (``a-b``; a list or
    mapping value is named by its name and index); ``item`` maps each name to its value.
    Also each stage's index into every axis."""
    combos: dict[str, dict[str, Any]] = {}
    indices: dict[str, dict[str, int]] = {}
    for combination in itertools.product(*(enumerate(v) for v in axes.values())):
        item = dict(zip(axes, (value for _, value in combination), strict=True))
        key = "-".join(
            f"{name}{index}" if _is_map_or_list(value) else _to_str(value)
            for name, (index, value) in zip(axes, combination, strict=True)
        )
        combos[key] = {"item": item, "key": key}
        indices[key] = {name: index for name, (index, _) in zip(axes, combination, strict=True)}
    return combos, indices


@dataclass(frozen=True)
class _Stage:
    """One stage as DVC generates it, with what resolves its templates (None: nothing)."""

    name: str
    definition: dict[str, Any]
    where: str
    context: Mapping[str, Any] | None
    sources: Sources = field(default_factory=dict)
    # foreach/matrix data as written, for tracing ``item`` back to where its values came
    # from: "" -> foreach's item, an axis name -> that matrix value (see _trace)
    origins: Mapping[str, Any] = field(default_factory=dict)

    def resolve(self, text: str) -> str:
        return interpolate(text, self.context, self.where) if self.context is not None else text

    def wdir(self) -> str:
        return self.resolve(str(self.definition.get("wdir") or ""))

    def _origin(self, parts: tuple[str, ...]) -> tuple[str, ...] | None:
        """The context path a reference reads, ``item`` traced back to its data."""
        if parts[:1] == ("item",):
            if "" in self.origins:
                return _trace(self.origins[""], parts[1:])
            if len(parts) > 1 and parts[1] in self.origins:
                return _trace(self.origins[parts[1]], parts[2:])
            return None
        return None if parts[:1] == ("key",) else parts

    def tracked_files(self) -> list[str]:
        """The files whose values this stage's templates use, which DVC makes params of the
        stage (``params.yaml`` or a ``vars:`` file; a foreach/matrix item counts as the
        value it came from)."""
        if self.context is None:
            return []
        body = {key: value for key, value in self.definition.items() if key != "vars"}
        files: list[str] = []
        for expression in _expressions(body):
            path = self._origin(_parts(expression))
            if not path:
                continue
            files.extend(
                file
                for leaf, file in self.sources.items()
                if leaf[: len(path)] == path or path[: len(leaf)] == leaf
            )
        return list(dict.fromkeys(files))


@dataclass(frozen=True)
class _Ref:
    """A value of foreach/matrix data that a whole ``${...}`` reference gave."""

    path: tuple[str, ...]


def _trace(raw: Any, parts: tuple[str, ...]) -> tuple[str, ...] | None:
    """The context path that ``parts`` read inside foreach/matrix data written as ``raw``
    (a whole ``${...}`` anywhere on the way leads into the context), or None when they
    end at a value written in dvc.yaml itself."""
    reference = raw.path if isinstance(raw, _Ref) else _reference(raw)
    if reference is not None:
        return (*reference, *parts)
    return _trace(_element(raw, parts[0]), parts[1:]) if parts else None


def _element(raw: Any, position: str) -> Any:
    """The element of foreach/matrix data as written at ``position`` (a key or an index)."""
    if isinstance(raw, Mapping):
        return {_to_str(key): value for key, value in raw.items()}.get(position)
    if isinstance(raw, list) and position.isdigit() and int(position) < len(raw):
        return raw[int(position)]
    return None


def _expressions(data: Any) -> list[str]:
    """Every ``${...}`` reference in the strings of ``data`` (mapping keys too: an output
    with options is a one-key mapping), in order."""
    if isinstance(data, str):
        return _TEMPLATE.findall(data)
    if isinstance(data, Mapping):
        return [found for item in data.items() for found in _expressions(list(item))]
    if isinstance(data, list):
        return [found for value in data for found in _expressions(value)]
    return []


def _stage_context(
    definition: Mapping[str, Any],
    context: Mapping[str, Any],
    read: Reader,
    where: str,
    top: Callable[[], tuple[dict[str, Any], frozenset[str], Sources]],
) -> tuple[Mapping[str, Any], Sources]:
    """A stage's template context and the file of each value in it: the file's, plus the
    stage's own ``vars:`` (files relative to its ``wdir``, which is resolved without them,
    as DVC does)."""
    entries = definition.get("vars")
    if not entries:
        return context, top()[2]
    wdir = interpolate(str(definition.get("wdir") or ""), context, where)
    loaded, _, sources = _load_vars(context, entries, read, wdir, where, top()[1], top()[2])
    return loaded, sources


def _generated_stages(
    dvc_yaml: Mapping[str, Any],
    source: str,
    context: Mapping[str, Any] | None,
    read: Reader = _no_files,
) -> list[_Stage]:
    """Every stage of a parsed dvc.yaml, ``foreach`` and ``matrix`` groups expanded into
    DVC's ``name@key`` stages with ``item`` (and ``key``) and the stage's ``vars:`` in
    their template context.

    Without a context nothing is resolved, so a group is kept as one unexpanded stage
    whose templated paths the callers leave out. A ``matrix`` inside ``foreach``'s ``do``
    is not expanded: DVC ignores it.
    """

    @functools.cache
    def top() -> tuple[dict[str, Any], frozenset[str], Sources]:
        return _top_vars(dvc_yaml, read, source)

    found: list[_Stage] = []
    for name, stage in _stages(dvc_yaml, source).items():
        where = f"{source}: stage '{name}'"
        if "foreach" in stage and "matrix" in stage:
            raise ConfigError(f"{where}: use either 'foreach' or 'matrix', not both")
        if "foreach" in stage:
            body = stage.get("do")
            if not isinstance(body, dict):
                raise ConfigError(f"{where}: 'foreach' needs a 'do' mapping with the stage")
            if set(stage) != {"foreach", "do"}:
                extra = ", ".join(sorted(str(k) for k in stage if k not in ("foreach", "do")))
                raise ConfigError(f"{where}: with 'foreach', keys go under 'do' (found {extra})")
            if context is None:
                found.append(_Stage(name, body, where, None))
                continue
            data = _resolve_data(stage["foreach"], context, where)
            groups = _foreach_items(data, where)
            raw, reference = stage["foreach"], _reference(stage["foreach"])
            positions = _positions(data)
            origins = {
                name: {
                    "": _Ref((*reference, positions[name]))
                    if reference
                    else _element(raw, positions[name])
                }
                for name in groups
            }
        elif "matrix" in stage:
            if "do" in stage:
                raise ConfigError(f"{where}: a 'matrix' stage takes no 'do'")
            body = {key: value for key, value in stage.items() if key != "matrix"}
            if context is None:
                found.append(_Stage(name, body, where, None))
                continue
            matrix = stage["matrix"]
            groups, indices = _matrix_items(_matrix_axes(matrix, context, where))
            written = {str(axis): raw for axis, raw in matrix.items()}
            origins = {
                name: {
                    axis: _Ref((*reference, str(index)))
                    if (reference := _reference(written[axis]))
                    else _element(written[axis], str(index))
                    for axis, index in indices[name].items()
                }
                for name in groups
            }
        else:
            if context is not None:
                context_here, sources = _stage_context(stage, context, read, where, top)
                found.append(_Stage(name, stage, where, context_here, sources))
            else:
                found.append(_Stage(name, stage, source, None))
            continue
        for key, inserted in groups.items():
            generated = f"{name}@{key}"
            where_generated = f"{source}: stage '{generated}'"
            context_here, sources = _stage_context(
                body, {**context, **inserted}, read, where_generated, top
            )
            found.append(
                _Stage(generated, body, where_generated, context_here, sources, origins[key])
            )
    return found


def _reference(raw: Any) -> tuple[str, ...] | None:
    """The context path of foreach/matrix data written as one whole ``${...}``."""
    whole = isinstance(raw, str) and _TEMPLATE.fullmatch(raw.strip())
    return _parts(whole.group(1)) if whole else None


def _positions(data: Any) -> dict[str, str]:
    """Where each foreach stage's item sits in its data (a key, or an index), by the name
    ``_foreach_items`` gives the stage."""
    if isinstance(data, Mapping):
        return {_to_str(key): str(key) for key in data}
    if any(map(_is_map_or_list, data)):
        return {str(index): str(index) for index in range(len(data))}
    return {_to_str(item): str(index) for index, item in enumerate(data)}


def declared_metrics(
    dvc_yaml: Mapping[str, Any],
    source: str = DVC_YAML,
    context: Mapping[str, Any] | None = None,
    read: Reader = _no_files,
) -> list[str]:
    """Metrics files declared in a parsed dvc.yaml, as normalised paths, in declaration order.

    ``context`` resolves ``${...}`` templates (see ``template_context``) and expands
    ``foreach``/``matrix`` stages; without it, templated paths are left out. ``read``
    loads the files a stage's own ``vars:`` name.
    """
    top = _out_paths(dvc_yaml.get("metrics"), source, "metrics")
    if context is not None:
        top = [interpolate(path, context, source) for path in top]
    paths = [norm_path(path) for path in top]
    for stage in _generated_stages(dvc_yaml, source, context, read):
        wdir = stage.wdir()
        for path in _out_paths(
            stage.definition.get("metrics"), source, f"stages.{stage.name}.metrics"
        ):
            paths.append(norm_path(stage.resolve(path), wdir))
    return [p for p in dict.fromkeys(paths) if "${" not in p]


def declared_params(
    dvc_yaml: Mapping[str, Any],
    source: str = DVC_YAML,
    context: Mapping[str, Any] | None = None,
    read: Reader = _no_files,
    default: str | None = PARAMS_YAML,
) -> list[str]:
    """Params files a parsed dvc.yaml uses: ``default`` first (DVC always reads the root
    ``params.yaml``; pass None for a nested dvc.yaml), then the top-level ``params:``
    files and those of each stage. A stage's bare key names ``params.yaml`` in its
    ``wdir``, as in DVC."""
    paths = [default] if default else []
    top = dvc_yaml.get("params") or []
    if isinstance(top, list):
        files = [p for p in top if isinstance(p, str)]
        if context is not None:
            files = [interpolate(path, context, source) for path in files]
        paths.extend(norm_path(path) for path in files)
    for stage in _generated_stages(dvc_yaml, source, context, read):
        wdir = stage.wdir()
        for entry in stage.definition.get("params") or []:
            if isinstance(entry, dict):
                paths.extend(norm_path(stage.resolve(str(file)), wdir) for file in entry)
            else:
                paths.append(norm_path(PARAMS_YAML, wdir))
        paths.extend(stage.tracked_files())
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
    import voluptuous as vol
    from dvc.schema import COMPILED_LOCKFILE_SCHEMA

    try:
        COMPILED_LOCKFILE_SCHEMA(data)
    except vol.Invalid as exc:
        raise InputError(f"{where}: unreadable dvc.lock: {exc}") from exc
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
    for directory, where, data, read in pipelines:
        lock = norm_path(DVC_LOCK, directory)
        text = snap.read_text(lock)
        if text is None:
            continue
        context = template_context(data, read, where)
        stages = _generated_stages(data, where, context, read)
        wdirs = {stage.name: stage.wdir() for stage in stages}
        for path, entry in parse_lock(text, snap.where(lock), directory, wdirs).items():
            if entry.kind == "out" or path not in files:
                files[path] = entry
    return files


def _pipelines(
    snap: Snapshot, dvc_yaml: Mapping[str, Any]
) -> list[tuple[str, str, Mapping[str, Any], Reader]]:
    """Every dvc.yaml of a snapshot as DVC finds them: the root one (already parsed), then
    each one in a subdirectory, as (directory, name in messages, content, reader of the
    files next to it)."""
    nested = [path for path in files_named(snap, DVC_YAML) if path != DVC_YAML]
    snap.prefetch(nested)
    found: list[tuple[str, str, Mapping[str, Any], Reader]] = []
    for path in [DVC_YAML, *nested]:
        directory = posixpath.dirname(path)
        if path == DVC_YAML:
            data: Any = dvc_yaml
        else:
            data = parse_yaml(snap.read_text(path) or "", snap.where(path))
            if not isinstance(data, dict):
                continue  # an empty or foreign dvc.yaml declares nothing

        def read(name: str, directory: str = directory) -> Any:
            full = norm_path(name, directory)
            text = snap.read_text(full)
            return None if text is None else parse_structured(text, full, snap.where(full))

        found.append((directory, snap.where(path), data, read))
    return found


def declared_artifacts(snap: Snapshot, dvc_yaml: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every ``artifacts:`` entry of a snapshot by the name DVC and GTO give it: a root
    dvc.yaml's by its own name, a nested one's as ``path/to:name``; each ``path`` is made
    relative to the project root."""
    found: dict[str, dict[str, Any]] = {}
    for directory, where, data, _ in _pipelines(snap, dvc_yaml):
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
    for directory, where, data, read in _pipelines(snap, dvc_yaml):
        context = template_context(data, read, where)
        default = None if directory else PARAMS_YAML
        declared = declared_params(data, where, context, read, default)
        files.extend(norm_path(path, directory) for path in declared)
    return list(dict.fromkeys(files))


def metrics_files(snap: Snapshot, dvc_yaml: Mapping[str, Any]) -> list[str]:
    """The metrics files a snapshot declares, templates resolved: those of the root
    ``dvc.yaml`` (already parsed) and of every ``dvc.yaml`` in a subdirectory, as DVC does;
    a declared directory stands for every file in it, at any depth, as in ``dvc metrics
    show``."""
    files: list[str] = []
    for directory, where, data, read in _pipelines(snap, dvc_yaml):
        context = template_context(data, read, where)
        declared = declared_metrics(data, where, context, read)
        files.extend(norm_path(path, directory) for path in declared)
    expanded: list[str] = []
    for path in dict.fromkeys(files):
        inside = files_under(snap, path)
        # DVC shows a README in there as one string; only these can hold metric values
        expanded.extend([p for p in inside if p.lower().endswith(METRICS_SUFFIXES)] or [path])
    return list(dict.fromkeys(expanded))


METRICS_SUFFIXES = (".json", ".yaml", ".yml", ".toml")
