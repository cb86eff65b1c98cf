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
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from mlgate.dvcadapter import (
    DVC_LOCK,
    DVC_YAML,
    PARAMS_YAML,
    Pipeline,
    norm_path,
    resolve,
    stage_address,
)
from mlgate.dvcdata import LEGACY_MD5, LockedFile, Outputs, content_md5, covering, parse_lock
from mlgate.dvcfiles import artifacts
from mlgate.errors import ConfigError, InputError
from mlgate.gates import as_number
from mlgate.gitio import Snapshot, files_named, files_under
from mlgate.loaders import parse_structured, parse_yaml
from mlgate.tags import NESTED_ARTIFACT_RE

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


def read_metrics(
    snap: Snapshot, files: list[str], locks: Mapping[str, LockedFile] | None = None
) -> MetricsAt:
    """Read and flatten the given metrics files at a snapshot as ``dvc metrics show`` does:
    from git (from disk in the working tree), else from DVC's cache by the hash the
    snapshot's dvc.lock records (``locks``; read when needed), fetched from the DVC remote
    when the cache lacks it (see ``mlgate.dvcdata``). A declared directory output stands for
    its metrics files. Files found nowhere map to None. A file outside the project, by its
    path or (in the working tree) by a symlink, is refused: a gate judges the project's own
    numbers, not a file elsewhere on the machine."""
    for path in files:
        if not snap.is_inside(path):
            raise ConfigError(f"{snap.where(path)}: a metrics file outside the repository")
    snap.prefetch(files)
    outputs: Outputs | None = None
    produced: list[StageOutput] = []
    found: dict[str, dict[str, Any] | None] = {}
    for path in files:
        data = snap.read_bytes(path)
        if data is None:
            if outputs is None:  # read dvc.lock and dvc.yaml's outputs once, when needed
                outputs = Outputs(snap, locks if locks is not None else _locks(snap))
                produced = stage_outputs(snap, read_dvc_yaml(snap)) if outputs.locks else []
            held = covering(outputs.locks, path)
            made = producer(produced, path)
            if held is None or (made is not None and not made.cached):
                found[path] = None  # a 'cache: false' output is committed to git
                continue
            out, inside = held
            if out.is_dir and not inside:  # a declared directory output: its metrics files
                for relpath in outputs.manifest(path, out):
                    file = posixpath.join(out.path, relpath)
                    if file.lower().endswith(METRICS_SUFFIXES):
                        found[file] = _parse_metrics(snap, file, outputs.read(file, out, relpath))
                continue
            data = outputs.read(path, out, inside)
            if data is None:
                found[path] = None
                continue
        found[path] = _parse_metrics(snap, path, data)
    return MetricsAt(snap.label, found)


def _locks(snap: Snapshot) -> dict[str, LockedFile]:
    return read_locks(snap, read_dvc_yaml(snap)) if has_pipeline(snap) else {}


