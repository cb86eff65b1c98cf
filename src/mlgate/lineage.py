"""The machine-readable lineage block carried in a release (or stage) tag's message.

A tag message is a human first line, optional human lines, then one block::

    income-model v1.3.0: gates passed against income-model@v1.2.0 (9 rules)

    -----BEGIN MLGATE LINEAGE-----
    {"commit": "...", "metrics": {...}, "gates": {...}, ...}
    -----END MLGATE LINEAGE crc32:0a1b2c3d-----

GTO keeps the whole message as free text, so the block does not disturb it; git keeps it
verbatim because mlgate creates tags with ``--cleanup=verbatim``. Reading is tolerant: a
message without a block, or with a damaged one (edited by hand, truncated, not JSON), gives a
``Lineage`` whose ``status`` says so instead of an exception, so one bad old tag never breaks
``mlgate history``. The CRC-32 of the JSON text on the end line detects any change to it
(accidental, not malicious: tags can be signed for that), which lets ``headline`` read just the
metrics of 1,000 blocks without parsing everything else in them. Everything here is pure.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from mlgate.gates import as_number

BEGIN = "-----BEGIN MLGATE LINEAGE-----"
END_PREFIX = "-----END MLGATE LINEAGE"
END = f"{END_PREFIX}-----"  # the end line without a checksum (accepted when reading)
SCHEMA = 1


class _KeyTwice(ValueError):
    """A JSON object that writes one key twice: json keeps the last, a reader of the text may
    see the first, so such a block says two things and is believed in neither."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        keys = [key for key, _ in pairs]
        twice = next(key for key in keys if keys.count(key) > 1)
        raise _KeyTwice(f"lineage block writes key '{twice}' twice")
    return found


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys)
_IDENTITY_KEYS = ("commit", "version")  # what ties a release block to its tag


class Status(Enum):
    """Whether a tag message carries a lineage block mlgate can believe."""

    OK = "ok"
    MISSING = "missing"  # no block: a tag mlgate did not make
    CORRUPT = "corrupt"  # a block, damaged or copied from another tag


OK, MISSING, CORRUPT = Status.OK, Status.MISSING, Status.CORRUPT


@dataclass(frozen=True)
class Lineage:
    """What a tag message says about itself; ``data`` is empty unless ``status`` is ok."""

    status: Status
    data: dict[str, Any] = field(default_factory=dict)
    problem: str = ""

    @property
    def metrics(self) -> dict[str, float]:
        """The numeric metrics recorded in the block (anything else is ignored)."""
        return numeric_items(self.data.get("metrics"))

    def get_str(self, key: str) -> str | None:
        value = self.data.get(key)
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class LockedInput:
    """A dependency of the release's pipeline as ``dvc.lock`` recorded it."""

    path: str
    hash: str
    stage: str


@dataclass(frozen=True)
class GateRecord:
    """One gate as a release's block records its verdict."""

    metric: str
    value: float | None
    baseline: float | None
    outcome: str  # PASS, FAIL, WARN (a failed warn-severity rule) or SKIP, as render words it
    reason: str

    @classmethod
    def from_rule(cls, rule: dict[str, Any]) -> GateRecord:
        if rule.get("skipped") is True:
            outcome = "SKIP"
        elif rule.get("passed") is True:
            outcome = "PASS"
        else:
            outcome = "WARN" if rule.get("severity") == "warn" else "FAIL"
        return cls(
            str(rule.get("metric", "?")),
            as_number(rule.get("value")),
            as_number(rule.get("baseline")),
            outcome,
            str(rule.get("reason") or ""),
        )


@dataclass(frozen=True)
class ReleaseRecord:
    """A release's verified lineage block, read once into what ``mlgate show`` reports.

    A block is anyone's text (a tag message), so every field is checked here, never by a
    caller: a value of the wrong shape reads as absent, as it did when only printed.
    """

    block: dict[str, Any]  # the whole block, as ``show --format json`` gives it
    gates_passed: bool
    baseline_ref: str | None  # None: no baseline recorded
    baseline_note: str | None
    rule_count: int
    model_path: str | None
    model_hash: str | None
    inputs: tuple[LockedInput, ...]  # the ``dep`` entries of dvc.lock, by path
    params: tuple[tuple[str, int], ...]  # (params file, how many values it recorded)
    # Recorded since model cards (``model_card`` in the block); None in older blocks.
    card_path: str | None = None
    card_hash: str | None = None
    gate_rules: tuple[GateRecord, ...] = ()

    @classmethod
    def from_block(cls, block: dict[str, Any]) -> ReleaseRecord:
        gates = _mapping(block.get("gates"))
        baseline = gates.get("baseline")
        model = _mapping(block.get("model"))
        rules = gates.get("rules")
        locked = _mapping(block.get("dvc_lock"))
        card = _mapping(block.get("model_card"))
        return cls(
            block=block,
            gates_passed=bool(gates.get("passed")),
            baseline_ref=str(baseline.get("ref"))
            if isinstance(baseline, dict) and baseline
            else None,
            baseline_note=_text(gates.get("baseline_note")),
            rule_count=len(rules) if isinstance(rules, (list, dict, str)) else 0,
            model_path=_text(model.get("path")),
            model_hash=_text(model.get("hash")),
            inputs=tuple(
                LockedInput(str(path), str(spec.get("hash")), str(spec.get("stage")))
                for path, spec in sorted(locked.items())
                if isinstance(spec, dict) and spec.get("kind") == "dep"
            ),
            params=tuple(
                (str(path), len(values) if isinstance(values, dict) else 0)
                for path, values in _mapping(block.get("params")).items()
            ),
            card_path=_text(card.get("path")),
            card_hash=_text(card.get("hash")),
            gate_rules=tuple(
                GateRecord.from_rule(rule)
                for rule in (rules if isinstance(rules, list) else [])
                if isinstance(rule, dict)
            ),
        )


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    """A recorded value as text; None when absent or empty (printed as a placeholder)."""
    return str(value) if value else None


