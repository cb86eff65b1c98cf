"""Rendering as a person sees it (issue 21): GitHub-flavoured Markdown by ``cmark-gfm``
(GitHub's fork, from Debian), pages opened in Debian's headless ``chromium`` driven by
npm's ``playwright-core`` (``tests/render_seen.mjs``), Mermaid from npm's ``mermaid``.

Without those tools the tests skip with the reason, except in CI (``CI=true``), where
``.ci/run`` installs them and their absence is a failure: a check that silently skips in
CI checks nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
NODE_MODULES = REPO / "node_modules"
# Debian's chromium; another Chromium build where there is none (MLGATE_CHROMIUM)
CHROMIUM = os.environ.get("MLGATE_CHROMIUM", "/usr/bin/chromium")
# `--unsafe` keeps the raw HTML GitHub allows (<details>, <sub>, the hidden marker)
CMARK_FLAGS = ["--extension", "table", "--extension", "strikethrough", "--extension", "autolink"]
CMARK_FLAGS += ["--extension", "tasklist", "--unsafe"]
SCREENSHOTS = REPO / "docs" / "img"
UPDATE_SCREENSHOTS = os.environ.get("MLGATE_UPDATE_SCREENSHOTS") == "1"
VIEWPORT = 880  # a pull-request comment is about 830-880 px wide


def need(*npm_packages: str, cmark: bool = False) -> None:
    """Skip (fail in CI) unless chromium, node, these npm packages and cmark-gfm are here."""
    missing = []
    if not Path(CHROMIUM).is_file():
        missing.append("chromium (apt-get install chromium)")
    if shutil.which("node") is None:
        missing.append("node")
    if cmark and shutil.which("cmark-gfm") is None:
        missing.append("cmark-gfm (apt-get install cmark-gfm)")
    for package in ("playwright-core", *npm_packages):
        if not (NODE_MODULES / package / "package.json").is_file():
            missing.append(f"npm package {package} (npm ci)")
    if not missing:
        return
    reason = "needs " + ", ".join(missing) + " to render as a browser does"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; .ci/run installs them in CI")
    pytest.skip(reason)


def gfm(markdown: str) -> str:
    """``markdown`` as GitHub renders it to HTML (cmark-gfm with GitHub's extensions)."""
    result = subprocess.run(
        ["cmark-gfm", *CMARK_FLAGS],
        input=markdown,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return result.stdout


def screenshot_path(name: str, tmp_path: Path) -> Path:
    """Where a test's screenshot goes: ``docs/img`` when MLGATE_UPDATE_SCREENSHOTS=1."""
    return (SCREENSHOTS if UPDATE_SCREENSHOTS else tmp_path) / name


def open_page(page: Path, kind: str, screenshot: Path | None = None, **options: Any) -> Any:
    """What ``tests/render_seen.mjs`` saw of ``page`` in headless Chromium, offline."""
    job = {"page": str(page), "kind": kind, "width": VIEWPORT, "chromium": CHROMIUM, **options}
    if screenshot is not None:
        job["screenshot"] = str(screenshot)
    result = subprocess.run(
        ["node", str(REPO / "tests" / "render_seen.mjs"), json.dumps(job)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def luminance(css_colour: str) -> float:
    """Relative luminance (WCAG 2) of an ``rgb(r, g, b)`` or ``#rrggbb`` colour."""
    text = css_colour.strip()
    if text.startswith("#"):
        channels = [int(text[i : i + 2], 16) for i in (1, 3, 5)]
    else:
        channels = [int(float(part)) for part in text[text.index("(") + 1 : -1].split(",")[:3]]
    linear = [
        c / 255 / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4
        for c in channels
    ]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two colours (1 to 21); 3 is the minimum for graphics."""
    darker, lighter = sorted([luminance(first), luminance(second)])
    return (lighter + 0.05) / (darker + 0.05)
