"""Benchmark `mlgate history` on 1,000 releases tagged by GTO, against `gto show` (issue 16).

Target: `mlgate history` over 1,000 releases that GTO tagged (plain messages, no lineage;
nested metrics in committed files) <= 0.3 s and at least 15x faster than `gto show`, with
the metrics listed.

``--build DIR`` makes, in a few seconds, a DVC project as GTO users keep one: ``dvc.yaml``
declares the artifact ``model`` and a stage whose ``metrics:`` path is templated from
``params.yaml`` (so DVC's resolver has a vars file to read, as this repository's own
``dvc.yaml`` does), then ``--releases`` commits (one ``git fast-import``), each changing the
committed nested metrics file (``{"test": {"roc_auc", "f1"}, "train": {"roc_auc"},
"latency_ms": {"p50"}}``, what dvclive writes) and the model, each registered as
``model@v1.0.<i>``. GTO's own ``gto.api.register`` re-reads the whole registry per tag
(quadratic: 100 tags took 91 s), so the tags are written by a second ``git fast-import``
byte-identical to GTO's: annotated, tagger = the git identity, message ``Registering
artifact model version v1.0.<i>`` without a trailing newline, tag times one second apart
(``tests/test_benchmarks.py`` compares one such tag with a tag ``gto.api.register`` made,
and checks GTO lists them all). The build ends by asking ``gto show --json`` for the latest
version (``--no-check`` skips that, ~10 s).

``--vary-params`` changes ``params.yaml`` in every release too, the worst case for history's
first run: no two commits give DVC's resolver the same input.

``--repo DIR`` times, interleaved round by round on the shared machine (each command once per
round, so a change of load hits all alike), ``mlgate history`` (text and JSON), ``mlgate
history`` without its cache under ``.git/mlgate`` (removed before each such run: a fresh
clone's first run), ``gto show`` and ``gto show --json``, and prints the medians as a
Markdown table. It first checks that
mlgate lists every release with its nested metrics and agrees with ``gto show --json`` on
the latest version.

    python benchmarks/bench_history_gto.py --build /tmp/bench-gto
    python benchmarks/bench_history_gto.py --repo /tmp/bench-gto --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
DVC = str(BIN / "dvc")
GTO = str(BIN / "gto")
MLGATE = str(BIN / "mlgate")
ARTIFACT = "model"
START = 1_767_225_600  # 2026-01-01T00:00:00Z: tag times are one second apart from here
IDENTITY = "bench <bench@mlgate.invalid>"
NESTED_KEYS = ("latency_ms.p50", "test.f1", "test.roc_auc", "train.roc_auc")

DVC_YAML = f"""\
artifacts:
  {ARTIFACT}:
    path: model.pkl
    type: model
stages:
  evaluate:
    cmd: python evaluate.py model.pkl ${{evaluate.metrics_dir}}
    deps:
    - model.pkl
    params:
    - evaluate.threshold
    metrics:
    - ${{evaluate.metrics_dir}}/metrics.json:
        cache: false
"""

PARAMS_YAML = """\
evaluate:
  threshold: 0.5
  metrics_dir: metrics
"""


def env() -> dict[str, str]:
    return {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": f"{BIN}:{os.environ['PATH']}"}


def sh(
    args: list[str], cwd: Path, stdin: bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, cwd=cwd, env=env(), input=stdin, capture_output=True, check=check)


def metrics_for(i: int) -> dict[str, dict[str, float]]:
    """What dvclive's log_metric("test/roc_auc") ... writes: nested, drifting over releases."""
    base = 0.80 + (i % 97) / 1000
    return {
        "test": {"roc_auc": round(base + 0.1, 4), "f1": round(base - 0.05, 4)},
        "train": {"roc_auc": round(base + 0.15, 4)},
        "latency_ms": {"p50": 10 + i % 7},
    }


def data_cmd(raw: bytes) -> bytes:
    return b"data %d\n" % len(raw) + raw + b"\n"


def gto_message(version: str) -> str:
    return f"Registering artifact {ARTIFACT} version {version}"  # gto/api.py, no newline


def tag_stream(tags: list[tuple[str, str, int]]) -> bytes:
    """``git fast-import`` commands for annotated tags as GTO writes them: (name, commit,
    Unix time). fast-import stores the ``data`` bytes as the message, so without a trailing
    newline, as GTO's (``git tag -m`` would add one)."""
    stream = bytearray()
    for name, sha, when in tags:
        version = name.split("@", 1)[1]
        stream += f"tag {name}\nfrom {sha}\ntagger {IDENTITY} {when} +0000\n".encode()
        stream += data_cmd(gto_message(version).encode())
    return bytes(stream)


