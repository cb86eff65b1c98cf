"""`dvc plots show` as a person opens it without internet (issue 21): the page loads vega,
vega-lite and vega-embed from the npm packages, not a CDN; ROC and calibration draw their
reference diagonals; the confusion matrix shows its counts without a checkbox."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.browser import need, open_page, screenshot_path

REPO = Path(__file__).resolve().parents[1]
# what `dvc plots show` reads: the plot definitions, their params, templates, page and data
NEEDED = ["dvc.yaml", "params.yaml", ".dvc/config", ".dvc/plots", "plots"]
SCRIPT = re.compile(r"<script\b[^>]*\bsrc\s*=\s*[\"']([^\"']+)", re.IGNORECASE)
SPEC = re.compile(r"var spec = (\{.*?\});\s*vegaEmbed\(", re.DOTALL)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plots") / "repo"
    for name in NEEDED:
        source, target = REPO / name, root / name
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(
        [sys.executable, "-m", "dvc", "plots", "show"], cwd=root, check=True, capture_output=True
    )
    return root / "dvc_plots" / "index.html"


def specs(page: Path) -> dict[str, Any]:
    found = [json.loads(text) for text in SPEC.findall(page.read_text(encoding="utf-8"))]
    return {spec["title"]["text"]: spec for spec in found}


def test_scripts_come_from_the_npm_packages_not_a_cdn(page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    sources = SCRIPT.findall(html)
    assert len(sources) == 3
    assert not [src for src in sources if "//" in src or src.startswith("/")]
    assert "cdn." not in html and "jsdelivr" not in html
    pinned = json.loads((REPO / "package.json").read_text(encoding="utf-8"))["devDependencies"]
    for src in sources:
        relative = (page.parent / src).resolve().relative_to(page.parent.parent.resolve())
        assert relative.parts[0] == "node_modules" and relative.parts[1] in pinned, src
        assert relative.parts[1] in {"vega", "vega-lite", "vega-embed"}
        if (REPO / "node_modules" / relative.parts[1]).is_dir():  # after `npm ci`
            assert (REPO / relative).is_file(), relative


def test_roc_and_calibration_draw_the_diagonal(page: Path) -> None:
    plots = specs(page)
    for title in ("ROC", "Calibration"):
        diagonal = [layer for layer in plots[title]["layer"] if layer.get("name") == "diagonal"]
        assert diagonal and diagonal[0]["data"]["values"] == [{"diagonal": 0}, {"diagonal": 1}]
    assert "layer" not in plots["Precision-recall"]  # no diagonal means anything there


def test_confusion_matrix_shows_its_counts_without_a_checkbox(page: Path) -> None:
    confusion = specs(page)["Confusion matrix"]
    assert "params" not in confusion
    text_layers = [layer for layer in confusion["spec"]["layer"] if layer.get("mark") == "text"]
    assert text_layers[0]["encoding"]["text"] == {"field": "xy_count", "type": "quantitative"}


@pytest.mark.skipif(
    shutil.which("node") is None or not (REPO / "node_modules" / "vega-lite").is_dir(),
    reason="needs node and `npm ci` (the packages the page loads)",
)
def test_every_plot_draws_its_marks_offline(page: Path) -> None:
    """Rendered by the page's own vega packages to SVG: what a browser would draw."""
    result = subprocess.run(
        ["node", str(REPO / "tests" / "render_plots.mjs"), str(page)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    drawn = {plot["title"]: plot for plot in json.loads(result.stdout)}
    assert set(drawn) == set(specs(page))
    assert all(plot["marks"] > 10 for plot in drawn.values())
    assert drawn["ROC"]["dashed"] and drawn["Calibration"]["dashed"]
    assert not drawn["Precision-recall"]["dashed"]
    counts = json.loads((REPO / "plots" / "confusion.json").read_text(encoding="utf-8"))
    for cell in counts["confusion"]:
        assert str(cell["count"]) in drawn["Confusion matrix"]["labels"]


def test_every_plot_draws_in_a_browser_offline(page: Path, tmp_path: Path) -> None:
    """The page as a person opens it: Chromium with no network, every plot drawn."""
    need("vega", "vega-lite", "vega-embed")
    opened = tmp_path / "dvc_plots" / "index.html"  # beside the repository's node_modules
    opened.parent.mkdir()
    shutil.copy2(page, opened)
    (tmp_path / "node_modules").symlink_to(REPO / "node_modules", target_is_directory=True)
    seen = open_page(opened, "plots", screenshot_path("plots-page.png", tmp_path))
    assert seen["refused"] == [] and seen["errors"] == [], seen
    assert not seen["note"]  # the page's "scripts are missing" line
    assert len(seen["plots"]) == len(specs(page)) >= 4
    for plot in seen["plots"]:
        assert plot["width"] > 100 and plot["inked"] > 2000, plot  # axes, marks and labels


def test_a_page_without_the_packages_says_so(page: Path, tmp_path: Path) -> None:
    """Without `npm ci` the page says what to run rather than staying blank; and the check
    above fails then."""
    need()
    bare = tmp_path / "dvc_plots" / "index.html"
    bare.parent.mkdir()
    shutil.copy2(page, bare)
    seen = open_page(bare, "plots")
    assert seen["note"] and all(plot["inked"] == 0 for plot in seen["plots"])


def test_the_monitoring_history_draws_one_point_per_batch(tmp_path: Path) -> None:
    """monitoring/dvc.yaml's plots over a history of named batches (the x axis is a name,
    which DVC's default template would read as a number and draw nothing of)."""
    root = tmp_path / "repo"
    for name in (".dvc/config", ".dvc/plots", "monitoring/dvc.yaml",
                 "monitoring/batch.yaml"):  # fmt: skip
        source, target = REPO / name, root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    keys = ("estimated_roc_auc", "realized_roc_auc", "estimated_accuracy", "realized_accuracy",
            "drift_share_drifted", "prediction_drift_psi", "quality_quarantine_share",
            "realized_labelled_share")  # fmt: skip
    history = [
        {"batch": batch, **{key: 0.5 + 0.1 * n + 0.01 * k for k, key in enumerate(keys)}}
        for n, batch in enumerate(["2026-09", "2026-10", "2026-11"])
    ]
    (root / "monitoring" / "history.json").write_text(json.dumps(history), encoding="utf-8")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(
        [sys.executable, "-m", "dvc", "plots", "show"], cwd=root, check=True, capture_output=True
    )
    page = root / "dvc_plots" / "index.html"
    result = subprocess.run(
        ["node", str(REPO / "tests" / "render_plots.mjs"), str(page)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    drawn = json.loads(result.stdout)
    assert len(drawn) == 2
    for plot in drawn:
        assert plot["marks"] >= 3 * 4, plot  # a point per batch and field, and their lines
        assert {"2026-09", "2026-10", "2026-11"} <= set(plot["labels"]), plot
