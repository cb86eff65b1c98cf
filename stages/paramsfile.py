"""Writing a section of params.yaml: the YAML text for it, and the file with it replaced.

Used by the commands that fill params.yaml in for a new dataset (stages.infer_schema,
stages.adopt), never by a pipeline stage. The text is YAML 1.2 as DVC and the stages read
it (`stages.common.read_yaml`), and is read back before it is used: what is written is what
the stages will see. Replacing a section touches only its lines: the other sections and
their comments stay byte for byte.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from stages.common import StageError, read_yaml, writing

LINE_WIDTH = 100  # as the project's params.yaml and ruff


def section_text(name: str, body: Any, comment: str = "") -> str:
    """`name: body` as block YAML whose innermost lists and mappings are written inline, as
    params.yaml writes them (`age: {min: 16, max: 100}`), after `comment` lines."""
    import ruamel.yaml

    dumper = ruamel.yaml.YAML(typ="safe", pure=True)
    dumper.default_flow_style = None
    dumper.width = LINE_WIDTH
    dumper.sort_base_mapping_type_on_output = False  # type: ignore[assignment]  # keys as given
    buffer = io.StringIO()
    dumper.dump({name: body}, buffer)
    # a wrapped inline list ends its lines with a space; YAML ignores it, diffs do not
    text = "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"
    if read_yaml(text, f"the '{name}' section written") != {name: body}:  # pragma: no cover
        raise StageError(f"the '{name}' section does not read back as written")  # a bug
    header = "".join(f"# {line}".rstrip() + "\n" for line in comment.splitlines())
    return header + text


_TOP_LEVEL = re.compile(r"^[^\s#]")


def replace_section(text: str, name: str, section: str) -> str:
    """`text` (a params.yaml) with its top-level `name:` block replaced by `section`, or
    `section` appended when there is none. A section's block includes the comment lines
    right above it (no blank line between), so a rewritten section does not pile up
    comments; those right above the next section belong to that one and stay."""
    lines = text.splitlines(keepends=True)
    start = next(
        (at for at, line in enumerate(lines) if re.match(rf"{re.escape(name)}\s*:", line)), None
    )
    if start is None:
        ended = text if not text or text.endswith("\n") else text + "\n"
        return ended + ("\n" if ended.strip() else "") + section
    header = start
    while header > 0 and lines[header - 1].startswith("#"):
        header -= 1
    end = next(
        (at for at in range(start + 1, len(lines)) if _TOP_LEVEL.match(lines[at])), len(lines)
    )
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1  # blank lines and the next section's own comments
    following = lines[end:]
    gap = "\n" if following and following[0].strip() else ""  # one blank line between
    return "".join(lines[:header]) + section + gap + "".join(following)


def write_section(path: str | Path, name: str, section: str) -> None:
    """Replace (or add) section `name` of the params file at `path` with `section`."""
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except OSError as exc:
        raise StageError(f"{path}: cannot read ({exc.strerror})") from exc
    updated = replace_section(text, name, section)
    read_yaml(updated, str(path))  # still one YAML document, with no key written twice
    with writing(target) as destination:
        destination.write_text(updated, encoding="utf-8")
