"""``mlgate experiments`` in its three formats: an aligned table, JSON, Markdown."""

from __future__ import annotations

from typing import Any

import click

from mlgate.api import ABSENT, ParamRow
from mlgate.experiments import Ranked, Ranking
from mlgate.gates import fmt
from mlgate.render import json as json_render
from mlgate.render import markdown, text

VERDICT = {True: "PASS", False: "FAIL", None: "ERROR"}
_COLOUR = {"PASS": "green", "FAIL": "red", "ERROR": "yellow"}


def _verdict(ranked: Ranked) -> str:
    return VERDICT[ranked.passed if ranked.result is not None else None]


def _param_value(value: Any) -> str:
    return "(absent)" if value is ABSENT else fmt(value) if isinstance(value, float) else str(value)


def _params(rows: list[ParamRow]) -> str:
    return ", ".join(f"{row.key}={_param_value(row.head)}" for row in rows) or "–"


def _why(ranked: Ranked) -> str:
    if ranked.error is not None:
        return ranked.error
    return ", ".join(ranked.failing) or "–"


def _against(ranking: Ranking) -> str:
    if ranking.baseline is not None:
        return f"baseline {ranking.baseline.ref} ({ranking.baseline.sha[:8]})"
    return f"no baseline: {ranking.baseline_note}"


def _summary(ranking: Ranking) -> str:
    passing = sum(ranked.passed for ranked in ranking.experiments)
    return (
        f"{passing} of {len(ranking.experiments)} experiment(s) {ranking.scope} pass the "
        f"gates of {ranking.gates_source}, {_against(ranking)}"
    )


def as_text(ranking: Ranking, colour: bool = False, columns: int | None = None) -> str:
    main = ranking.main_metric or "main metric"
    headers = ["#", "verdict", "experiment", main, "changed params", "failing gates"]
    rows, colours = [], []
    for place, ranked in enumerate(ranking.experiments, 1):
        word = _verdict(ranked)
        rows.append(
            [
                str(place),
                word,
                f"{ranked.experiment.name} ({ranked.experiment.sha[:7]})",
                fmt(ranked.main_value),
                _params(ranked.params),
                _why(ranked),
            ]
        )
        colours.append(_COLOUR[word] if colour else None)
    lines = [text.escaped(note) for note in ranking.notes]
    if rows:
        lines.append(text.table(headers, rows, colours, columns, wrapping=(2, 4, 5)))
    summary = text.fill(text.escaped(_summary(ranking)), columns)
    if colour:
        tint = "green" if ranking.passed else "red"
        summary = [click.style(line, fg=tint, bold=True) for line in summary]
    return "\n\n".join([*lines, "\n".join(summary)])


def as_dict(ranking: Ranking) -> dict[str, Any]:
    """The JSON contract of ``mlgate experiments --format json``."""
    return {
        "passed": ranking.passed,
        "main_metric": ranking.main_metric,
        "direction": ranking.direction,
        "baseline": ranking.baseline.as_dict() if ranking.baseline else None,
        "baseline_note": ranking.baseline_note,
        "scope": ranking.scope,
        "experiments": [
            {
                "rank": place,
                "name": ranked.experiment.name,
                "sha": ranked.experiment.sha,
                "parent": ranked.experiment.parent,
                "verdict": _verdict(ranked).lower(),
                "main_value": ranked.main_value,
                "params": {
                    row.key: {
                        "baseline": None if row.base is ABSENT else row.base,
                        "experiment": None if row.head is ABSENT else row.head,
                    }
                    for row in ranked.params
                },
                "failing": ranked.failing,
                "error": ranked.error,
                "rules": [rule.as_dict() for rule in ranked.result.rules] if ranked.result else [],
            }
            for place, ranked in enumerate(ranking.experiments, 1)
        ],
        "notes": ranking.notes,
    }


def as_json(ranking: Ranking) -> str:
    return json_render.dumps(as_dict(ranking))


def _md_param(row: ParamRow) -> str:
    items = markdown.param_change(row.base, row.head)
    change = items or f"{_param_value(row.base)} → {_param_value(row.head)}"
    return f"{markdown.code(row.key)}: {items if items else markdown.plain(change)}"


def as_markdown(ranking: Ranking) -> str:
    icon = {"PASS": "✅", "FAIL": "❌", "ERROR": "⚠️"}
    main = ranking.main_metric or "main metric"
    rows = [
        [
            f"{icon[_verdict(ranked)]} {place}",
            markdown.code(ranked.experiment.name),
            markdown.number(ranked.main_value),
            "<br>".join(_md_param(row) for row in ranked.params) or "–",
            markdown.plain(_why(ranked)),
        ]
        for place, ranked in enumerate(ranking.experiments, 1)
    ]
    parts = [f"**{markdown.plain(_summary(ranking))}**"]
    parts += [markdown.plain(note) for note in ranking.notes]
    if rows:
        headers = ["Verdict", "Experiment", markdown.plain(main), "Changed params", "Failing"]
        parts.append(markdown.md_table(headers, rows))
    return markdown.for_logs("\n\n".join(parts) + "\n")
