"""Markdown: a check (``mlgate check --format md``), the pull-request report and a release's
model card (``mlgate show --format md``).

Pure functions from an operation's typed result (``CheckResult``, ``ReportData``) to text;
nothing here touches git or files.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from mlgate.api import ABSENT, CheckResult, MetricRow, ParamRow, ReportData
from mlgate.gates import HIGHER, fmt
from mlgate.render import STALE, status_word
from mlgate.render import stale_stages as stale_text

if TYPE_CHECKING:
    from mlgate.history import ReleaseCard, Shown

ICON = {"PASS": "✅", "FAIL": "❌", "WARN": "⚠️", "SKIP": "⏭️"}


MAX_CELL = 300
# '<' that could open an HTML tag or comment: GitHub renders HTML inside Markdown, so a metric
# named '<!--' would hide the rest of the report. A '<' before a space ("0.91 < min") is text.
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def plain(text: object) -> str:
    """Text from the project (metric names, param values, reasons) shown as itself: on one
    line, opening no HTML tag and no code span."""
    one_line = " ".join(str(text).splitlines())
    # an entity, not a backslash escape: cell() doubles every backslash
    return _TAG_START.sub("&lt;", one_line).replace("`", "&#96;")


def code(text: object) -> str:
    """Text from the project as an inline code span (where HTML is not interpreted), fenced
    by more backticks than it holds (CommonMark), on one line."""
    one_line = " ".join(str(text).splitlines())
    fence = "`" * (max(map(len, re.findall("`+", one_line)), default=0) + 1)
    pad = " " if len(fence) > 1 else ""
    return f"{fence}{pad}{one_line}{pad}{fence}"


def for_logs(markdown: str) -> str:
    """``markdown`` with a zero-width space inside every '##[': GitHub Actions runs '##['
    anywhere in a line a step prints as a workflow command (see render.text.escaped), and
    ``check --format md`` or ``report`` print to one; the space shows as nothing, in a code
    span too. Lines cannot start with '::' here: ``plain`` and ``code`` keep text on its
    line, and every line starts with Markdown of ours."""
    return markdown.replace("##[", "##\u200b[")


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell, shortened past ``MAX_CELL`` characters."""
    if len(text) > MAX_CELL:
        text = text[: MAX_CELL - 1] + "…"
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [
        "| " + " | ".join(cell(h) for h in headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in rows)
    return "\n".join(lines)


DIGITS = 4  # significant digits of the numbers a reviewer reads in a table


def number(value: float | None, digits: int = DIGITS) -> str:
    """``value`` as a person reads it: ``digits`` significant digits, thousands separated,
    never in scientific notation (197,800 and 0.0001234, not 1.978e+05 and 1.234e-04);
    a whole number whole (16,281 rows)."""
    if value is None:
        return "–"
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    decimals = max(digits - 1 - math.floor(math.log10(abs(value))), 0)
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def signed(value: float, digits: int = DIGITS) -> str:
    text = number(value, digits)
    return text if text.startswith("-") else f"+{text}"


def percent(value: float) -> str:
    """A relative change as a reviewer reads it: one decimal ("+1,130%", "-1.8%"), two
    significant digits below one percent ("-0.53%"); more made the gates table too wide."""
    if abs(value) >= 1 or value == 0:
        text = f"{value:+,.1f}"
        return text[:-2] if text.endswith(".0") else text
    return signed(value, 2)


def delta(value: float | None, baseline: float | None) -> str:
    if value is None or baseline is None:
        return "–"
    diff = value - baseline
    if baseline != 0:
        return f"{signed(diff)} ({percent(diff / abs(baseline) * 100)}%)"
    return signed(diff)


def verdict_line(result: CheckResult) -> str:
    failed = [r for r in result.rules if r.failed]
    warned = [r for r in result.rules if not r.passed and not r.failed]
    if result.passed:
        text = f"✅ **All {len(result.rules)} gates pass**"
    else:
        text = f"❌ **{len(failed)} of {len(result.rules)} gates fail**"
    if warned:
        text += f", ⚠️ {len(warned)} warning(s)"
    if result.baseline is not None:
        text += f" — baseline {code(result.baseline.ref)} (`{result.baseline.sha[:8]}`)"
    else:
        text += f" — no baseline: {plain(result.baseline_note)}"
    return text


def stale_line(result: CheckResult, what: str) -> str:
    """The warning that goes first when the judged commit's dvc.lock does not match it
    ('' when it does): its metrics are an older run's, so a Δ of +0 means nothing."""
    if not result.stale:
        return ""
    return (
        f"> ⚠️ **{STALE[0].upper()}{STALE[1:]}.** `dvc.lock` does not match {what}, so its "
        f"metrics are not what its params and code produce: {stale_text(result.stale, code)}."
    )


def reasons(result: CheckResult) -> str:
    """The reasons of the gates that did not pass, one bullet each ('' when all pass): under
    the table, where a long one does not make the table wider than a comment (a passing
    gate's reason restates its rule)."""
    lines = []
    for rule_result in result.rules:
        word = status_word(rule_result)
        if word != "PASS":
            lines.append(f"- {ICON[word]} {code(rule_result.metric)}: {plain(rule_result.reason)}")
    return "\n".join(lines)


def check(result: CheckResult) -> str:
    """The check as the report's gates table has it: each gate's verdict first in its row,
    the reasons of those that did not pass under the table."""
    rows = [
        [
            f"{ICON[status_word(r)]} {status_word(r)}",
            plain(r.metric),
            number(r.baseline),
            number(r.value),
            delta(r.value, r.baseline),
            r.rule.describe(),
        ]
        for r in result.rules
    ]
    headers = ["Status", "Metric", "Baseline", result.rev_label, "Change", "Rule"]
    what = f"the judged commit ({plain(result.rev_label)})"
    parts = [stale_line(result, what), verdict_line(result), md_table(headers, rows)]
    return for_logs("\n\n".join(part for part in [*parts, reasons(result)] if part) + "\n")


# --- the pull-request report ----------------------------------------------------------------

MARKER = "<!-- mlgate-report -->"
# GitHub rejects comments over 65,536 characters; stay well below it.
MAX_CHARS = 60_000
_DETAIL_ROW_LIMITS = (None, 200, 50, 10)
FOLD_ROWS = 8


_YAML_SPECIAL = {"inf": ".inf", "-inf": "-.inf", "nan": ".nan"}


def _value(value: Any) -> str:
    if value is ABSENT:
        return "—"
    if isinstance(value, float):
        return _YAML_SPECIAL.get(str(value)) or fmt(value)
    if isinstance(value, str):
        return plain(value)
    # YAML's own spelling for the rest: true/false, null, [lists], {mappings}
    return json.dumps(value, sort_keys=True, default=str)


def _fold(summary: str, body: str, rows: int) -> str:
    if rows <= FOLD_ROWS:
        return body
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


def _limit(rows: list[Any], limit: int | None) -> tuple[list[Any], str]:
    if limit is None or len(rows) <= limit:
        return rows, ""
    return rows[:limit], f"\n\n_… {len(rows) - limit} more rows not shown (comment size limit)._"


def _release_apart(data: ReportData) -> bool:
    """Whether the latest release gets its own columns: not when there is none, nor when
    they would repeat the base's (the release is the base's commit, or every metric shown
    is the same at both)."""
    if data.release is None:
        return False
    if data.base is not None and data.release.sha == data.base.sha:
        return False
    rows = [*data.gate_rows, *data.other_metrics]
    return any(row.release != row.base for row in rows)


def _one_column_note(data: ReportData) -> str:
    """Why the release has no columns of its own ('' when it has, or there is none)."""
    if data.release is None or _release_apart(data):
        return ""
    if data.base is not None and data.release.sha == data.base.sha:
        return "_The latest release is the base's commit: one column for both._"
    release = code(data.release.label)
    return f"_The latest release, {release}, has the base's metrics: one column for both._"


def _metric_headers(data: ReportData) -> list[str]:
    if _release_apart(data):
        return ["Metric", "Base", "Head", "Δ base", "Δ release"]
    return ["Metric", "Base", "Head", "Δ base"]


def _metric_cells(row: MetricRow, release_apart: bool = True) -> list[str]:
    """Metric, base, head and the change(s): the cells every metric table starts with. The
    release's own value is head minus Δ release: as a column it made the gates table wider
    than a comment (873 px at 830, the repository's own gates, tests/mlgate/test_report_seen)."""
    cells = [code(row.key), number(row.base), number(row.head), delta(row.head, row.base)]
    return [*cells, delta(row.head, row.release)] if release_apart else cells


def _gates_section(data: ReportData) -> str:
    """The verdict of each gate first in its row, as a reviewer scans for it; the reasons of
    the gates that did not pass go under the table (``reasons``)."""
    by_metric = {row.key: row for row in data.gate_rows}
    apart = _release_apart(data)
    rows = []
    for result in data.check.rules:
        row = by_metric.get(result.metric, MetricRow(result.metric, None, None, result.value))
        word = status_word(result)
        rows.append([f"{ICON[word]} {word}", *_metric_cells(row, apart), result.rule.describe()])
    headers = ["Status", *_metric_headers(data), "Rule"]
    text = "### Gates\n\n" + md_table(headers, rows)
    note = _one_column_note(data)
    if note:
        text += f"\n\n{note}"
    return "\n\n".join(part for part in [text, reasons(data.check)] if part)


def _folded_table(
    title: str,
    items: list[Any],
    limit: int | None,
    headers: list[str],
    row: Callable[[Any], list[str]],
    summary: str,
) -> str:
    """A section whose table folds into <details>, cut to `limit` rows."""
    shown, more = _limit(items, limit)
    table = md_table(headers, [row(item) for item in shown]) + more
    return f"### {title}\n\n" + _fold(summary, table, len(items))


def _metrics_section(data: ReportData, limit: int | None) -> str:
    if not data.other_metrics:
        return "### Other metrics\n\nNo other metric changed."
    return _folded_table(
        "Other metrics",
        data.other_metrics,
        limit,
        _metric_headers(data),
        lambda row: _metric_cells(row, _release_apart(data)),
        f"{len(data.other_metrics)} other changed metrics",
    )


def _item(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def param_change(base: Any, head: Any) -> str:
    """Which items of a list or mapping param changed ("" for anything else): a whole list
    printed twice hides the one item that moved."""
    if isinstance(base, list) and isinstance(head, list):
        before, after = Counter(map(_item, base)), Counter(map(_item, head))
        added, removed = list((after - before).elements()), list((before - after).elements())
        parts = [*(f"+ {item}" for item in added), *(f"− {item}" for item in removed)]
        if not parts and base != head:
            parts = ["same items, reordered"]
        return plain("; ".join(parts))
    if isinstance(base, dict) and isinstance(head, dict):
        parts = []
        for key in sorted(set(base) | set(head), key=str):
            if key not in base:
                parts.append(f"+ {key}: {_value(head[key])}")
            elif key not in head:
                parts.append(f"− {key}")
            elif _item(base[key]) != _item(head[key]):
                parts.append(f"{key}: {_value(base[key])} → {_value(head[key])}")
        return plain("; ".join(parts))
    return ""


def _params_section(data: ReportData, limit: int | None) -> str:
    if not data.params:
        return "### Params\n\nNo parameter changed."
    changes = {id(p): param_change(p.base, p.head) for p in data.params}
    if not any(changes.values()):
        headers = ["Param", "Base", "Head"]

        def row(p: ParamRow) -> list[str]:
            return [code(p.key), _value(p.base), _value(p.head)]
    else:  # a list or mapping changed: say which items
        headers = ["Param", "Base", "Head", "Items changed"]

        def row(p: ParamRow) -> list[str]:
            return [code(p.key), _value(p.base), _value(p.head), changes[id(p)] or "–"]

    return _folded_table(
        "Params", data.params, limit, headers, row, f"{len(data.params)} changed params"
    )


def _size(size: int | None) -> str:
    if size is None:
        return "—"
    if size < 1024:
        return f"{size} B"
    scaled = float(size)
    for unit in ("KB", "MB", "GB"):
        scaled /= 1024
        if scaled < 1024 or unit == "GB":
            break
    return f"{scaled:.1f} {unit}"


def _lock_section(data: ReportData, limit: int | None) -> str:
    if not data.lock_changes:
        return "### Data and model\n\nNo data, model or code change recorded in `dvc.lock`."
    models = sum(1 for r in data.lock_changes if r.kind == "model")
    datas = sum(1 for r in data.lock_changes if r.kind == "data")
    return _folded_table(
        "Data and model",
        data.lock_changes,
        limit,
        ["Path", "Kind", "Stage", "Base", "Head", "Size"],
        lambda r: [
            code(r.path),
            r.kind,
            r.stage,
            (r.base or "—")[:8],
            (r.head or "—")[:8],
            f"{_size(r.base_size)} → {_size(r.head_size)}",
        ],
        f"{len(data.lock_changes)} changed files in dvc.lock ({models} model, {datas} data)",
    )


def _policy_section(data: ReportData) -> str:
    head = "### Gate policy"
    if data.policy_note:
        head += f"\n\n{data.policy_note}"
    if not data.policy:
        return head + "\n\nThe gates are unchanged." if not data.policy_note else head
    loosened = [c for c in data.policy if c.loosened]
    rows = [
        [
            code(c.metric) if c.metric else "(policy)",
            c.describe(),
            "⚠️ **loosened — review**" if c.loosened else "tightened or new",
        ]
        for c in data.policy
    ]
    lead = (
        f"⚠️ **This change loosens {len(loosened)} gate setting(s); a reviewer must approve.**"
        if loosened
        else "Gates changed (none loosened)."
    )
    return f"{head}\n\n{lead}\n\n" + md_table(["Gate", "Change", "Review"], rows)


# Mermaid's default xychart palette draws the line #ECECFF, invisible on GitHub's light theme.
# Mid-luminance colours read on both themes (white and #0d1117) at WCAG's 3:1 for graphics:
# blue for the metric (3.75 and 5.05), orange for the gate's bound (3.6 and 5.26; GitHub's
# #f0883e was 2.53 on white). tests/mlgate/test_report_seen.py measures them as drawn.
CHART_PALETTE = "#2f81f7, #d4691a"
CHART_INIT = (
    '%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "' + CHART_PALETTE + '"}}}}%%'
)


def mermaid_history(
    metric: str, points: list[tuple[str, float]], bound: float | None = None
) -> str:
    """A Mermaid ``xychart-beta`` line of one metric over releases (GitHub renders it), and
    the gate's ``bound`` as a second, flat line."""
    values = [value for _, value in points]
    low, high = min(values), max(values)
    if bound is not None:
        low, high = min(low, bound), max(high, bound)
    pad = (high - low) * 0.1 or abs(high) * 0.01 or 1.0
    labels = ", ".join(json.dumps(label) for label, _ in points)
    line = ", ".join(f"{value:.6g}" for value in values)
    metric = " ".join(metric.splitlines()).replace('"', "'")  # one quoted Mermaid string
    lines = [
        "```mermaid",
        CHART_INIT,
        "xychart-beta",
        f'    title "{metric} over releases"',
        f"    x-axis [{labels}]",
        f'    y-axis "{metric}" {low - pad:.6g} --> {high + pad:.6g}',
        f"    line [{line}]",
    ]
    if bound is not None:
        lines.append(f"    line [{', '.join([f'{bound:.6g}'] * len(values))}]")
    return "\n".join([*lines, "```"])


def _gate_bound(data: ReportData, metric: str) -> tuple[str, float] | None:
    """The first absolute bound a gate sets on ``metric``: its floor (``min``) when higher
    is better, its ceiling (``max``) when lower is."""
    for result in data.check.rules:
        rule = result.rule
        if rule.metric != metric:
            continue
        if rule.direction == HIGHER and rule.min is not None:
            return "floor", rule.min
        if rule.direction != HIGHER and rule.max is not None:
            return "ceiling", rule.max
    return None


def _history_section(data: ReportData) -> str:
    if not data.history_metric:
        return ""
    points = data.history
    if data.release is not None and data.release.sha == data.head.sha and points:
        # the head is the latest release: one point, under the version's name
        points = [point for point in points if point[0] != "head"]
    if len(points) < 2:
        return ""
    bound = _gate_bound(data, data.history_metric)
    chart = mermaid_history(data.history_metric, points, bound[1] if bound else None)
    at_head = " and at the head" if any(label == "head" for label, _ in points) else ""
    legend = f"Blue: the metric at each release{at_head}"
    if bound:
        legend += f"; orange: the gate's {bound[0]}, {number(bound[1])}"
    title = f"### {code(data.history_metric)} over the last releases"
    return f"{title}\n\n{chart}\n\n<sub>{legend}.</sub>"


def _header(data: ReportData) -> str:
    head = f"{code(data.head.label)} (`{data.head.sha[:8]}`)"
    base = (
        f"merge-base with {code(data.base_ref)} (`{data.base.sha[:8]}`)"
        if data.base
        else f"{code(data.base_ref)}: no common ancestor"
    )
    release = (
        f"latest release {code(data.release.label)} (`{data.release.sha[:8]}`)"
        if data.release
        else "no release yet"
    )
    stale = stale_line(data.check, "the head")
    lines = [MARKER, "## mlgate report", *([stale] if stale else []), verdict_line(data.check)]
    loosened = sum(1 for c in data.policy if c.loosened)
    if loosened:
        lines.append(f"⚠️ **{loosened} gate setting(s) loosened in this change — review below.**")
    lines.append(f"Head {head} · base: {base} · {release}.")
    lines.extend(f"> {note}" for note in data.notes)
    return "\n\n".join(lines)


def report(data: ReportData) -> str:
    """The pull-request comment, capped below GitHub's comment size limit."""
    text = ""
    for limit in _DETAIL_ROW_LIMITS:
        sections = [
            _header(data),
            _gates_section(data),
            _policy_section(data),
            _metrics_section(data, limit),
            _params_section(data, limit),
            _lock_section(data, limit),
            _history_section(data),
            f"<sub>mlgate {data.version}</sub>",
        ]
        text = "\n\n".join(s for s in sections if s) + "\n"
        if len(text) <= MAX_CHARS:
            return for_logs(text)
    return for_logs(truncate(text))


def truncate(text: str, limit: int = MAX_CHARS) -> str:
    """Cut at a line boundary below ``limit``, closing any open code block or <details>."""
    if len(text) <= limit:
        return text
    kept = text[: text.rfind("\n", 0, limit - 200)]
    closing = ""
    if kept.count("```") % 2:
        closing += "\n```"
    closing += "\n</details>" * (kept.count("<details>") - kept.count("</details>"))
    return kept + closing + "\n\n_… report truncated to fit GitHub's comment size limit._\n"


# --- a release's model card (``mlgate show --format md``) -----------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # all but tab and newline
MAX_GATE_ROWS = 200


def _as_text(card: str) -> str:
    """A card from a commit as Markdown to print: control characters (an escape sequence
    would reach the terminal) shown as Python escapes, CRLF line ends as LF."""
    one = card.replace("\r\n", "\n")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", one).rstrip("\n")


def _release_section(shown: Shown, card: ReleaseCard) -> str:
    entry, record = shown.entry, shown.record
    facts = [
        ["release", code(entry.tag)],
        ["commit", code(entry.sha)],
        ["date", plain(entry.date)],
        ["stages", ", ".join(code(s) for s in entry.stages) or "none"],
    ]
    if record is not None:
        model = code(record.model_path or "?")
        facts.append(["model", f"{model} md5 {code(record.model_hash or 'none recorded')}"])
        if card.path is not None:
            facts.append(["model card", f"{code(card.path)} md5 {code(record.card_hash or '?')}"])
    lines = ["## Release", "", md_table(["", ""], facts), ""]
    if record is None:
        return "\n".join([*lines, "No gate verdict: the release has no readable lineage block."])
    verdict = "✅ passed" if record.gates_passed else "❌ failed"
    against = (
        f"against {code(record.baseline_ref)}"
        if record.baseline_ref is not None
        else f"with no baseline ({plain(record.baseline_note or 'none recorded')})"
    )
    lines.append(f"### Gates: {verdict} {against}, {record.rule_count} rules")
    rows = [
        [
            plain(rule.metric),
            number(rule.value),
            number(rule.baseline),
            delta(rule.value, rule.baseline),
            f"{ICON.get(rule.outcome, '')} {plain(rule.reason)}",
        ]
        for rule in record.gate_rules[:MAX_GATE_ROWS]
    ]
    if rows:
        headers = ["Metric", "Value", "Baseline", "Change", "Status"]
        lines += ["", md_table(headers, rows)]
    if len(record.gate_rules) > MAX_GATE_ROWS:
        lines += ["", f"_… {len(record.gate_rules) - MAX_GATE_ROWS} more rules not shown._"]
    return "\n".join(lines)


def _lineage_card(shown: Shown, card: ReleaseCard) -> str:
    """A card built from what the release's tag says of it, for a release without one."""
    entry, record = shown.entry, shown.record
    if record is None:
        why = (
            f"its lineage block is corrupt ({plain(entry.problem)}); metrics from the files "
            "at its commit"
            if entry.problem
            else "its tag carries no lineage block (a tag mlgate did not make); metrics from "
            "the files at its commit"
        )
    elif card.path is None:
        why = "the release was made before the project had a model card (its lineage names none)"
    else:
        why = f"the card its lineage names cannot be shown: {plain(card.problem)}"
    lines = [
        f"# Model card: {code(entry.tag)}",
        "",
        f"> Built from the release's lineage alone: {why}.",
        "",
        "## Metrics",
        "",
        md_table(["metric", "value"], [[plain(k), fmt(v)] for k, v in entry.metrics.items()])
        if entry.metrics
        else "None recorded.",
    ]
    if record is not None and record.inputs:
        rows = [[code(i.path), code(i.hash), plain(i.stage)] for i in record.inputs]
        lines += ["", "## Data and code it was built from (dvc.lock)", ""]
        lines.append(md_table(["input", "md5", "stage"], rows))
    return "\n".join(lines)


def show(shown: Shown, card: ReleaseCard) -> str:
    """A release's model card followed by its gate verdict and baseline from its lineage;
    built from the lineage alone when the release has no readable card (and said so)."""
    body = _as_text(card.text) if card.text is not None else _lineage_card(shown, card)
    return for_logs(f"{body}\n\n{_release_section(shown, card)}\n")