def build(target: Path, count: int, check: bool = True, vary_params: bool = False) -> None:
    if target.exists():
        raise SystemExit(f"{target} exists; remove it or pick another directory")
    target.mkdir(parents=True)
    sh(["git", "init", "-q", "-b", "main"], target)
    name, email = IDENTITY[:-1].split(" <")
    sh(["git", "config", "user.name", name], target)
    sh(["git", "config", "user.email", email], target)
    sh([DVC, "init", "-q"], target)
    (target / "dvc.yaml").write_text(DVC_YAML)
    (target / "params.yaml").write_text(PARAMS_YAML)
    (target / "metrics").mkdir()
    (target / "metrics" / "metrics.json").write_text(json.dumps(metrics_for(0), indent=2))
    (target / "model.pkl").write_text("model 0\n")
    sh(["git", "add", "-A"], target)
    sh(["git", "commit", "-q", "-m", "pipeline"], target)

    stream = bytearray()
    for i in range(1, count + 1):
        stream += b"commit refs/heads/main\nmark :%d\n" % i
        stream += f"committer {IDENTITY} {START + i} +0000\n".encode()
        stream += data_cmd(f"model {i}".encode())
        if i == 1:
            stream += b"from refs/heads/main^0\n"
        stream += b"M 100644 inline metrics/metrics.json\n"
        stream += data_cmd(json.dumps(metrics_for(i), indent=2).encode())
        stream += b"M 100644 inline model.pkl\n"
        stream += data_cmd(f"model {i}\n".encode())
        if vary_params:  # every release tuned: DVC reads another params.yaml at each
            stream += b"M 100644 inline params.yaml\n"
            stream += data_cmd(PARAMS_YAML.replace("0.5", f"0.{i:04d}").encode())
    marks = target / ".git" / "bench-marks"
    sh(["git", "fast-import", "--quiet", f"--export-marks={marks}"], target, stdin=bytes(stream))
    sha_of = dict(line.split() for line in marks.read_text().splitlines())
    marks.unlink()
    tags = [(f"{ARTIFACT}@v1.0.{i}", sha_of[f":{i}"], START + i) for i in range(1, count + 1)]
    sh(["git", "fast-import", "--quiet"], target, stdin=tag_stream(tags))
    sh(["git", "reset", "-q", "--hard", "main"], target)  # our own scratch repository
    print(f"built {target}: {count} releases tagged as GTO tags them")
    if check:
        latest = gto_latest(target)
        print(f"gto show --json: latest {ARTIFACT} version {latest}")
        if latest != f"v1.0.{count}":
            raise SystemExit(f"GTO does not read the tags: latest is {latest}, not v1.0.{count}")


def gto_latest(repo: Path) -> str:
    shown = json.loads(sh([GTO, "show", "--json"], repo).stdout)
    return str(shown[ARTIFACT]["version"])


def check_listing(repo: Path) -> int:
    """mlgate lists every release, newest first, with the nested metrics as dotted keys,
    and names the version GTO names latest."""
    entries = json.loads(sh([MLGATE, "history", "--format", "json"], repo).stdout)
    missing = [e["version"] for e in entries if not set(NESTED_KEYS) <= set(e["metrics"])]
    if missing:
        raise SystemExit(f"mlgate lists no nested metrics for {missing[:5]} ...")
    if entries[0]["version"] != gto_latest(repo):
        raise SystemExit(f"mlgate's latest {entries[0]['version']} is not gto's")
    return len(entries)


def without_cache(args: list[str]) -> list[str]:
    """The command as a fresh clone runs it: mlgate's cache under .git removed first."""
    remove = 'rm -rf "$(git rev-parse --git-dir)/mlgate" && exec "$@"'
    return ["sh", "-c", remove, "-", *args]


COMMANDS = {
    "mlgate history": [MLGATE, "history"],
    "mlgate history --format json": [MLGATE, "history", "--format", "json"],
    "mlgate history, no cache (first run)": without_cache([MLGATE, "history"]),
    "gto show": [GTO, "show"],
    "gto show --json": [GTO, "show", "--json"],
}


def measure(repo: Path, runs: int, only: str = "") -> dict[str, list[float]]:
    chosen = {name: args for name, args in COMMANDS.items() if name.startswith(only)}
    times: dict[str, list[float]] = {name: [] for name in chosen}
    for _ in range(runs):
        for name, args in chosen.items():
            start = time.perf_counter()
            done = sh(args, repo, check=False)
            times[name].append(time.perf_counter() - start)
            if done.returncode != 0:
                raise SystemExit(f"{name} failed: {done.stderr.decode()[-500:]}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, metavar="DIR", help="build the benchmark repo")
    parser.add_argument("--releases", type=int, default=1000)
    parser.add_argument("--no-check", action="store_true", help="skip asking gto after --build")
    parser.add_argument(
        "--vary-params",
        action="store_true",
        help="change params.yaml in every release (no two commits resolve alike)",
    )
    parser.add_argument("--repo", type=Path, metavar="DIR", help="time the commands there")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="", metavar="PREFIX", help="time matching commands")
    args = parser.parse_args()
    if args.build:
        build(args.build.resolve(), args.releases, not args.no_check, args.vary_params)
    if not args.repo:
        return
    repo = args.repo.resolve()
    listed = check_listing(repo)
    times = measure(repo, args.runs, args.only)
    medians = {name: statistics.median(values) for name, values in times.items()}
    history = medians.get("mlgate history", float("nan"))
    print(
        f"{platform.machine()}, {os.cpu_count()} CPUs, median of {args.runs} interleaved "
        f"rounds; mlgate lists {listed} releases with {', '.join(NESTED_KEYS)}\n"
    )
    print("| command | median (s) | min (s) | max (s) | vs `mlgate history` |")
    print("|---|---:|---:|---:|---:|")
    for name, values in times.items():
        print(
            f"| `{name}` | {medians[name]:.3f} | {min(values):.3f} | {max(values):.3f} "
            f"| {medians[name] / history:.1f}x |"
        )


if __name__ == "__main__":
    main()
