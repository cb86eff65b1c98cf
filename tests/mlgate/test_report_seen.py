"""The pull-request comment as a reviewer sees it (issue 21): the report of a scratch
repository rendered by GitHub's Markdown (cmark-gfm) and Mermaid in headless Chromium, at
a comment's width, on GitHub's light and dark themes. No table may scroll sideways, and the
chart's lines must stand out from the background (WCAG's 3:1 for graphics).

``MLGATE_UPDATE_SCREENSHOTS=1`` writes the screenshots docs/what-you-see.md shows to docs/img.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlgate import api
from mlgate.render import markdown
from tests.browser import NODE_MODULES, REPO, contrast, gfm, need, open_page, screenshot_path
from tests.mlgate.repo_factory import ScratchRepo, metrics_with

# GitHub's comment body, approximated: its markdown CSS for what the report uses.
THEMES = {
    "light": {"bg": "#ffffff", "fg": "#1f2328", "border": "#d1d9e0", "muted": "#59636e"},
    "dark": {"bg": "#0d1117", "fg": "#f0f6fc", "border": "#3d444d", "muted": "#9198a1"},
}
STYLE = """
body { margin: 0; background: %(bg)s; color: %(fg)s;
  font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial,
  sans-serif; }
.comment { max-width: 830px; margin: 16px auto; border: 1px solid %(border)s;
  border-radius: 6px; box-sizing: border-box; }
.markdown-body { padding: 16px; overflow-wrap: break-word; }
.markdown-body > :first-child { margin-top: 0; }
.markdown-body h2 { font-size: 1.5em; padding-bottom: .3em; border-bottom: 1px solid %(border)s;
  margin: 24px 0 16px; font-weight: 600; line-height: 1.25; }
.markdown-body h3 { font-size: 1.25em; margin: 24px 0 16px; font-weight: 600; }
.markdown-body p, .markdown-body blockquote, .markdown-body ul, .markdown-body table,
.markdown-body pre, .markdown-body details { margin: 0 0 16px; }
.markdown-body blockquote { padding: 0 1em; color: %(muted)s;
  border-left: .25em solid %(border)s; }
.markdown-body table { display: block; width: max-content; max-width: 100%%; overflow: auto;
  border-spacing: 0; border-collapse: collapse; font-variant: tabular-nums; }
.markdown-body table th, .markdown-body table td { padding: 6px 13px;
  border: 1px solid %(border)s; }
.markdown-body table th { font-weight: 600; }
.markdown-body code { padding: .2em .4em; font-size: 85%%; border-radius: 6px;
  background: rgba(129, 139, 152, .15);
  font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, monospace; }
.markdown-body sub { font-size: 75%%; }
"""
# Mermaid from the npm package, started as GitHub does for a ```mermaid block: in the
# theme of the page, the diagram's own init directive (our palette) taking precedence.
SCRIPT = """
<script src="%(mermaid)s"></script>
<script>
for (const code of document.querySelectorAll("pre > code.language-mermaid")) {
  const div = document.createElement("div");
  div.className = "mermaid";
  div.textContent = code.textContent;
  code.parentElement.replaceWith(div);
}
mermaid.initialize({ startOnLoad: false, theme: "%(theme)s" });
mermaid.run({ querySelector: ".mermaid" }).then(
  () => { window.__rendered = true; },
  (error) => { window.__error = String(error); },
);
</script>
"""


def comment_page(body_html: str, theme: str) -> str:
    colours = THEMES[theme]
    mermaid = (NODE_MODULES / "mermaid" / "dist" / "mermaid.min.js").as_uri()
    script = SCRIPT % {
        "mermaid": html.escape(mermaid),
        "theme": "dark" if theme == "dark" else "default",
    }
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><style>{STYLE % colours}</style>'
        f'</head><body><div class="comment"><div class="markdown-body">{body_html}</div></div>'
        f"{script}</body></html>"
    )


@pytest.fixture
def report_text(scratch_repo: ScratchRepo) -> str:
    """The report of a pull request with a failing gate, a loosened gate and a changed list
    param, on a project with three releases, whose latest is behind the base (the widest
    layout: release columns of their own). The gates are the repository's own."""
    repo = scratch_repo
    own = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))["gates"]
    features = ["age", "education_num", "hours_per_week", "capital_gain"]
    params: dict[str, Any] = {"train": {"seed": 1, "features": features}, "gates": own}
    repo.write("params.yaml", params)
    repo.release(metrics_with(roc_auc=0.931, f1=0.7), "v1.0.0")
    repo.release(metrics_with(roc_auc=0.936, f1=0.71), "v1.1.0")
    repo.release(metrics_with(roc_auc=0.94, accuracy=0.872, f1=0.705), "v1.2.0")
    repo.set_metrics(metrics_with(roc_auc=0.942, accuracy=0.874, f1=0.708))
    repo.repro()
    repo.commit("main improves on v1.2.0, not released yet")
    repo.git("checkout", "-q", "-b", "feature")
    loosened = json.loads(json.dumps(own))
    loosened["rules"][1]["min"] = 0.8  # accuracy's floor lowered: a reviewer must approve
    swapped = [*features[:2], "hours_per_week_squared", "capital_gain", "capital_loss"]
    repo.write("params.yaml", {"train": {"seed": 1, "features": swapped}, "gates": loosened})
    # roc_auc 0.925 is 0.015 below the latest release: beyond its max_regression, so it fails
    repo.set_metrics(metrics_with(roc_auc=0.925, accuracy=0.84, f1=0.69, latency__p95_ms=61.5))
    repo.repro()
    repo.commit("feature")
    return markdown.report(api.report(repo.root, "main"))


def test_the_comment_reads_at_comment_width(report_text: str, tmp_path: Path) -> None:
    need("mermaid", cmark=True)
    # what the fixture built is what the test is about
    assert "❌ FAIL" in report_text and "loosened — review" in report_text
    assert "Items changed" in report_text and "| Δ release |" in report_text
    assert report_text.count("```mermaid") == 1
    (tmp_path / "report.md").write_text(report_text, encoding="utf-8")  # to look at on failure
    body = gfm(report_text)
    for theme in THEMES:
        page = tmp_path / f"comment-{theme}.html"
        page.write_text(comment_page(body, theme), encoding="utf-8")
        shot = screenshot_path(f"report-comment-{theme}.png", tmp_path)
        seen = open_page(page, "comment", shot, dark=theme == "dark")
        assert seen["refused"] == [] and seen["error"] is None, seen
        assert seen["mermaidBlocks"] == 0 and seen["bodyWidth"] <= 830
        assert len(seen["tables"]) >= 5  # gates, policy, other metrics, params, data and model
        for table in seen["tables"]:
            assert table["scrollWidth"] <= table["clientWidth"], (theme, table)  # no scrolling
        [chart] = seen["charts"]
        assert len(chart["lines"]) == 2, chart  # the metric and the gate's floor
        backgrounds = [seen["background"], chart["chartBackground"] or seen["background"]]
        for line in chart["lines"]:
            for background in backgrounds:
                assert contrast(line, background) >= 3, (line, background, theme)


def test_the_page_refuses_what_is_not_offline(tmp_path: Path) -> None:
    """The check above proves no request left the machine only if one would be seen."""
    need()
    page = tmp_path / "online.html"
    page.write_text(
        '<div class="markdown-body"><img src="https://example.invalid/x.png"></div>'
        "<script>window.__rendered = true</script>",
        encoding="utf-8",
    )
    seen = open_page(page, "comment")
    assert seen["refused"] == ["https://example.invalid/x.png"]
