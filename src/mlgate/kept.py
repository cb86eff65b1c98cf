"""What mlgate keeps under ``.git`` between runs: files that record the code that wrote them.

Two caches use it, both of what was read from objects that never change (a tag object, a
commit, each named by its id): ``tagcache`` (what ``mlgate history`` reads of tags) and
``expcache`` (how ``mlgate experiments`` judged each experiment commit). A kept file starts
with one header line naming its format, the code that wrote it and the CRC-32 of the rest,
so whatever follows is exactly what this code wrote: other code (an upgrade, another
branch's worktree) or a damaged file reads as nothing kept, and is written anew.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

DIRECTORY = "mlgate"  # under the git directory: each worktree keeps its own


def header(format_name: str, code: str, body: bytes) -> bytes:
    """The header line of a kept file (without its newline)."""
    return f"{format_name} {code} crc32:{zlib.crc32(body):08x}".encode()


def read(path: Path, format_name: str, code: str) -> bytes | None:
    """The body of the kept file at ``path`` when its header matches (this format, this
    code, an intact body); None when there is none or it does not."""
    try:
        head, _, body = path.read_bytes().partition(b"\n")
    except OSError:
        return None
    return body if head == header(format_name, code, body) else None


def write(path: Path, format_name: str, code: str, body: bytes) -> None:
    """Keep ``body`` at ``path`` under its header, atomically; never failing the command."""
    write_atomically(path, header(format_name, code, body) + b"\n" + body)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one rename; any failure leaves things as they were."""
    import tempfile  # only when something changed: 5 ms of imports

    temporary = None
    try:
        path.parent.mkdir(exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f"{path.name}.", delete=False
        ) as out:
            temporary = out.name
            out.write(data)
        os.replace(temporary, path)
        temporary = None
    except OSError:  # read-only .git, a full disk: no cache this time
        pass
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)


def code_key() -> str | None:
    """Which code computes what is kept: the CRC-32 of every module of mlgate and of DVC's
    version file (DVC resolves dvc.yaml); None when they cannot be read (then nothing is
    kept)."""
    import importlib.util

    package = Path(__file__).parent
    try:
        crc = 0
        for source in sorted(package.rglob("*.py")):
            crc = zlib.crc32(source.read_bytes(), crc)
        spec = importlib.util.find_spec("dvc")
        if spec is not None and spec.origin:
            version = Path(spec.origin).with_name("_version.py")
            crc = zlib.crc32(version.read_bytes() if version.exists() else b"", crc)
    except (OSError, ImportError, ValueError):
        return None
    return f"{crc:08x}"
