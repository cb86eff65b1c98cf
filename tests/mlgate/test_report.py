"""`mlgate report`: the pull-request Markdown, in scratch repos and from in-memory data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mlgate import api
from mlgate.cli import cli
from mlgate.render import markdown
from mlgate.render.markdown import MARKER, MAX_CHARS, mermaid_history
from tests.mlgate.repo_factory import DEFAULT_GATES, ScratchRepo, metrics_with


def report_md(root: Path, base: str, **options: Any) -> str:
    """The report's Markdown, as ``mlgate report`` prints it."""
    return markdown.report(api.report(root, base, **options))


@pytest.fixture
def pr_repo(scratch_repo: ScratchRepo) -> ScratchRepo:
    """main with two releases, and a feature branch that loosens gates and changes things."""
    scratch_repo.release(metrics_with(roc_auc=0.931), "v1.0.0")
    scratch_repo.release(metrics_with(roc_auc=0.936, accuracy=0.88), "v1.1.0")
    scratch_repo.git("checkout", "-q", "-b", "feature")
    gates = json.loads(json.dumps(DEFAULT_GATES))
    gates["rules"][0]["max_regression"] = 0.02
    gates["rules"][1]["min"] = 0.9
    scratch_repo.write_params(gates=gates, seed=2)
    scratch_repo.set_metrics(metrics_with(roc_auc=0.925, latency__p95_ms=11.0, extra=1.5))
    scratch_repo.repro()
    scratch_repo.commit("feature")
    return scratch_repo


def test_report_sections(pr_repo: ScratchRepo) -> None:
    text = report_md(pr_repo.root, "main")
    assert text.startswith(MARKER + "\n")
    lines = text.splitlines()
    verdict = next(line for line in lines if line.startswith(("✅", "❌")))
    assert verdict.startswith("❌ **1 of 4 gates fail**")  # accuracy 0.87 < new min 0.9
    # the verdict first; v1.1.0 is the base's commit, so no release columns repeat the base's
    assert "| Status | Metric | Base | Head | Δ base | Rule |" in text
    assert (
        "| ✅ PASS | `roc_auc` | 0.936 | 0.925 | -0.011 (-1.2%) | ↑ ≥ 0.92, Δ within -0.02 |"
        in text
    )
    assert "_The latest release is the base's commit: one column for both._" in text
    # reasons of the gates that did not pass, under the table rather than in a cell
    assert "- ⚠️ `latency.p95_ms`: 11 > max 10" in text
    assert "- ❌ `accuracy`: 0.87 < min 0.9" in text
    assert "✅ 0.925 ≥ min 0.92" not in text
    # loosened policy flagged, tightened not
    assert "| `roc_auc` | max_regression: 0.005 → 0.02 | ⚠️ **loosened — review** |" in text
    assert "| `accuracy` | min: 0.86 → 0.9 | tightened or new |" in text
    assert "| `extra` | – | 1.5 | – |" in text
    assert "| `train.seed` | 1 | 2 |" in text
    assert "gates." not in text.split("### Params")[1].split("###")[0]
    assert "| `models/model.bin` | model | train |" in text
    assert '    x-axis ["v1.0.0", "v1.1.0", "head"]' in text
    assert "    line [0.931, 0.936, 0.925]" in text
    assert "merge-base with `main`" in text and "latest release `demo-model@v1.1.0`" in text


def test_report_gives_the_release_its_columns_when_it_is_not_the_base(
    scratch_repo: ScratchRepo,
) -> None:
    scratch_repo.release(metrics_with(roc_auc=0.931), "v1.0.0")
    scratch_repo.set_metrics(metrics_with(roc_auc=0.94))
    scratch_repo.repro()
    scratch_repo.commit("main moves on, unreleased")
    scratch_repo.git("checkout", "-q", "-b", "feature")
    scratch_repo.set_metrics(metrics_with(roc_auc=0.935))
    scratch_repo.repro()
    scratch_repo.commit("feature")
    text = report_md(scratch_repo.root, "main")
    assert "| Status | Metric | Base | Head | Δ base | Δ release | Rule |" in text
    assert "| ✅ PASS | `roc_auc` | 0.94 | 0.935 | -0.005 (-0.53%) | +0.004 (+0.43%) |" in text
    assert "one column for both" not in text
    assert "\n- " not in text.split("### Gates")[1].split("###")[0]  # every gate passed


