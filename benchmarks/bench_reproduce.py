"""What `mlgate reproduce` costs over the stage it reruns (issue 16, item 3).

Target: "the verification costs no more than the stages it reruns plus 1 s". On this
repository the stage that writes gated metrics is `evaluate`, so `mlgate reproduce` (in an
up-to-date pipeline: DVC checks every stage, then evaluate runs, forced, and the gated file
is compared with the commit) is timed against `dvc repro -f -s evaluate` (evaluate alone,
forced: the rerun itself). For context, each round also times a no-op `dvc repro`, the step
CI ran before: `mlgate reproduce` replaces it and the forced rerun together.

The pipeline runs in a scratch copy of the tracked files (`git ls-files`, fresh `git init`),
reproduced once before timing; the commands then alternate round by round, so the load of a
shared machine falls on all of them alike. Each run must succeed (`mlgate reproduce` exit 0:
the committed metrics reproduce); the timings it measures stay modified, which it accepts.

    nice python benchmarks/bench_reproduce.py --runs 5 --work /tmp/bench-reproduce
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_pipeline import dvc, environment, run, scratch_copy

REPRODUCE, RERUN, NO_OP = "mlgate reproduce", "dvc repro -f -s evaluate", "dvc repro (no-op)"
COMMANDS = {
    REPRODUCE: [sys.executable, "-m", "mlgate", "reproduce"],
    RERUN: dvc("repro", "-f", "-s", "evaluate"),
    NO_OP: dvc("repro"),
}
TARGET_OVERHEAD_S = 1.0


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children) of a command that must
    succeed. CPU time is the steadier measure on a shared machine: waiting for a core
    counts in wall time only."""
    start = time.perf_counter()
    process = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.stderr.write(output.decode(errors="replace"))
        raise SystemExit(f"{' '.join(args)} failed in {cwd}")
    return wall, usage.ru_utime + usage.ru_stime


def host() -> str:
    lscpu = shutil.which("lscpu")
    if lscpu:
        out = subprocess.run([lscpu], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds (median; at least 5)")
    parser.add_argument("--work", type=Path, default=Path(__file__).parent / ".work")
    parser.add_argument("--json", type=Path, help="also write the raw timings here")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    env = environment(args.work / "home")
    root = scratch_copy(args.work / "reproduce", env)
    run(dvc("repro"), root, env)  # the pipeline, reproduced: what CI has after `dvc pull`
    for command in COMMANDS.values():  # warm-up: page cache, bytecode, DVC's state db
        timed(command, root, env)
    wall: dict[str, list[float]] = {name: [] for name in COMMANDS}
    cpu: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, command in COMMANDS.items():
            seconds, cpu_seconds = timed(command, root, env)
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)
    print(f"host: {host()}; load while measuring: {Path('/proc/loadavg').read_text().split()[:3]}")
    print("| command | runs | wall median s | min / max | CPU median s | min / max |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in COMMANDS:
        print(
            f"| `{name}` | {len(wall[name])} | {statistics.median(wall[name]):.2f} "
            f"| {min(wall[name]):.2f} / {max(wall[name]):.2f} "
            f"| {statistics.median(cpu[name]):.2f} "
            f"| {min(cpu[name]):.2f} / {max(cpu[name]):.2f} |"
        )
    for label, times in (("wall", wall), ("CPU", cpu)):
        medians = {name: statistics.median(values) for name, values in times.items()}
        extra = medians[REPRODUCE] - medians[RERUN]
        per_round = [a - b for a, b in zip(times[REPRODUCE], times[RERUN], strict=True)]
        print(
            f"{label}: mlgate reproduce - dvc repro -f -s evaluate = {extra:+.2f} s "
            f"(ratio {medians[REPRODUCE] / medians[RERUN]:.2f}; per round "
            f"{', '.join(f'{d:+.2f}' for d in per_round)}, median "
            f"{statistics.median(per_round):+.2f}); minus a no-op dvc repro as well: "
            f"{medians[REPRODUCE] - medians[RERUN] - medians[NO_OP]:+.2f} s"
        )
    overhead = statistics.median(wall[REPRODUCE]) - statistics.median(wall[RERUN])
    verdict = "met" if overhead <= TARGET_OVERHEAD_S else "MISSED"
    print(f"target: wall overhead <= +{TARGET_OVERHEAD_S:.0f} s: {verdict}")
    if args.json:
        raw = {"wall": wall, "cpu": cpu}
        args.json.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    return 0 if overhead <= TARGET_OVERHEAD_S else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
