"""What every stage shares: params loading, progress on stderr, deterministic writers,
and the one error type that a stage turns into a one-line message and exit code 1."""

from __future__ import annotations

import errno
import json
import math
import os
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import stages

PARAMS_FILE = "params.yaml"
FLOAT_DIGITS = 6  # metrics are rounded so that they are byte-identical across runs


class StageError(Exception):
    """A failure the user can act on; its message names the file, column and row."""


def load_params(section: str, path: str | Path = PARAMS_FILE) -> dict[str, Any]:
    """One top-level section of params.yaml as written, or a StageError naming what is wrong
    (stages.params.load checks it against the section's model)."""
    params = _params_file(path)
    if not isinstance(params, dict) or not isinstance(params.get(section), dict):
        raise StageError(f"{path}: missing section '{section}' (expected a mapping)")
    return dict(params[section])


def optional_params(section: str, path: str | Path = PARAMS_FILE) -> dict[str, Any] | None:
    """Like load_params, but None when params.yaml leaves the section out (or writes it with
    nothing after it): for a section a project may omit, such as `model_card`."""
    params = _params_file(path)
    found = params.get(section) if isinstance(params, dict) else None
    if found is None:
        return None
    if not isinstance(found, dict):
        raise StageError(f"{path}: section '{section}' must be a mapping")
    return dict(found)


def _params_file(path: str | Path) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise StageError(f"{path}: cannot read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise StageError(f"{path}: not valid UTF-8 (byte {exc.start}: {exc.reason})") from exc
    return read_yaml(text, str(path))


def read_yaml(text: str, source: str) -> Any:
    """YAML text as DVC reads params.yaml and dvc.lock, or a StageError naming `source`.

    The project's one YAML loader, `mlgate.loaders.parse_yaml`: YAML 1.2's rules as DVC's
    ruamel applies them (010 is 10 and NO is text, as `dvc params diff` shows them), a key
    written twice is an error, and depth and aliases are bounded.
    """
    from mlgate.errors import MlgateError
    from mlgate.loaders import parse_yaml

    try:
        return parse_yaml(text, source)
    except MlgateError as exc:
        raise StageError(str(exc)) from exc


class Progress:
    """Progress lines on stderr: `[stage +1.2s] message`."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.start = time.perf_counter()

    def __call__(self, message: str) -> None:
        elapsed = time.perf_counter() - self.start
        print(f"[{self.stage} +{elapsed:.1f}s] {message}", file=sys.stderr, flush=True)


def rounded(value: Any, digits: int = FLOAT_DIGITS) -> Any:
    """A copy of a JSON-like value with floats rounded and non-finite floats as None."""
    if isinstance(value, Mapping):
        return {str(k): rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalar -> Python scalar
    if isinstance(value, float):
        return round(value, digits) if math.isfinite(value) else None
    return value


def write_json(path: str | Path, payload: Mapping[str, Any]) -> None:
    """Deterministic JSON: sorted keys, rounded floats, trailing newline."""
    text = json.dumps(rounded(payload), indent=2, sort_keys=True, allow_nan=False)
    with writing(path) as target:
        target.write_text(text + "\n", encoding="utf-8")


# A write refused for want of room: on the disk, or in the user's quota.
NO_ROOM = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})


def write_failure(path: str | Path, exc: OSError) -> str:
    """The one line for an OSError while writing `path`."""
    if exc.errno in NO_ROOM:
        return f"No space left on device: {path}"
    return f"{path}: cannot write ({exc.strerror or exc})"


@contextmanager
def writing(path: str | Path) -> Iterator[Path]:
    """`path`, its folder made, for the block that writes it: an OSError there (a full
    disk, a folder where the file should be, no permission) is a StageError naming the file.
    pyarrow raises OSError too, so parquet writes go through here as well."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        yield target
    except OSError as exc:
        raise StageError(write_failure(path, exc)) from exc


def remove_outputs(paths: Sequence[str | Path]) -> None:
    """Delete outputs so that a failed stage never leaves files that look valid.

    Only what a stage writes: files, symlinks (not what they point to) and folders of them.
    A device or FIFO named as an output (/dev/null, /dev/full) is not the stage's to
    delete, and a stage run as root would otherwise remove the machine's.
    """
    for path in paths:
        target = Path(path)
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            for child in sorted(target.rglob("*"), reverse=True):
                child.rmdir() if child.is_dir() and not child.is_symlink() else child.unlink()
            target.rmdir()


@contextmanager
def removed_on_failure(paths: Sequence[str | Path]) -> Iterator[None]:
    """Delete `paths` if the block raises, so a failed stage leaves no output that looks valid."""
    try:
        yield
    except BaseException:
        remove_outputs(paths)
        raise


def run_stage(stage: str, main: Callable[[Sequence[str]], None]) -> None:
    """Run a stage's main(); a StageError becomes one line on stderr and exit code 1.

    For `python -m stages.<name>` only (the process exits right after): it freezes the
    garbage collector (see stages/__init__.py), which a long-lived process calling this
    would regret. Warnings
    (scikit-learn's convergence and deprecation notices, pandas') print as one line each
    too, `<stage>: warning: <category>: <message>`, not Python's two-line form that quotes
    a library's source line.
    """
    warnings.showwarning = _one_line_warning(stage)
    stages.imports_done()
    try:
        main(sys.argv[1:])
        stages.work_done()
    except StageError as exc:
        _fail(stage, str(exc))
    except OSError as exc:
        # a full disk where no `writing` block names the file (a library's temporary file)
        if exc.errno not in NO_ROOM:
            raise
        _fail(stage, write_failure(exc.filename, exc) if exc.filename else str(exc.strerror))
    except MemoryError as exc:  # one allocation larger than the machine (numpy says how large)
        _too_large(stage, exc)
    except ValueError as exc:
        # numpy's word for an array past what any machine addresses (a count param near
        # 2**62): the same mistake as a MemoryError, one step further
        if not str(exc).startswith(TOO_BIG):
            raise
        _too_large(stage, exc)


# how numpy starts the ValueError for an array larger than the address space
TOO_BIG = ("array is too big", "Maximum allowed dimension exceeded")


def _too_large(stage: str, exc: Exception) -> None:
    detail = f" ({exc})" if str(exc) else ""
    _fail(stage, f"out of memory{detail}: a params value or the data is too large here")


def _one_line_warning(stage: str) -> Callable[..., None]:
    def show(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
        text = " ".join(str(message).split())
        print(f"{stage}: warning: {category.__name__}: {text}", file=sys.stderr, flush=True)

    return show


def shorten(text: str, limit: int = 200) -> str:
    """`text`, cut to `limit` characters (saying how long it was): a data value quoted in a
    message or a report may be megabytes long."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def _fail(stage: str, message: str) -> None:
    # one line, however many a library's message spans (a parquet schema dump), and short
    message = shorten(re.sub(r"\s*[\r\n]+\s*", " ", message.strip()), 2000)
    print(f"{stage}: error: {message}", file=sys.stderr)
    if os.environ.get("MLGATE_TRACEBACK"):
        raise
    sys.exit(1)