def test_report_gives_no_release_columns_that_repeat_the_base(scratch_repo: ScratchRepo) -> None:
    """The release is not the base's commit, but every metric is the same at both."""
    scratch_repo.release(metrics_with(roc_auc=0.931), "v1.0.0")
    scratch_repo.write("NOTES.md", "main moves on, its metrics do not\n")
    scratch_repo.commit("notes")
    scratch_repo.git("checkout", "-q", "-b", "feature")
    scratch_repo.set_metrics(metrics_with(roc_auc=0.935))
    scratch_repo.repro()
    scratch_repo.commit("feature")
    text = report_md(scratch_repo.root, "main")
    assert "| Status | Metric | Base | Head | Δ base | Rule |" in text
    assert "Δ release" not in text
    assert "_The latest release, `demo-model@v1.0.0`, has the base's metrics: one column" in text


def test_report_cli_writes_file_and_exits_0(
    pr_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(pr_repo.root)
    out = tmp_path / "report.md"
    result = CliRunner().invoke(cli, ["report", "--base", "main", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert out.read_text().startswith(MARKER)
    same = CliRunner().invoke(cli, ["report", "--base", "main", "--head", "feature"])
    assert same.stdout == out.read_text().replace("Head `HEAD`", "Head `feature`")


def test_report_with_no_release_and_no_changes(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = report_md(scratch_repo.root, "main")
    assert "no release yet" in text
    assert "The gates are unchanged." in text
    assert "No other metric changed." in text and "No parameter changed." in text
    assert "No data, model or code change" in text
    assert "mermaid" not in text  # nothing to chart without releases


def test_report_unknown_base_exits_2(
    scratch_repo: ScratchRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(scratch_repo.root)
    result = CliRunner().invoke(cli, ["report", "--base", "nope"])
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        == "mlgate: error: unknown git ref 'nope' (no such branch, tag or commit)"
    )


def test_report_is_capped_and_folds_long_sections(scratch_repo: ScratchRepo) -> None:
    many = metrics_with(**{f"m{i:05d}": float(i) for i in range(6000)})
    scratch_repo.git("checkout", "-q", "-b", "big")
    scratch_repo.set_committed_metrics(many)
    scratch_repo.commit("thousands of metrics")
    text = report_md(scratch_repo.root, "main")
    assert len(text) <= MAX_CHARS < 65_536
    assert "<details><summary>6000 other changed metrics</summary>" in text
    assert "more rows not shown (comment size limit)" in text
    assert text.count("<details>") == text.count("</details>")


def test_mermaid_history_axis_covers_values() -> None:
    chart = mermaid_history("auc", [("v1", 0.9), ("head", 0.95)])
    assert chart.splitlines()[1].startswith("%%{init: ") and "plotColorPalette" in chart
    assert chart.splitlines()[2] == "xychart-beta"
    assert 'x-axis ["v1", "head"]' in chart
    low, high = chart.split('y-axis "auc" ')[1].split("\n")[0].split(" --> ")
    assert float(low) < 0.9 and float(high) > 0.95
    flat = mermaid_history("n", [("v1", 2.0), ("head", 2.0)])
    assert 'y-axis "n" 1.98 --> 2.02' in flat


def test_param_values_are_shown_as_yaml_would_write_them() -> None:
    from mlgate.api import ABSENT
    from mlgate.render.markdown import _value

    assert [_value(v) for v in (True, None, [1, "a"], {"b": 1}, 0.5, 3, "x", ABSENT)] == [
        "true",
        "null",
        '[1, "a"]',
        '{"b": 1}',
        "0.5",
        "3",
        "x",
        "—",
    ]
    nonfinite = (float("inf"), float("-inf"), float("nan"))
    assert [_value(v) for v in nonfinite] == [".inf", "-.inf", ".nan"]


def test_non_finite_params_are_reported_and_nan_is_not_a_change(
    scratch_repo: ScratchRepo,
) -> None:
    scratch_repo.write("params.yaml", scratch_repo.read("params.yaml") + "tune:\n  lr: .nan\n")
    scratch_repo.commit("nan param")
    scratch_repo.git("branch", "base")
    text = scratch_repo.read("params.yaml").replace("seed: 1", "seed: .inf")
    scratch_repo.write("params.yaml", text)
    scratch_repo.commit("inf param")
    report = report_md(scratch_repo.root, "base")
    assert "| `train.seed` | 1 | .inf |" in report
    assert "tune.lr" not in report  # .nan at both ends: unchanged


def test_truncate_closes_open_blocks_and_cells_are_capped() -> None:
    from mlgate.render.markdown import MAX_CELL, cell, truncate

    text = "a\n<details>\n\n```mermaid\n" + "x\n" * 1000
    cut = truncate(text, limit=500)
    assert len(cut) < 500
    assert cut.count("```") % 2 == 0 and cut.count("<details>") == cut.count("</details>")
    assert truncate("short", limit=500) == "short"
    assert len(cell("y" * 10_000)) == MAX_CELL and cell("a|b\nc") == "a\\|b c"


def test_report_against_unrelated_history_and_with_gates_file(scratch_repo: ScratchRepo) -> None:
    scratch_repo.git("checkout", "-q", "--orphan", "elsewhere")
    scratch_repo.commit("unrelated root")
    scratch_repo.git("checkout", "-q", "main")
    scratch_repo.write(
        "strict.yaml",
        {"gates": {"rules": [{"metric": "accuracy", "direction": "higher", "min": 0.99}]}},
    )
    text = report_md(scratch_repo.root, "elsewhere", gates_file=scratch_repo.root / "strict.yaml")
    assert "share no history: comparing with `elsewhere` itself" in text
    assert "❌ **1 of 1 gates fail**" in text
    assert "policy changes are not compared" in text


def test_report_shows_params_of_nested_and_foreach_templated_files(
    scratch_repo: ScratchRepo,
) -> None:
    """A param changed in a nested dvc.yaml's params file, or in a file a foreach stage
    names through ${item}, is in the Params table (as in `dvc params diff`)."""
    scratch_repo.write(
        "sub/dvc.yaml",
        {
            "stages": {
                "fit": {"cmd": "true", "params": [{"cfg.yaml": ["depth"]}]},
                "each": {
                    "foreach": ["x", "y"],
                    "do": {"cmd": "true", "params": [{"each/${item}.yaml": ["k"]}]},
                },
            }
        },
    )
    scratch_repo.write("sub/cfg.yaml", {"depth": 3})
    scratch_repo.write("sub/each/x.yaml", {"k": 1})
    scratch_repo.write("sub/each/y.yaml", {"k": 2})
    scratch_repo.commit("nested pipeline")
    scratch_repo.git("checkout", "-q", "-b", "feature")
    scratch_repo.write("sub/cfg.yaml", {"depth": 4})
    scratch_repo.write("sub/each/y.yaml", {"k": 5})
    scratch_repo.commit("tune the nested pipeline")
    text = report_md(scratch_repo.root, "main")
    params = text.split("### Params")[1].split("###")[0]
    assert "| `sub/cfg.yaml:depth` | 3 | 4 |" in params
    assert "| `sub/each/y.yaml:k` | 2 | 5 |" in params
    assert "sub/each/x.yaml" not in params
    changed = json.loads(scratch_repo.dvc("params", "diff", "main", "--json").stdout)
    assert changed == {
        "sub/cfg.yaml": {"depth": {"old": 3, "new": 4, "diff": 1}},
        "sub/each/y.yaml": {"k": {"old": 2, "new": 5, "diff": 3}},
    }


HOSTILE = ["x<!--", "y</details>", "z`|`w", "a\rb", "<img src=x onerror=alert(1)>"]


def _outside_code_spans(text: str) -> str:
    """The Markdown with inline code spans (any fence length) removed."""
    import re

    return re.sub(r"(`+)(?:(?!\1).)+?\1", "", text)


def test_hostile_metric_names_and_param_values_show_as_text(scratch_repo: ScratchRepo) -> None:
    """Metric names and param values are the pull request's to choose; GitHub renders HTML
    in Markdown, so none may open a comment or a tag (which would hide the failing gates), a
    code span or a new line of the report."""
    scratch_repo.release(metrics_with(), "v1.0.0")
    scratch_repo.git("checkout", "-q", "-b", "feature")
    hostile = {name: 0.5 for name in HOSTILE}
    scratch_repo.set_metrics({**metrics_with(roc_auc=0.9), **hostile})
    note = "<!-- hidden `x`"
    scratch_repo.write("params.yaml", {"train": {"seed": 1, "note": note}, "gates": DEFAULT_GATES})
    scratch_repo.repro()
    scratch_repo.commit("feature")
    text = report_md(scratch_repo.root, "main")
    assert "❌ **1 of 4 gates fail**" in text  # roc_auc 0.9 < min 0.92, still shown
    bare = _outside_code_spans(text)
    assert bare.count("<!--") == 1 and bare.startswith(MARKER)  # the report's own marker
    assert "</details>" not in bare.replace("\n</details>", "")  # only the report's folds
    assert "<img" not in bare and "\r" not in text
    assert "| `train.note` | — | &lt;!-- hidden &#96;x&#96; |" in text  # a param value, as text
    for name in ("x<!--", "y</details>", "<img src=x onerror=alert(1)>"):
        assert f"`{name}`" in text
    assert "`` z`|`w ``" in text.replace("\\|", "|")


def test_numbers_read_as_a_person_reads_them() -> None:
    """Four significant digits, thousands separated, never 1.978e+05 (issue 21)."""
    assert [markdown.number(v) for v in (None, 0.927514, 12.7006, 0.0001234, 16281.0)] == [
        "–",
        "0.9275",
        "12.7",
        "0.0001234",
        "16,281",
    ]
    assert markdown.number(1234.5678) == "1,235" and markdown.number(-197800.0) == "-197,800"
    assert markdown.delta(104512.0, 302312.0) == "-197,800 (-65.4%)"
    assert markdown.delta(0.935, 0.931) == "+0.004 (+0.43%)"
    assert markdown.delta(5.0, 5.0) == "+0 (+0%)" and markdown.delta(0.1, 0.0) == "+0.1"
    assert markdown.delta(3000.0, 1.0) == "+2,999 (+299,900%)"
    assert markdown.delta(0.925, 0.94) == "-0.015 (-1.6%)"
    assert markdown.delta(-0.5, 1.0) == "-1.5 (-150%)"


def test_mermaid_history_draws_the_gates_bound_in_visible_colours() -> None:
    chart = mermaid_history("auc", [("v1", 0.93), ("v2", 0.94), ("head", 0.95)], bound=0.92)
    init = json.loads(chart.splitlines()[1].removeprefix("%%{init: ").removesuffix("}%%"))
    palette = init["themeVariables"]["xyChart"]["plotColorPalette"].split(", ")
    # neither the light (#ffffff) nor the dark (#0d1117) background, nor Mermaid's #ECECFF
    assert not {colour.lower() for colour in palette} & {"#ffffff", "#0d1117", "#ececff"}
    assert "    line [0.92, 0.92, 0.92]" in chart
    low = float(chart.split('y-axis "auc" ')[1].split(" --> ")[0])
    assert low < 0.92


def test_a_changed_list_or_mapping_param_says_which_items_changed(
    scratch_repo: ScratchRepo,
) -> None:
    import yaml

    params = yaml.safe_load(scratch_repo.read("params.yaml"))
    params["train"].update(features=["age", "hours"], grid={"depth": 3, "lr": 0.1})
    scratch_repo.write("params.yaml", params)
    scratch_repo.commit("params with a list and a mapping")
    scratch_repo.git("checkout", "-q", "-b", "feature")
    params["train"].update(features=["age", "education"], grid={"depth": 4, "lr": 0.1})
    scratch_repo.write("params.yaml", params)
    scratch_repo.commit("one feature and the depth change")
    section = report_md(scratch_repo.root, "main").split("### Params")[1].split("###")[0]
    assert "| Param | Base | Head | Items changed |" in section
    assert '| + "education"; − "hours" |' in section
    # a mapping is compared key by key already: one row per changed key
    assert "| `train.grid.depth` | 3 | 4 | – |" in section and "grid.lr" not in section


def test_param_change_of_scalars_is_empty_and_of_a_reordered_list_says_so() -> None:
    assert markdown.param_change(1, 2) == "" and markdown.param_change("a", ["a"]) == ""
    assert markdown.param_change([1, 2], [2, 1]) == "same items, reordered"
    assert markdown.param_change({"a": 1, "c": 2}, {"b": 1, "c": 3}) == "− a; + b: 1; c: 2 → 3"
    assert markdown.param_change(["<!--"], []) == '− "&lt;!--"'  # opens no HTML comment
