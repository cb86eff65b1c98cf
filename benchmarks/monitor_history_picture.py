"""The picture of the monitoring history in the README (docs/img/monitoring-history.png).

The batches of ``benchmarks.monitor_estimation`` (covariate shifts, then concept changes
that no estimate can see), each estimated by CBPE and then measured with its labels, are
written as ``monitoring/history.json`` rows (``stages.monitor.history_row``'s keys) in a
scratch DVC project whose plot is ``monitoring/dvc.yaml``'s own "monitoring-performance";
``dvc plots show`` renders it offline (vega from node_modules) and headless Chromium takes
the screenshot (tests/browser.py, as the plots-page test does).

    PYTHONPATH=src:. python -m benchmarks.monitor_history_picture [--out FILE.png]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PLOT = "monitoring-performance"


def history(rows: int) -> list[dict[str, object]]:
    from benchmarks.monitor_estimation import run_batches

    points = []
    for number, result in enumerate(run_batches(rows=rows), 1):
        points.append(
            {
                "batch": f"{number:02d} {result.name}",
                "estimated_roc_auc": round(result.estimated_roc_auc, 4),
                "realized_roc_auc": round(result.realized_roc_auc, 4),
                "estimated_accuracy": round(result.estimated_accuracy, 4),
                "realized_accuracy": round(result.realized_accuracy, 4),
            }
        )
    return points


def render(points: list[dict[str, object]], out: Path) -> None:
    from tests.browser import open_page

    monitoring = yaml.safe_load((REPO / "monitoring" / "dvc.yaml").read_text(encoding="utf-8"))
    plot = next(item for item in monitoring["plots"] if PLOT in item)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=root, check=True)
        shutil.copytree(REPO / ".dvc" / "plots", root / ".dvc" / "plots")
        shutil.copy(REPO / ".dvc" / "config", root / ".dvc" / "config")
        (root / "node_modules").symlink_to(REPO / "node_modules")
        (root / "monitoring").mkdir()
        (root / "monitoring" / "history.json").write_text(json.dumps(points), encoding="utf-8")
        pipeline = {"plots": [plot]}
        (root / "monitoring" / "dvc.yaml").write_text(yaml.safe_dump(pipeline), encoding="utf-8")
        subprocess.run([sys.executable, "-m", "dvc", "plots", "show", "-q"], cwd=root, check=True)
        seen = open_page(root / "dvc_plots" / "index.html", "plots", out)
        print(json.dumps(seen)[:300])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument(
        "--out", type=Path, default=REPO / "docs" / "img" / "monitoring-history.png"
    )
    args = parser.parse_args()
    render(history(args.rows), args.out.resolve())


if __name__ == "__main__":
    main()
