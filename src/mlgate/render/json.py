"""The JSON outputs: ``check``, ``history`` and ``show`` with ``--format json``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mlgate.lineage import jsonable

if TYPE_CHECKING:
    from mlgate.api import CheckResult
    from mlgate.history import History, Shown


def dumps(value: Any, sort_keys: bool = False) -> str:
    """``value`` as strict JSON: a NaN or infinity (a metric, or a lineage block another tool
    wrote) becomes text, since no JSON parser but Python's reads NaN."""
    return _for_logs(json.dumps(jsonable(value), indent=2, sort_keys=sort_keys, allow_nan=False))


def _for_logs(text: str) -> str:
    """JSON text with every '##[' written '##\\u005b', the same JSON: GitHub Actions runs
    '##[' anywhere in a line a step prints as a workflow command (see render.text.escaped;
    json.dumps already escapes the newlines a line could start '::' after). Outside its
    strings JSON has no '#', so only text inside them changes."""
    return text.replace("##[", "##\\u005b")


def check(result: CheckResult) -> str:
    return dumps(result.as_dict())


def history(listing: History) -> str:
    # Without jsonable's walk: an entry holds only text and finite numbers (metrics pass
    # gates.as_number), and allow_nan=False would refuse anything else. Listing every metric
    # (77 per release in bench_registry) made that walk a third of `history --format json`.
    entries = [entry.as_dict() for entry in listing.entries]
    return _for_logs(json.dumps(entries, indent=2, allow_nan=False))


def show(shown: Shown) -> str:
    block = shown.record.block if shown.record else {}
    return dumps({**shown.entry.as_dict(), "block": block}, sort_keys=True)
