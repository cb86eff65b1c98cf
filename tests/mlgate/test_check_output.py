"""Rendering a check: the terminal table (plain and coloured) and Markdown."""

from __future__ import annotations

from mlgate.api import BaselineRef, CheckResult
from mlgate.gates import MISSING, Rule, evaluate, verdict
from mlgate.render.markdown import _size
from mlgate.render.markdown import check as render_check_md
from mlgate.render.text import check as render_check
from mlgate.render.text import table, width

RELEASE = BaselineRef("m@v1.0.0", "a" * 40)


def result(baseline: BaselineRef | None = RELEASE) -> CheckResult:
    rules = [
        evaluate(Rule("roc_auc", "higher", min=0.92, max_regression=0.005), 0.91, 0.93),
        evaluate(Rule("latency.p95_ms", "lower", max=10, severity="warn"), 12.5, 11.0),
        evaluate(Rule("f1", "higher", max_regression_pct=1), 0.7, MISSING, "no release yet"),
        evaluate(Rule("accuracy", "higher", min=0.8), 0.9, 0.9),
    ]
    return CheckResult(verdict(rules), baseline, rules, {"roc_auc": 0.91})


def test_plain_table_is_aligned_and_uncoloured() -> None:
    text = render_check(result())
    lines = text.splitlines()
    assert "\x1b[" not in text
    header, rule, *rows = lines[: 2 + 4]
    assert rule.replace(" ", "").strip("-") == ""
    value_col = header.index("value")
    assert all(row[value_col - 2 : value_col] == "  " for row in rows)
    assert [row.split()[0] for row in rows] == ["FAIL", "WARN", "SKIP", "PASS"]
    assert lines[-1] == (
        "FAILED: 1 of 4 gate(s) on working tree, baseline m@v1.0.0 (aaaaaaaa); 1 warning(s)"
    )


def test_coloured_table_when_asked() -> None:
    text = render_check(result(), colour=True)
    assert "\x1b[31m" in text and "\x1b[32m" in text and "\x1b[33m" in text


def test_table_pads_by_display_width() -> None:
    assert width("é") == 1 and width("漢") == 2 and width("e\u0301") == 1
    lines = table(["a", "b"], [["漢", "x"], ["ab", "y"]]).splitlines()
    assert width(lines[2][: lines[2].index("x")]) == width(lines[3][: lines[3].index("y")]) == 4


def test_markdown_check() -> None:
    text = render_check_md(result(None))
    assert text.splitlines()[0].startswith("❌ **1 of 4 gates fail**, ⚠️ 1 warning(s) — no baseline")
    assert "| `roc_auc` |" not in text and "| roc_auc | 0.93 | 0.91 | -0.02 (-2.2%) |" in text
    assert "⏭️" in text and "✅" in text and "❌" in text
    # as the report's gates table: the verdict first, reasons of those not passing below
    assert "| Status | Metric | Baseline | working tree | Change | Rule |" in text
    assert "| ❌ FAIL | roc_auc | 0.93 | 0.91 |" in text and "| ✅ PASS | accuracy |" in text
    assert text.rstrip().splitlines()[-1] == "- ⏭️ `f1`: " + result(None).rules[2].reason


def test_sizes() -> None:
    assert [_size(None), _size(10), _size(2048), _size(5 * 1024**3)] == [
        "—",
        "10 B",
        "2.0 KB",
        "5.0 GB",
    ]


def test_one_table_renderer_measures_ascii_by_length_and_the_rest_by_display_width() -> None:
    """The ASCII fast path (a 1,000-row history) aligns exactly as the wide-character path."""
    rows = [["v1.0.0", "0.93"], ["v10.0.0", "漢字"], ["v2", "e\u0301"]]
    lines = table(["version", "value"], rows).splitlines()
    assert lines[:2] == ["version  value", "-------  -----"]
    assert lines[2] == "v1.0.0   0.93"
    assert [width(line) for line in lines[3:]] == [13, 10]
