"""The machine-readable lineage block carried in a release (or stage) tag's message.

A tag message is a human first line, optional human lines, then one block::

    income-model v1.3.0: gates passed against income-model@v1.2.0 (9 rules)

    -----BEGIN MLGATE LINEAGE-----
    {"commit": "...", "metrics": {...}, "gates": {...}, ...}
    -----END MLGATE LINEAGE-----

GTO keeps the whole message as free text, so the block does not disturb it; git keeps it
verbatim because mlgate creates tags with ``--cleanup=verbatim``. Reading is tolerant: a
message without a block, or with a damaged one (edited by hand, truncated, not JSON), gives a
``Lineage`` whose ``status`` says so instead of an exception, so one bad old tag never breaks
``mlgate history``. Everything here is pure.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

BEGIN = "-----BEGIN MLGATE LINEAGE-----"
END = "-----END MLGATE LINEAGE-----"
SCHEMA = 1

OK = "ok"
MISSING = "missing"
CORRUPT = "corrupt"


@dataclass(frozen=True)
class Lineage:
    """What a tag message says about itself; ``data`` is empty unless ``status`` is ok."""

    status: str
    data: dict[str, Any] = field(default_factory=dict)
    problem: str = ""

    @property
    def metrics(self) -> dict[str, float]:
        """The numeric metrics recorded in the block (anything else is ignored)."""
        return numeric_items(self.data.get("metrics"))

    def get_str(self, key: str) -> str | None:
        value = self.data.get(key)
        return value if isinstance(value, str) else None


def numeric_items(value: object) -> dict[str, float]:
    if not isinstance(value, dict):
        return {}
    return {
        str(key): float(number)
        for key, number in value.items()
        if isinstance(number, (int, float))
        and not isinstance(number, bool)
        and math.isfinite(number)
    }


def render(summary: str, block: dict[str, Any], details: tuple[str, ...] = ()) -> str:
    """A tag message: the summary line, optional detail lines, then the lineage block."""
    if "\n" in summary or not summary.strip():
        raise ValueError("the summary must be one non-empty line")
    body = json.dumps(
        jsonable({"schema": SCHEMA, **block}), indent=1, sort_keys=True, allow_nan=False
    )
    parts = [summary.strip(), ""]
    if details:
        parts += [*details, ""]
    parts += [BEGIN, body, END, ""]
    return "\n".join(parts)


def jsonable(value: Any) -> Any:
    """``value`` as strict JSON: NaN/infinity and non-JSON types (YAML dates...) become text."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def parse(message: str) -> Lineage:
    """Read the lineage block back from a tag message, never raising."""
    start = message.find(BEGIN)
    if start < 0:
        if END in message:
            return Lineage(CORRUPT, problem="lineage block has an end marker but no begin marker")
        return Lineage(MISSING, problem="no lineage block")
    body_start = start + len(BEGIN)
    end = message.find(END, body_start)
    if end < 0:
        return Lineage(CORRUPT, problem="lineage block is not terminated")
    try:
        data = json.loads(message[body_start:end])
    except (ValueError, RecursionError) as exc:
        return Lineage(CORRUPT, problem=f"lineage block is not valid JSON ({exc})")
    if not isinstance(data, dict):
        return Lineage(CORRUPT, problem="lineage block is not a JSON object")
    schema = data.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
        return Lineage(CORRUPT, problem="lineage block has no valid 'schema' number")
    return Lineage(OK, data)


def summary_line(message: str) -> str:
    """The human first line of a tag message."""
    for line in message.splitlines():
        if line.strip():
            return line.strip()
    return ""
