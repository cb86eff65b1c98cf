"""mlgate's one YAML loader (``mlgate.loaders.parse_yaml``: libyaml with YAML 1.2's
scalar rules and limits) against DVC's own (``dvc.utils.serialize.parse_yaml``: ruamel's
safe loader) on this repository's params.yaml, dvc.yaml and dvc.lock; interleaved, medians.

    python benchmarks/bench_yaml.py --runs 7
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

from dvc.utils.serialize import parse_yaml as dvc_parse_yaml

from mlgate.loaders import parse_yaml

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"median of {args.runs} interleaved parses, {platform.processor() or platform.machine()}")
    print("\n| file | mlgate ms | dvc (ruamel) ms | ratio |\n|---|---:|---:|---:|")
    for name in ("params.yaml", "dvc.yaml", "dvc.lock"):
        text = (ROOT / name).read_text(encoding="utf-8")
        ours, theirs = [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            parse_yaml(text, name)
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            dvc_parse_yaml(text, name)
            theirs.append(time.perf_counter() - start)
        mine, dvc = statistics.median(ours) * 1000, statistics.median(theirs) * 1000
        print(f"| {name} | {mine:.2f} | {dvc:.2f} | {mine / dvc:.2f} |")


if __name__ == "__main__":
    main()