def numeric_items(value: object) -> dict[str, float]:
    """The finite numbers of a mapping; a tag message is anyone's text, so NaN, infinities
    and integers beyond every float (which ``float()`` refuses) are left out, not raised."""
    if not isinstance(value, dict):
        return {}
    numbers = {str(key): as_number(number) for key, number in value.items()}
    return {key: number for key, number in numbers.items() if number is not None}


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
    parts += [BEGIN, body, f"{END_PREFIX} crc32:{_crc(body)}-----", ""]
    return "\n".join(parts)


def _crc(text: str) -> str:
    return f"{zlib.crc32(text.encode('utf-8')):08x}"


def _block(message: str) -> tuple[str, str | None] | Lineage:
    """The JSON text between the markers and the checksum on the end line (if any)."""
    start = message.find(BEGIN)
    if start < 0:
        if END_PREFIX in message:
            return Lineage(CORRUPT, problem="lineage block has an end marker but no begin marker")
        return Lineage(MISSING, problem="no lineage block")
    body_start = start + len(BEGIN)
    end = message.find(END_PREFIX, body_start)
    line_end = message.find("-----", end + len(END_PREFIX)) if end >= 0 else -1
    if end < 0 or line_end < 0:
        return Lineage(CORRUPT, problem="lineage block is not terminated")
    checksum = message[end + len(END_PREFIX) : line_end].strip()
    body = message[body_start:end].strip("\n")
    if not checksum:
        return body, None
    if not checksum.startswith("crc32:"):
        return Lineage(CORRUPT, problem=f"lineage end line has an unknown checksum '{checksum}'")
    return body, checksum.removeprefix("crc32:")


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
    found = _block(message)
    if isinstance(found, Lineage):
        return found
    body, checksum = found
    if checksum is not None and checksum != _crc(body):
        return Lineage(CORRUPT, problem="lineage block was modified (checksum mismatch)")
    return _parse_json(body)


def headline(message: str) -> Lineage:
    """Like ``parse``, but reads only ``metrics``, ``commit`` and ``version`` when the
    checksum vouches for the rest; a block without a checksum, or not laid out as ``render``
    writes it, is parsed in full. A key written twice among those it reads (or inside them)
    makes the block corrupt, as ``parse`` finds any key written twice.

    The one speed trick of the registry, kept because measured: on the 1,000 lineage tags of
    ``benchmarks/bench_registry.py`` (12 KB each) this reads them in 0.054 s of CPU where
    ``parse`` takes 0.117 s, a fifth of the 0.3 s ``mlgate history`` may take in all.
    """
    found = _block(message)
    if isinstance(found, Lineage) or found[1] != _crc(found[0]) or found[0][:1] != "{":
        return parse(message)  # no block, no checksum, a wrong one, or not render's layout
    body = found[0]
    data: dict[str, Any] = {}
    try:
        for key in ("metrics", *_IDENTITY_KEYS):
            marker = f'\n "{key}": '  # a top-level key: indented by one space, as render writes
            at = body.find(marker)
            if at >= 0:
                if body.find(marker, at + len(marker)) >= 0:  # written twice: parse says so
                    return _parse_json(body)
                data[key], _ = _DECODER.raw_decode(body, at + len(marker))
    except (ValueError, RecursionError):
        return _parse_json(body)
    return Lineage(OK, data) if "metrics" in data else _parse_json(body)


def verified_for(block: Lineage, sha: str, version: str) -> Lineage:
    """``block`` if it was written for this commit and version, else a corrupt Lineage: a
    block copied onto another tag must not lend that tag its metrics (the checksum only
    proves the block is intact, not where it belongs)."""
    if block.status != OK:
        return block
    recorded = {key: block.get_str(key) for key in _IDENTITY_KEYS}
    expected = {"commit": sha, "version": version}
    for key in _IDENTITY_KEYS:
        if recorded[key] is not None and recorded[key] != expected[key]:
            return Lineage(
                CORRUPT,
                problem=f"lineage block records {key} {recorded[key]}, not this tag's "
                f"{expected[key]} (copied from another tag?)",
            )
    return block


def _parse_json(body: str) -> Lineage:
    try:
        data = _DECODER.decode(body)
    except _KeyTwice as exc:
        return Lineage(CORRUPT, problem=str(exc))
    except (ValueError, RecursionError) as exc:
        return Lineage(CORRUPT, problem=f"lineage block is not valid JSON ({exc})")
    if not isinstance(data, dict):
        return Lineage(CORRUPT, problem="lineage block is not a JSON object")
    schema = data.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
        return Lineage(CORRUPT, problem="lineage block has no valid 'schema' number")
    return Lineage(OK, data)
