"""Time shell commands alternately and print their medians: A B C A B C ..., so that a
change of load on a shared machine hits every command alike and their ratio holds.

Each command is ``LABEL=SHELL COMMAND``; a warm-up round runs first and is not counted (it
writes bytecode and caches, as any earlier run would have). For each command: the median,
minimum and maximum wall time, the median CPU time (user + system of the command and its
children, which load on other cores inflates less), and the ratio of medians to the first
command. A command that fails stops the run.

    python benchmarks/alternate.py --runs 7 --cwd /tmp/bench-registry \\
        'before=PYTHONPATH=/tmp/before/src .venv/bin/mlgate history' \\
        'after=.venv/bin/mlgate history'
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import time
from pathlib import Path


def run_once(command: str, cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of ``command`` in a shell."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, shell=True, cwd=cwd, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {command}\n{done.stderr.decode()[-500:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def measure(
    commands: dict[str, str], cwd: Path, runs: int, warmup: int = 1
) -> dict[str, list[tuple[float, float]]]:
    times: dict[str, list[tuple[float, float]]] = {label: [] for label in commands}
    for round_number in range(warmup + runs):
        for label, command in commands.items():
            measured = run_once(command, cwd)
            if round_number >= warmup:
                times[label].append(measured)
    return times


def table(times: dict[str, list[tuple[float, float]]]) -> str:
    first = statistics.median(wall for wall, _ in next(iter(times.values())))
    lines = [
        "| command | median (s) | min (s) | max (s) | CPU median (s) | vs first |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, measured in times.items():
        walls = [wall for wall, _ in measured]
        median = statistics.median(walls)
        cpu = statistics.median(cpu for _, cpu in measured)
        lines.append(
            f"| {label} | {median:.3f} | {min(walls):.3f} | {max(walls):.3f} | {cpu:.3f} "
            f"| {median / first:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commands", nargs="+", metavar="LABEL=COMMAND")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--cwd", type=Path, default=Path.cwd())
    args = parser.parse_args()
    commands = dict(spec.split("=", 1) for spec in args.commands)
    times = measure(commands, args.cwd, args.runs, args.warmup)
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"{args.runs} alternating rounds after {args.warmup} warm-up; load average {load}\n")
    print(table(times))


if __name__ == "__main__":
    main()
