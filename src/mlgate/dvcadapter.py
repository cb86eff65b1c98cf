"""mlgate's one adapter to DVC: its resolver for ``dvc.yaml``, its lock schema, and the
YAML loader every DVC file, params file and metrics file is read with.

``dvc.yaml`` is resolved by DVC's own ``dvc.parsing.DataResolver`` (``vars``, ``${...}``,
``foreach``, ``matrix``, tracked vars), given a read-only filesystem over a
``gitio.Snapshot``, so a commit is judged straight from git objects without building
DVC's repository index (the slow part of ``dvc metrics diff``). ``dvc.lock`` is
validated with DVC's ``COMPILED_LOCKFILE_SCHEMA``. DVC's errors become one-line
``ConfigError``/``InputError`` messages that name the file, with DVC's error as the cause.

Files are parsed by ``mlgate.loaders`` (YAML, JSON and TOML, bounded), the one loader
the tool and the stages read DVC's files and params with.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import io
import os
import posixpath
import re
import sys
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate.errors import ConfigError, InputError
from mlgate.gitio import Snapshot, files_under
from mlgate.loaders import parse_structured

DVC_YAML = "dvc.yaml"
DVC_LOCK = "dvc.lock"
PARAMS_YAML = "params.yaml"


def norm_path(path: str, wdir: str = "") -> str:
    """``path`` (relative to ``wdir``) as a normalised POSIX path from the project root."""
    joined = posixpath.normpath(posixpath.join(wdir, path.replace("\\", "/")))
    return joined[2:] if joined.startswith("./") else joined


# DVC's schema lives in ``dvc.schema``, whose import (``dvc.output``, ``dvc.dependency`` and
# dvc_data's hashfile machinery) costs 0.25-0.28 s, more than ``mlgate check --rev`` does
# otherwise. The files almost every project has take a narrow shape, which is checked here in
# a few microseconds: whatever these checks accept, DVC's schema accepts too (they are a
# strict subset, tests/mlgate/test_dvc_schema_subset.py checks it against DVC's schema on
# generated documents), and anything else, a broken file included, goes to DVC's schema, whose
# verdict and message stand. So the judge stays DVC's; this only skips asking it the obvious.
_LOCK_ENTRY_TYPES: dict[str, tuple[type, ...]] = {
    "path": (str,),
    "hash": (str,),
    "size": (int,),
    "nfiles": (int,),
    "isexec": (bool,),
}


def _plain_checksum(value: Any) -> bool:
    return value is None or (isinstance(value, str) and (len(value) >= 3 or value == ""))


def _plain_lock_entry(entry: Any) -> bool:
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        return False
    for key, value in entry.items():
        if key == "md5":
            if not _plain_checksum(value):
                return False
        elif key not in _LOCK_ENTRY_TYPES or not isinstance(value, _LOCK_ENTRY_TYPES[key]):
            return False
    return True


def _plain_lock(data: Any) -> bool:
    """Whether ``data`` is a ``dvc.lock`` of the plain shape (see above), certainly valid."""
    if not isinstance(data, dict) or data.get("schema") != "2.0":
        return False
    if not set(data) <= {"schema", "stages"}:
        return False
    stages = data.get("stages", {})
    if not isinstance(stages, dict):
        return False
    for name, stage in stages.items():
        if not isinstance(name, str) or not isinstance(stage, dict):
            return False
        if not isinstance(stage.get("cmd"), (str, list)):
            return False
        if not set(stage) <= {"cmd", "deps", "outs", "params"}:
            return False
        for key in ("deps", "outs"):
            entries = stage.get(key, [])
            if not isinstance(entries, list) or not all(map(_plain_lock_entry, entries)):
                return False
        params = stage.get("params", {})
        if not isinstance(params, dict) or not all(
            isinstance(file, str)
            and isinstance(values, dict)
            and all(isinstance(key, str) for key in values)
            for file, values in params.items()
        ):
            return False
    return True


def validate_lock(data: Any, where: str) -> None:
    """Check a parsed ``dvc.lock`` against DVC's own schema."""
    if _plain_lock(data):
        return
    import voluptuous as vol
    from dvc.schema import COMPILED_LOCKFILE_SCHEMA

    try:
        COMPILED_LOCKFILE_SCHEMA(data)
    except vol.Invalid as exc:
        raise InputError(f"{where}: unreadable dvc.lock: {exc}") from exc