def _parse_metrics(snap: Snapshot, path: str, data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{snap.where(path)}: not valid UTF-8 text") from exc
    parsed = parse_structured(text, path, snap.where(path))
    if parsed is None:
        parsed = {}
    if not isinstance(parsed, dict):
        raise InputError(
            f"{snap.where(path)}: expected a mapping of metric names to values, "
            f"got {type(parsed).__name__}"
        )
    return flatten(parsed)


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


def read_lock(snap: Snapshot) -> dict[str, LockedFile] | None:
    """The parsed root dvc.lock of a snapshot (paths as written), or None when there is none."""
    text = snap.read_text(DVC_LOCK)
    return None if text is None else parse_lock(text, snap.where(DVC_LOCK))


def read_locks(snap: Snapshot, dvc_yaml: Mapping[str, Any]) -> dict[str, LockedFile]:
    """Every dep and out that the dvc.lock files of a snapshot record, by path from the
    project root: the root lock and the lock next to each nested ``dvc.yaml``, each path
    resolved against its stage's ``wdir`` as DVC writes it (outs win over deps)."""
    found = pipelines(snap, dvc_yaml)
    snap.prefetch([norm_path(DVC_LOCK, directory) for directory, *_ in found])
    files: dict[str, LockedFile] = {}
    for directory, path, data in found:
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


def pipelines(
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
    for directory, path, data in pipelines(snap, dvc_yaml):
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
    for directory, path, data in pipelines(snap, dvc_yaml):
        default = None if directory else PARAMS_YAML
        files.extend(declared_params(resolve(snap, path, data), default))
    return list(dict.fromkeys(files))


def metrics_files(snap: Snapshot, dvc_yaml: Mapping[str, Any]) -> list[str]:
    """The metrics files a snapshot declares, templates resolved: those of the root
    ``dvc.yaml`` (already parsed) and of every ``dvc.yaml`` in a subdirectory, as DVC does;
    a declared directory stands for every file in it, at any depth, as in ``dvc metrics
    show``."""
    files: list[str] = []
    for _, path, data in pipelines(snap, dvc_yaml):
        pipeline = resolve(snap, path, data, ("wdir", "metrics"), holding="metrics")
        files.extend(declared_metrics(pipeline))
    expanded: list[str] = []
    for path in dict.fromkeys(files):
        inside = files_under(snap, path)
        # DVC shows a README in there as one string; only these can hold metric values
        expanded.extend([p for p in inside if p.lower().endswith(METRICS_SUFFIXES)] or [path])
    return list(dict.fromkeys(expanded))


OUTPUT_KEYS = ("outs", "metrics", "plots")  # DVC writes, caches and locks all three alike


@dataclass(frozen=True)
class StageOutput:
    """One output of a pipeline stage, as the resolved ``dvc.yaml`` declares it."""

    dvcfile: str  # the dvc.yaml that declares the stage, from the project root
    stage: str  # its name there (``name@key`` for foreach and matrix stages)
    wdir: str  # the stage's working directory, from the project root
    path: str  # the output, from the project root
    volatile: bool = False  # ``meta: {volatile: true}``: never reproduces byte for byte
    cached: bool = True  # ``cache: false`` outputs are committed to git instead
    model_card: bool = False  # ``meta: {model_card: true}``: the card a release points at
    frozen: bool = False  # its stage is ``frozen: true``: ``dvc repro`` never runs it

    @property
    def address(self) -> str:
        """The stage as DVC addresses it from the root and dvc.lock readers name it."""
        return stage_address(self.dvcfile, self.stage)

    def holds(self, path: str) -> bool:
        """Whether ``path`` is this output or a file inside it (a directory output)."""
        return path == self.path or path.startswith(f"{self.path.rstrip('/')}/")


def _entry(entry: Any) -> tuple[str, Any]:
    """(path, options) of an ``outs``/``metrics``/``plots`` entry: a path or {path: options}
    (DVC's schema, checked by ``resolve``, allows nothing else)."""
    if isinstance(entry, dict):
        path, options = next(iter(entry.items()))
        return str(path), options
    return str(entry), None


def stage_outputs(snap: Snapshot, dvc_yaml: Mapping[str, Any]) -> list[StageOutput]:
    """Every output of every stage of a snapshot, root and nested ``dvc.yaml`` files alike,
    templates resolved by DVC's resolver."""
    found: list[StageOutput] = []
    for _, path, data in pipelines(snap, dvc_yaml):
        pipeline = resolve(snap, path, data, ("wdir", "frozen", *OUTPUT_KEYS))
        for name, stage in pipeline.stages.items():
            wdir = _wdir(pipeline, stage)
            frozen = stage.get("frozen") is True
            for key in OUTPUT_KEYS:
                for entry in stage.get(key) or []:
                    out, options = _entry(entry)
                    options = options if isinstance(options, dict) else {}
                    meta = options.get("meta")
                    volatile = isinstance(meta, dict) and meta.get("volatile") is True
                    card = isinstance(meta, dict) and meta.get("model_card") is True
                    cached = options.get("cache") is not False
                    at = norm_path(out, wdir)
                    found.append(StageOutput(path, name, wdir, at, volatile, cached, card, frozen))
    return found


def model_card_path(outputs: list[StageOutput]) -> str | None:
    """The output ``dvc.yaml`` marks ``meta: {model_card: true}`` (None: none); two such
    outputs are refused, since a release points at one card."""
    cards = sorted({out.path for out in outputs if out.model_card})
    if len(cards) > 1:
        raise ConfigError(
            f"{DVC_YAML}: {len(cards)} outputs are marked 'meta: {{model_card: true}}' "
            f"({', '.join(cards)}); a release points at one model card"
        )
    return cards[0] if cards else None


def read_output(snap: Snapshot, path: str) -> bytes | None:
    """One file of a snapshot as ``read_metrics`` reads a metrics file: from git (from disk
    in the working tree), else from DVC's cache by the hash its dvc.lock records, fetched
    from the DVC remote when the cache lacks it; None when it is in none of them."""
    if not snap.is_inside(path):
        raise ConfigError(f"{snap.where(path)}: a file outside the repository")
    data = snap.read_bytes(path)
    if data is not None:
        return data
    locks = _locks(snap)
    held = covering(locks, path)
    if held is None:
        return None
    made = producer(stage_outputs(snap, read_dvc_yaml(snap)), path)
    if made is not None and not made.cached:
        return None  # a 'cache: false' output is committed to git, and git has it not
    out, inside = held
    return Outputs(snap, locks).read(path, out, inside)


def pipeline_numbers(
    snap: Snapshot, dvc_yaml: Mapping[str, Any], metrics: MetricsAt, gated: Collection[str]
) -> dict[str, float]:
    """The numbers of ``metrics`` that describe what the snapshot's pipeline makes: every
    declared file's, except those a frozen stage writes and no gate judged (``gated``).
    ``dvc repro`` never runs a frozen stage, so its figures are not this run's: this
    project's monitoring stage judges a production batch with an earlier release, and its
    figures belong to that batch and that release, not to a model the commit trains."""
    outputs = [out for out in stage_outputs(snap, dvc_yaml) if out.frozen]
    kept = {
        path: values
        for path, values in metrics.files.items()
        if path in gated or producer(outputs, path) is None
    }
    return MetricsAt(metrics.label, kept).numbers()


def producer(outputs: list[StageOutput], path: str) -> StageOutput | None:
    """The output that holds ``path``: the output itself, or the innermost directory one."""
    holders = [out for out in outputs if out.holds(path)]
    return max(holders, key=lambda out: len(out.path)) if holders else None


def verify_produced(
    snap: Snapshot,
    dvc_yaml: Mapping[str, Any],
    paths: list[str],
    locks: Mapping[str, LockedFile],
    source: str,
) -> None:
    """Refuse gated metrics files that are not the pipeline's: a file that no stage writes
    (a ConfigError: dvc.yaml's top-level ``metrics:`` may name any committed file, which
    anyone can edit), one whose stage dvc.lock has no record of, and one whose content is
    not what dvc.lock records for it (both hashes named). A file read from DVC's cache was
    found by that very hash, so only files in git (or on disk) are hashed here."""
    if not paths:
        return
    produced = stage_outputs(snap, dvc_yaml)
    outputs = Outputs(snap, locks)
    for path in paths:
        made = producer(produced, path)
        if made is None:
            raise ConfigError(
                f"{source}: the gates read {snap.where(path)}, which no stage of dvc.yaml "
                "writes; a file no stage produces can be edited by hand, so it cannot gate "
                "a release: declare it in the 'metrics:' or 'outs:' of the stage that writes it"
            )
        stage = made.address
        held = covering(locks, path)
        if held is None or held[0].stage != stage:
            raise InputError(
                f"{snap.where(path)}: dvc.lock records no hash for it from stage '{stage}' "
                "(the stage has not run there); run 'dvc repro' and commit dvc.lock"
            )
        data = snap.read_bytes(path)
        if data is None:
            continue
        out, inside = held
        if out.hash_name not in ("md5", LEGACY_MD5):
            raise InputError(
                f"{snap.where(path)}: dvc.lock records it by {out.hash_name}, which cannot be "
                "checked against the file; gate on a file DVC hashes with md5"
            )
        expected = outputs.expected_md5(path, out, inside)
        actual = content_md5(data, out.hash_name)
        if expected != actual:
            recorded = f"md5 {expected}" if expected else "no file of that name"
            raise InputError(
                f"{snap.where(path)}: not what the pipeline wrote: dvc.lock records "
                f"{recorded} (stage '{stage}'), the file has md5 {actual}; rerun 'dvc repro' "
                "and commit its outputs with dvc.lock"
            )
