"""Can a monitoring library serve `make monitor` here? Install weight, import time and whether
it imports at all beside this project's pandas / numpy / scikit-learn (issue 18).

Run it with the python of a private venv that holds the library and this project's pinned
versions, e.g.:

    python3 -m venv /tmp/venv-mon
    /tmp/venv-mon/bin/pip install evidently==0.7.23 pandas==3.1.1 numpy==2.4.6 scikit-learn==1.9.1
    /tmp/venv-mon/bin/python benchmarks/measure_monitoring_libs.py evidently \\
        --import "from evidently import Report; from evidently.presets import DataDriftPreset"

It prints the versions of pandas, numpy and scikit-learn, the size on disk of every installed
distribution that pandas + numpy + scikit-learn do not bring (the library's own weight), and
the wall time of a fresh interpreter importing the library (median of --runs), or the
import's error. Only the standard library is used, so a broken install still reports.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

# what this project already installs for the stages: not counted as the library's weight
BASE = {
    "pandas", "numpy", "scikit-learn", "scipy", "joblib", "threadpoolctl", "python-dateutil",
    "six", "tzdata", "pyarrow", "pip", "setuptools",
}  # fmt: skip


def dist_size(dist: metadata.Distribution) -> int:
    total = 0
    for file in dist.files or []:
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            total += path.stat().st_size
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("library")
    parser.add_argument("--import", dest="statement", default=None)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    statement = args.statement or f"import {args.library}"
    for name in ("pandas", "numpy", "scikit-learn", args.library):
        try:
            print(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            print(f"{name}: not installed")
    extra = [d for d in metadata.distributions() if d.metadata["Name"].lower() not in BASE]
    size = sum(dist_size(d) for d in extra)
    print(f"installed beyond the base: {len(extra)} distributions, {size / 2**20:.0f} MiB")
    times, error = [], ""
    for _ in range(args.runs):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", statement], capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode:
            error = done.stderr.strip().splitlines()[-1]
    print(f"import: median {statistics.median(times):.2f} s of {args.runs} (min {min(times):.2f})")
    print(f"import fails: {error}" if error else "import works")


if __name__ == "__main__":
    main()