def is_text(data: bytes) -> bool:
    """Whether DVC takes these bytes for text (DVC 2's md5 then ignores CRLF line endings)."""
    from dvc_data.hashfile.istextfile import istextblock

    return bool(istextblock(data[: 512 * 1024]))


def fetch(repo_root: str | Path, path: str, rev: str | None) -> str | None:
    """Fetch the output ``path`` (or a file inside a directory output) as the commit ``rev``
    records it (None: the working tree's dvc.lock) from the DVC remote into the local
    cache, as ``dvc fetch path`` does at that revision. Returns what DVC said went wrong,
    or None; DVC may succeed without fetching (its remote lacks the object and it only
    warns), so the caller looks in the cache afterwards."""
    import logging

    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    said: list[str] = []

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                said.append(_one_line(Exception(record.getMessage())))

    logger = logging.getLogger("dvc")
    handler, propagate = _Keep(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False  # DVC's warnings become the one error line, not stray output
    try:
        with Repo(str(repo_root)) as repo:
            count = repo.fetch(targets=[path], revs=[rev] if rev else None, workspace=rev is None)
            if not count and not repo.config["core"].get("remote"):
                said.insert(0, "no DVC remote is configured ('dvc remote add -d')")
    except DvcException as exc:
        cause = exc.__cause__
        return _one_line(exc) + (f": {_one_line(cause)}" if cause else "")
    except OSError as exc:
        return _one_line(exc)
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
    return said[0] if said else None


class SnapshotFS:
    """The read-only filesystem ``DataResolver`` loads ``vars`` files through: the files of
    a snapshot, paths relative to the project root. Each file is parsed by ``parse_yaml``
    or ``parse_structured`` (so within their limits) before DVC sees its text."""

    sep = "/"

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def join(self, *parts: str) -> str:
        return posixpath.join(*parts)

    def normpath(self, path: str) -> str:
        return posixpath.normpath(path)

    def relpath(self, path: str, start: str = "") -> str:
        return posixpath.relpath(path, start or ".")

    def suffix(self, path: str) -> str:
        return posixpath.splitext(path)[1]

    def isdir(self, path: str) -> bool:
        return bool(files_under(self.snap, norm_path(path)))

    def exists(self, path: str) -> bool:
        return self.snap.read_bytes(norm_path(path)) is not None or self.isdir(path)

    @contextlib.contextmanager
    def open(self, path: str, mode: str = "r", **kwargs: Any) -> Iterator[io.StringIO]:
        full = norm_path(path)
        text = self.snap.read_text(full)
        if text is None:  # pragma: no cover - DataResolver asks exists() first
            raise InputError(f"{self.snap.where(full)}: not found")
        where = self.snap.where(full)
        try:
            parse_structured(text, full, where)
        except InputError as exc:  # a vars file is configuration, as dvc.yaml is
            raise ConfigError(str(exc)) from exc
        yield io.StringIO(text)


@dataclass(frozen=True)
class _Repo:
    """What ``DataResolver`` takes from a DVC ``Repo``: its filesystem and its config."""

    fs: SnapshotFS
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pipeline:
    """One ``dvc.yaml`` as DVC resolves it: ``stages`` by the names DVC gives them
    (``name@key`` for foreach/matrix stages) with their templates resolved, ``tracked``
    the vars files whose values each stage's templates use (DVC makes them params of the
    stage), ``metrics`` and ``params`` the top-level sections resolved."""

    directory: str
    where: str
    stages: dict[str, dict[str, Any]]
    tracked: dict[str, list[str]]
    metrics: list[Any]
    params: list[Any]


@functools.cache
def _parse_each_expression_once() -> None:
    """Let DVC parse each distinct ``${...}`` expression once per process.

    DVC parses an expression with pyparsing at every use: once to check its syntax and again
    to resolve it, in every resolution. ``mlgate check`` resolves the working tree's
    ``dvc.yaml`` and then runs ``dvc status`` in the same process, which resolves it again;
    this repository's pipeline makes 446 parses of 29 distinct expressions that way.
    ``parse_expr`` is a pure function of its text (it returns a ``str``; an error is raised,
    never kept, by ``lru_cache``), so a bounded memo changes nothing DVC does but the time:
    ``mlgate check`` 0.80 -> 0.73 s here (BENCHMARKS.md, issue 15). A DVC without that
    function is left as it is. This is the only place mlgate changes DVC's code.
    """
    from dvc.parsing import interpolate

    parse = getattr(interpolate, "parse_expr", None)
    if callable(parse) and not hasattr(parse, "cache_info"):
        interpolate.parse_expr = functools.lru_cache(maxsize=4096)(parse)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


@functools.cache
def _resolved_sections_schema() -> Any:
    """DVC's dvc.yaml schema for the sections ``DataResolver`` reads, compiled once."""
    import voluptuous as vol
    from dvc.schema import MULTI_STAGE_SCHEMA

    sections = ("stages", "vars", "params", "metrics")
    return vol.Schema({key: MULTI_STAGE_SCHEMA[key] for key in sections}, extra=vol.ALLOW_EXTRA)


_OUT_FLAGS: dict[str, tuple[type, ...]] = {
    "cache": (bool,),
    "persist": (bool,),
    "push": (bool,),
    "remote": (str,),
    "desc": (str,),
    "type": (str,),
}
_STAGE_KEYS: dict[str, tuple[type, ...]] = {
    "wdir": (str,),
    "frozen": (bool,),
    "always_changed": (bool,),
    "desc": (str,),
}


def _plain_out(item: Any) -> bool:
    if isinstance(item, str):
        return True
    if not isinstance(item, dict) or len(item) != 1:
        return False
    ((path, flags),) = item.items()
    return (
        isinstance(path, str)
        and isinstance(flags, dict)
        and all(
            key == "meta" or (key in _OUT_FLAGS and isinstance(value, _OUT_FLAGS[key]))
            for key, value in flags.items()
        )
    )


def _list_of(value: Any, kinds: tuple[type, ...]) -> bool:
    return isinstance(value, list) and all(isinstance(item, kinds) for item in value)


def _plain_stage(stage: Any) -> bool:
    if not isinstance(stage, dict) or "foreach" in stage or "do" in stage or "matrix" in stage:
        return False
    if not isinstance(stage.get("cmd"), (str, list)):
        return False
    for key, value in stage.items():
        if key == "cmd" or key == "meta":
            continue
        if key in _STAGE_KEYS:
            if not isinstance(value, _STAGE_KEYS[key]):
                return False
        elif key == "deps":
            if not _list_of(value, (str,)):
                return False
        elif key in ("params", "vars"):
            if not _list_of(value, (str, dict)):
                return False
        elif key in ("outs", "metrics"):
            if not isinstance(value, list) or not all(map(_plain_out, value)):
                return False
        else:  # plots' properties, or a key DVC refuses: DVC's schema decides
            return False
    return True


def _plain_dvc_yaml(data: Mapping[str, Any]) -> bool:
    """Whether the sections ``DataResolver`` reads are of the plain shape (see
    ``_plain_lock``), certainly valid for DVC's schema."""
    stages = data.get("stages", {})
    return (
        _list_of(data.get("vars", []), (str, dict))
        and _list_of(data.get("params", []), (str,))
        and _list_of(data.get("metrics", []), (str,))
        and isinstance(stages, dict)
        and all(isinstance(name, str) and _plain_stage(s) for name, s in stages.items())
    )


def _validate(data: Mapping[str, Any], where: str) -> None:
    """Check the sections ``DataResolver`` reads against DVC's own dvc.yaml schema, as DVC
    does before resolving (the resolver assumes that shape). Artifacts are left to
    ``dvcfiles.artifacts``, which explains its own errors."""
    if _plain_dvc_yaml(data):
        return
    import voluptuous as vol

    try:
        _resolved_sections_schema()(dict(data))
    except vol.Invalid as exc:
        raise ConfigError(f"{where}: does not match DVC's schema: {_one_line(exc)}") from exc


# What a stage needs to stay a stage DVC can name and resolve, whatever else is left out.
_STRUCTURE = ("vars", "foreach", "do", "matrix")


def _only(data: Mapping[str, Any], keys: tuple[str, ...], holding: str | None) -> dict[str, Any]:
    """``data`` with each stage's definition cut to ``keys``, and without the stages whose
    definition has no ``holding`` key: DVC resolves a stage key by key, so the kept keys
    resolve as in the whole stage, without parsing the ``${...}`` of the others (a ``cmd``
    holds most of them)."""
    kept = (*keys, *_STRUCTURE)

    def cut(definition: Mapping[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in definition.items() if key in kept}

    stages = {}
    for name, stage in (data.get("stages") or {}).items():
        body = stage["do"] if "foreach" in stage else stage
        if holding is None or holding in body:
            stages[name] = {**stage, "do": cut(body)} if "foreach" in stage else cut(stage)
    return {**data, "stages": stages}


def resolve(
    snap: Snapshot,
    path: str,
    data: Mapping[str, Any],
    keys: tuple[str, ...] | None = None,
    holding: str | None = None,
) -> Pipeline:
    """The ``dvc.yaml`` at ``path`` (already parsed into ``data``) resolved by DVC's
    ``DataResolver`` over the files of ``snap``; DVC's errors become a ConfigError
    naming the file. ``keys``: the stage keys to resolve (None: all of them, which the
    tracked vars need, since any key's template may use a vars file); ``holding``: resolve
    only the stages that have this key."""
    where = snap.where(path)
    if snap.sha is None or type(snap) is not Snapshot:
        return _resolve(snap, path, data, keys, holding, where)
    # A commit's files never change: its whole resolution is kept for the process, and the
    # readers of one commit (locks, metrics, params, freshness), which ask for parts of it,
    # are answered from it (ranking 200 experiments resolved each about ten times). Not for
    # the working tree, and not for a TracedSnapshot, whose reads are its record of what was
    # asked. When the whole does not resolve, a part still may: it is resolved alone.
    key = (str(snap.repo_root), snap.sha, snap.prefix, path, where)
    whole = _RESOLVED.get(key)
    if whole is None:
        # Another commit that says the same (experiments differ from their parent in a few
        # params their templates do not use) resolves alike: answered from that one.
        alike = _content_key(snap, path, data)
        whole = _RESOLVED.get(alike) if alike is not None else None
        if whole is not None:
            whole = dataclasses.replace(whole, where=where)
        else:
            try:
                whole = _resolve(snap, path, data, None, None, where)
            except ConfigError:
                if keys is None:
                    raise
                return _resolve(snap, path, data, keys, holding, where)
            if alike is not None:
                _keep(alike, whole)
        _keep(key, whole)
    if keys is None:
        return copy.deepcopy(whole)
    kept = (*keys, *_STRUCTURE)
    stages = {
        name: {k: copy.deepcopy(v) for k, v in stage.items() if k in kept}
        for name, stage in whole.stages.items()
        if holding is None or holding in stage
    }
    return Pipeline(
        whole.directory,
        whole.where,
        stages,
        {},
        copy.deepcopy(whole.metrics),
        copy.deepcopy(whole.params),
    )


_RESOLVED: dict[tuple[object, ...], Pipeline] = {}
_RESOLVED_MAX = 512
_TEMPLATE = re.compile(r"\$\{(.*?)\}", re.S)  # DVC's ${...}, as loosely as it can be written
_NAME = re.compile(r"[\w-]+")


def _keep(key: tuple[object, ...], whole: Pipeline) -> None:
    if len(_RESOLVED) >= _RESOLVED_MAX:
        _RESOLVED.pop(next(iter(_RESOLVED)))
    _RESOLVED[key] = whole


def _templates(data: Any, found: list[str]) -> list[str] | None:
    """Collect the insides of every ``${...}`` in ``data``'s keys and text values, and return
    the vars files its top-level ``vars`` names; None when a stage names one (relative to
    its ``wdir``, which may be a template itself)."""
    files: list[str] = []
    top = data.get("vars") if isinstance(data, dict) else None
    if isinstance(top, list):
        files = [entry for entry in top if isinstance(entry, str)]
    pending = [(data, True)]
    while pending:
        item, at_top = pending.pop()
        if isinstance(item, dict):
            for name, value in item.items():
                named_files = isinstance(value, list) and any(isinstance(e, str) for e in value)
                if name == "vars" and named_files and not at_top:
                    return None
                pending.append((name, False))
                pending.append((value, False))
        elif isinstance(item, list):
            pending.extend((entry, False) for entry in item)
        elif isinstance(item, str) and "${" in item:
            found.extend(_TEMPLATE.findall(item))
    return files


def _content_key(snap: Snapshot, path: str, data: Mapping[str, Any]) -> tuple[object, ...] | None:
    """What DVC's resolution of ``data`` (the ``dvc.yaml`` at ``path``) depends on: the file
    itself, the vars files its top-level ``vars`` names (their bytes) and the default
    ``params.yaml`` beside it, of which only the values of the top-level names that some
    ``${...}`` may use count (every name written inside one: more than needed, never fewer).
    None when a stage names vars files, or anything is unusual: then the commit's own is
    resolved."""
    inside: list[str] = []
    directory = posixpath.dirname(path)
    try:
        files = _templates(data, inside)
        if files is None:
            return None
        named = {
            candidate: snap.read_bytes(norm_path(candidate, directory))
            for entry in files
            for candidate in dict.fromkeys([entry, entry.split(":", 1)[0]])
        }
        params_path = norm_path(PARAMS_YAML, directory)
        text = snap.read_text(params_path)
        values: Any = None
        if text is not None:  # DVC loads it, and refuses a broken one, whether used or not
            params = parse_structured(text, params_path, snap.where(params_path))
            if not isinstance(params, dict):
                return None
            used = "\n".join(inside)
            tokens = set(_NAME.findall(used))
            values = {
                name: params[name]
                for name in params
                # a name of letters, digits, '_' and '-' is used where it is a whole word
                # (``train`` is not used by ``paths.valid_train``); any other, where written
                if (str(name) in tokens if _NAME.fullmatch(str(name)) else str(name) in used)
            }
        # in their order: a stage's place, or a mapping's order in a command, is kept
        document = repr([data, values, named])  # exact: 1, 1.0, "1" and True stay apart
    except (InputError, ConfigError, RecursionError):
        return None
    return (str(snap.repo_root), snap.prefix, path, document, text is None)


def _resolve(
    snap: Snapshot,
    path: str,
    data: Mapping[str, Any],
    keys: tuple[str, ...] | None,
    holding: str | None,
    where: str,
) -> Pipeline:
    from dvc.exceptions import DvcException
    from dvc.parsing import DataResolver

    _parse_each_expression_once()
    _validate(data, where)
    directory = posixpath.dirname(path)
    wanted = dict(data) if keys is None else _only(data, keys, holding)
    try:
        resolver = DataResolver(_Repo(SnapshotFS(snap)), directory, wanted)
        stages: dict[str, dict[str, Any]] = {}
        for name in resolver.get_keys():
            stages.update(resolver.resolve_one(name))
        metrics = resolver.resolve_metrics()
        params = resolver.resolve_params()
    except DvcException as exc:
        raise ConfigError(f"{where}: {_one_line(exc)}") from exc
    except (TypeError, AssertionError) as exc:  # data the schema allows but DVC cannot
        # resolve, e.g. a matrix axis '${n}' naming a number: DVC fails the same way
        raise ConfigError(f"{where}: DVC cannot resolve it ({exc!r})") from exc
    # only values loaded from files are tracked (DVC marks a dvc.yaml's own vars local)
    tracked = {name: list(map(norm_path, files)) for name, files in resolver.tracked_vars.items()}
    return Pipeline(directory, where, stages, tracked if keys is None else {}, metrics, params)


def stale_stages(repo_root: str | Path) -> dict[str, Any]:
    """``dvc status`` of the working tree, in process (empty when the pipeline is up to date)."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    _parse_each_expression_once()
    try:
        with Repo(str(repo_root)) as repo:
            status: dict[str, Any] = repo.status()
    except DvcException as exc:
        import re

        # DVC's own line: the message, then each cause it was raised from, as the dvc command
        # prints them; a cause the message already quotes is not said twice. A clone that fails
        # for an import's source is otherwise only "SCM error". Without the colour codes DVC
        # puts around links (format_link), whatever the output.
        reason = str(exc)
        cause = exc.__cause__
        while cause is not None:
            if str(cause) not in reason:
                reason = f"{reason}: {cause}"
            cause = cause.__cause__
        reason = re.sub(r"\x1b\[[0-9;]*m", "", reason)
        raise InputError(f"dvc status failed in '{repo_root}': {reason}") from exc
    except OSError as exc:  # a dependency DVC cannot stat: a broken symlink, a symlink loop
        where = f": {exc.filename}" if exc.filename else ""
        raise InputError(
            f"dvc status failed in '{repo_root}': {exc.strerror or exc}{where}"
        ) from exc
    # A stage marked always_changed (or a callback stage) is never "up to date" by design;
    # only real changes make the pipeline stale.
    return {
        name: changes
        for name, changes in status.items()
        if [change for change in changes if change != "always changed"]
    }


def stage_address(dvcfile: str, name: str) -> str:
    """How a pipeline stage is named from the project root, as DVC addresses it from there
    and ``dvc.lock`` readers name it: ``name`` in the root ``dvc.yaml``, else
    ``sub/dvc.yaml:name`` (``name@key`` for a foreach or matrix stage)."""
    return name if dvcfile == DVC_YAML else f"{dvcfile}:{name}"


@dataclass(frozen=True)
class Reproduction:
    """What one in-process ``dvc repro`` did, stages named by ``stage_address``.

    ``ran``: every stage DVC reproduced, in the order it did (its command ran, or DVC
    restored its outputs from the run cache, as ``dvc repro`` counts them); ``forced``:
    the forced stages DVC would have skipped as up to date (each ran its command once)."""

    ran: tuple[str, ...]
    forced: tuple[str, ...]


@contextlib.contextmanager
def _console() -> Iterator[None]:
    """DVC's log handlers write to the ``sys.stdout``/``sys.stderr`` of the moment dvc was
    first imported (``dvc.logger.setup`` runs at import); point them at this moment's for
    the duration, so a caller that redirected its output (click's test runner, a capture)
    gets DVC's lines instead of writes to a stream since closed."""
    import logging

    handlers = [
        handler
        for name in ("dvc", "dvc_objects", "dvc_data")
        for handler in logging.getLogger(name).handlers
        if isinstance(handler, logging.StreamHandler)
    ]
    before = [(handler, handler.stream) for handler in handlers]
    for handler in handlers:  # setup() gives WARNING and above to stderr, the rest to stdout
        handler.stream = sys.stderr if handler.level >= logging.WARNING else sys.stdout
    try:
        yield
    finally:
        for handler, stream in before:
            handler.stream = stream


def _causes(exc: BaseException) -> str:
    """An exception and the chain of its causes, one line (DVC's "failed to reproduce
    'evaluate'" says why only in its cause)."""
    parts: list[str] = []
    cause: BaseException | None = exc
    while cause is not None and len(parts) < 5:
        text = _one_line(cause) if isinstance(cause, Exception) else str(cause)
        if text and text not in parts:
            parts.append(text)
        cause = cause.__cause__
    return ": ".join(parts) or type(exc).__name__


def _address(stage: Any) -> str:
    """A DVC stage object's ``stage_address``."""
    name = getattr(stage, "name", None)  # a .dvc file's stage has none
    path = str(stage.path_in_repo).replace("\\", "/")
    return path if name is None else stage_address(path, name)


def run_frozen(repo_root: str | Path, key: str) -> None:
    """Run the command of a frozen stage (``stage_address`` ``key``) and record its outputs
    in dvc.lock, as ``dvc repro`` records an unfrozen one.

    A frozen stage is one the training pipeline's ``dvc repro`` and ``dvc status`` leave
    alone: the monitoring stage (monitoring/dvc.yaml) judges whichever batch it is pointed
    at, from files a training run neither has nor needs, yet its metrics must come with a
    dvc.lock record for the gates to read them (``metrics.verify_produced``).
    """
    from dvc.exceptions import DvcException
    from dvc.repo import Repo, lock_repo

    root = Path(repo_root).resolve()
    before = Path.cwd()
    try:
        # DVC saves a stage's outputs with paths relative to the working directory
        os.chdir(root)
        with Repo(str(root)) as repo, _console(), lock_repo(repo):
            stage = next((s for s in repo.index.stages if _address(s) == key), None)
            if stage is None or not stage.frozen or not stage.cmd:
                why = "is not a stage of this project" if stage is None else "is not frozen"
                raise InputError(f"stage '{key}' {why}: run it with dvc repro")
            stage.frozen = False  # in memory only: dvc.yaml keeps 'frozen: true'
            try:
                stage.run()
            finally:
                stage.frozen = True
            stage.dump(update_pipeline=False)
    except DvcException as exc:
        raise InputError(f"running '{key}' failed in '{repo_root}': {_causes(exc)}") from exc
    finally:
        os.chdir(before)


def reproduce(repo_root: str | Path, force: Collection[str]) -> Reproduction:
    """``dvc repro`` of the working tree, in process and with its defaults (the root
    ``dvc.yaml``, when there is one, and the run cache), plus the stages in ``force``
    (``stage_address`` names) and what they depend on; each of those runs its command
    even where DVC would skip it, and where it was going to run anyway, runs once.

    A forced stage runs as ``dvc repro -f -s`` would run it: its own command, never
    outputs restored from the run cache (``force`` is what makes DVC skip that cache), and
    in DVC's order, so the stages downstream of it see what it wrote. A forced stage that
    is frozen (DVC would only check its outputs) or unknown is an error before anything
    runs. DVC's console lines (stage names, commands, skips) are printed as ``dvc repro``
    prints them; its errors become one InputError line that keeps DVC's cause.
    """
    from dvc.exceptions import DvcException
    from dvc.repo import Repo, lock_repo
    from dvc.repo.reproduce import _reproduce_stage  # what a repro_fn wraps, as `dvc exp` does

    root = Path(repo_root).resolve()
    wanted = set(force)
    ran: list[str] = []
    forced: list[str] = []

    def reproduce_one(stage: Any, **kwargs: Any) -> Any:
        key = _address(stage)
        if key in wanted and not kwargs.get("force"):
            upstream = kwargs.get("upstream")
            if not stage.changed(kwargs.get("allow_missing", False), upstream):
                forced.append(key)  # DVC would have said "didn't change, skipping"
            kwargs["force"] = True
        done = _reproduce_stage(stage, **kwargs)
        if done is not None:
            ran.append(key)
        return done

    def target(key: str) -> str:
        dvcfile, _, name = key.rpartition(":") if ":" in key else (DVC_YAML, "", key)
        return f"{root / dvcfile}:{name}"

    try:
        # Locked around both, as reproduce locks itself: the index read to check the forced
        # stages is the one it plans with (taking the lock anew would drop it).
        with Repo(str(root)) as repo, _console(), lock_repo(repo):
            stages = {_address(stage): stage for stage in repo.index.stages}
            for key in sorted(wanted):
                stage = stages.get(key)
                if stage is None or stage.frozen or not stage.cmd:
                    why = "is frozen" if stage and stage.frozen else "has no command"
                    why = why if stage else "is not a stage of this pipeline"
                    raise InputError(f"stage '{key}' {why}: DVC would not run it")
            targets = [target(key) for key in sorted(wanted)]
            if (root / DVC_YAML).exists():
                targets.insert(0, str(root / DVC_YAML))
            if targets:
                repo.reproduce(targets=targets, repro_fn=reproduce_one)
    except DvcException as exc:
        raise InputError(f"dvc repro failed in '{repo_root}': {_causes(exc)}") from exc
    except OSError as exc:  # a dependency DVC cannot stat, a full disk while saving outputs
        where = f": {exc.filename}" if exc.filename else ""
        raise InputError(
            f"dvc repro failed in '{repo_root}': {exc.strerror or exc}{where}"
        ) from exc
    return Reproduction(tuple(ran), tuple(forced))


def queue_experiment(repo_root: str | Path, name: str, overrides: list[str]) -> None:
    """``dvc exp run --queue -n NAME -S key=value ...``, in process."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(str(repo_root)) as repo, _console():
            repo.experiments.run(queue=True, name=name, params=overrides)
    except DvcException as exc:
        raise InputError(f"dvc exp run --queue -n {name}: {_one_line(exc)}") from exc


def run_queue(repo_root: str | Path, jobs: int) -> None:
    """``dvc exp run --run-all -j JOBS``: DVC's queue workers run every queued experiment,
    each in its own temporary workspace; returns when all have finished. A trial that fails
    is DVC's to report (it says which); the caller sees it by its missing experiment ref.

    Run as a ``dvc`` process, not in this one: DVC starts its queue workers by forking the
    process that asks, which in process takes this one down with them."""
    import os
    import subprocess

    # DVC's workers are `dvc` processes found on PATH: the one beside this Python comes first
    here = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": os.pathsep.join([here, os.environ.get("PATH", "")])}
    command = [sys.executable, "-m", "dvc", "exp", "run", "--run-all", "-j", str(jobs)]
    try:
        subprocess.run(command, cwd=str(repo_root), check=False, env=env)
    except OSError as exc:
        raise InputError(f"dvc exp run --run-all: {_one_line(exc)}") from exc
