"""Benchmark `mlgate history` and `mlgate release --dry-run` on a registry of 1,000 releases.

Targets (issue 4): `mlgate history` <= 0.5 s and at least 10x faster than each of `gto show`
and `dvc metrics show --all-tags --json` on the same repository; `mlgate release --dry-run`
<= 1 s there.

``--build DIR`` creates, with one ``git fast-import`` (seconds, not minutes), a DVC project
whose ``main`` has 1,000 commits, each with its own ``metrics/metrics.json`` and an annotated
release tag ``bench-model@v0.<i // 100>.<i % 100>`` carrying a lineage block of realistic size
(the metrics, gate results, params and dvc.lock hashes that ``mlgate release`` records),
plus stage assignments (every 10th release to dev, every 50th to staging, every 100th to
prod), one second apart. A last, real commit (``dvc repro``) makes the working tree clean
and up to date so ``release --dry-run`` can run, and a bare clone serves as ``origin``.

``--plain`` writes GTO's own messages instead (no lineage), which makes `mlgate history`
read every release's metrics from git objects: its fallback path.

``--repo DIR`` times the commands, and `mlgate check` too: `release` runs it first, so the
registry's own share of `release --dry-run` shows. `mlgate history` runs with its cache
under `.git/mlgate` (what a repeat run reads) and without it (removed before the run: a
fresh clone's first run, which writes it). Every round runs each command once,
interleaved, so the load of the shared machine hits all of them alike and the ratios stay
meaningful; the medians over ``--runs`` rounds are printed as a Markdown table.

    python benchmarks/bench_registry.py --build /tmp/bench-registry
    python benchmarks/bench_registry.py --repo /tmp/bench-registry --runs 5
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

from mlgate import lineage

BIN = Path(sys.executable).parent
DVC = str(BIN / "dvc")
GTO = str(BIN / "gto")
MLGATE = str(BIN / "mlgate")
ARTIFACT = "bench-model"
START = 1_767_225_600  # 2026-01-01T00:00:00Z: tag times are one second apart from here

DVC_YAML = f"""\
artifacts:
  {ARTIFACT}:
    path: models/model.bin
    type: model
stages:
  train:
    cmd: mkdir -p metrics models && cp inputs/metrics.json metrics/metrics.json
      && cp inputs/metrics.json models/model.bin
    deps:
    - inputs/metrics.json
    params:
    - train.seed
    outs:
    - models/model.bin
    metrics:
    - metrics/metrics.json:
        cache: false
"""

PARAMS_YAML = """\
train:
  seed: 1
gates:
  baseline: latest-release
  rules:
  - {metric: roc_auc, direction: higher, min: 0.5, max_regression: 0.5}
  - {metric: accuracy, direction: higher, min: 0.5}
  - {metric: fairness.sex.demographic_parity_difference, direction: lower, max: 0.5}
"""

FEATURES = [
    "age",
    "workclass",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
]


def env() -> dict[str, str]:
    return {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": f"{BIN}:{os.environ['PATH']}"}


def sh(
    args: list[str], cwd: Path, stdin: bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, cwd=cwd, env=env(), input=stdin, capture_output=True, check=check)


def metrics_for(i: int) -> dict[str, object]:
    """The metrics contract of the real pipeline, with values drifting over releases."""
    base = 0.80 + (i % 97) / 1000
    groups = {"Male": base + 0.01, "Female": base - 0.01}
    return {
        "accuracy": round(base, 4),
        "precision": round(base - 0.1, 4),
        "recall": round(base - 0.2, 4),
        "f1": round(base - 0.15, 4),
        "roc_auc": round(base + 0.1, 4),
        "average_precision": round(base - 0.05, 4),
        "log_loss": round(1 - base, 4),
        "brier": round((1 - base) / 3, 4),
        "model_size_bytes": 100_000 + i,
        "fairness": {
            attr: {
                "demographic_parity_difference": 0.1,
                "equalized_odds_difference": 0.08,
                "selection_rate": groups,
                "recall": groups,
            }
            for attr in ("sex", "race")
        },
        "importance": {name: round(1 / (k + 2), 4) for k, name in enumerate(FEATURES[:8])},
        "latency": {"p50_ms": 2.1, "p95_ms": 3.4},
        "batch_rows_per_s": 250_000.0 + i,
        "share_drifted": 0.07,
        "n_drifted": 1,
        "n_columns": 14,
        "columns": {
            name: {"statistic": 0.01 * k, "p_value": 0.5, "psi": 0.002 * k}
            for k, name in enumerate([*FEATURES, "fnlwgt"])
        },
    }


# params.yaml as the real pipeline flattens it (about 70 keys, a data schema with value lists)
PARAMS = {
    **{
        f"{stage}.knob_{k}": k * 0.5
        for stage in ("ingest", "featurize", "train")
        for k in range(12)
    },
    **{f"evaluate.setting_{k}": k for k in range(10)},
    "ingest.columns": [*FEATURES, "fnlwgt", "income"],
    **{
        f"schema.categorical.{name}.values": [f"{name}-{v}" for v in range(12)]
        for name in FEATURES[:9]
    },
}


def flat(data: dict[str, object], prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def release_message(i: int, version: str, sha: str) -> str:
    metrics = flat(metrics_for(i))
    rules = [
        {
            "metric": m,
            "value": metrics[m],
            "baseline": metrics[m],
            "passed": True,
            "skipped": False,
            "severity": "fail",
            "reason": f"{metrics[m]} within bounds; change vs the baseline within tolerance",
        }
        for m in ("roc_auc", "accuracy", "fairness.sex.demographic_parity_difference")
    ]
    block = {
        "artifact": ARTIFACT,
        "version": version,
        "commit": sha,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(START + i)),
        "tool": {"mlgate": "0.1.0", "dvc": "3.67.0"},
        "gates": {"passed": True, "baseline": None, "rules": rules},
        "metrics": metrics,
        "params": {"params.yaml": PARAMS},
        "dvc_lock": {
            f"data/stage{k // 5}/part{k}.parquet": {
                "stage": f"stage{k // 5}",
                "kind": "out",
                "hash": f"{k:032x}",
                "size": 100_000 + k,
            }
            for k in range(29)
        },
        "model": {"path": "models/model.bin", "hash": f"{i:032x}"},
    }
    return lineage.render(f"Release {ARTIFACT} {version}: gates passed", block)


def data_cmd(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n" % len(raw) + raw + b"\n"


def build(target: Path, count: int, plain: bool = False) -> None:
    if target.exists():
        raise SystemExit(f"{target} exists; remove it or pick another directory")
    target.mkdir(parents=True)
    sh(["git", "init", "-q", "-b", "main"], target)
    sh(["git", "config", "user.name", "bench"], target)
    sh(["git", "config", "user.email", "bench@mlgate.invalid"], target)
    sh([DVC, "init", "-q"], target)
    sh([DVC, "config", "core.autostage", "false"], target)
    (target / "dvc.yaml").write_text(DVC_YAML)
    (target / "params.yaml").write_text(PARAMS_YAML)
    (target / "inputs").mkdir()
    (target / "inputs" / "metrics.json").write_text(json.dumps(metrics_for(0), indent=2))
    sh([DVC, "repro", "-q"], target)
    sh(["git", "add", "-A"], target)
    sh(["git", "commit", "-q", "-m", "pipeline"], target)

    who = "bench <bench@mlgate.invalid> {t} +0000"
    # Two passes: the commits first, so that each lineage block can record its tag's real
    # commit (mlgate verifies it; a made-up sha reads as "lineage corrupt" and history falls
    # back to reading every commit's metrics files), then the tags, onto those shas.
    stream = bytearray()
    for i in range(1, count + 1):
        stream += b"commit refs/heads/main\nmark :%d\n" % i
        stream += f"committer {who.format(t=START + 2 * i)}\n".encode()
        stream += data_cmd(f"metrics for v0.{i // 100}.{i % 100}")
        if i == 1:
            stream += b"from refs/heads/main^0\n"
        stream += b"M 100644 inline metrics/metrics.json\n"
        stream += data_cmd(json.dumps(metrics_for(i), indent=2))
    marks = target / ".git" / "bench-marks"
    sh(["git", "fast-import", "--quiet", f"--export-marks={marks}"], target, stdin=bytes(stream))
    sha_of = dict(line.split() for line in marks.read_text().splitlines())
    marks.unlink()
    stream = bytearray()
    counter = 0
    for i in range(1, count + 1):
        when, sha = START + 2 * i, sha_of[f":{i}"]
        version = f"v0.{i // 100}.{i % 100}"
        stream += f"tag {ARTIFACT}@{version}\nfrom {sha}\n".encode()
        stream += f"tagger {who.format(t=when)}\n".encode()
        message = f"Registering artifact {ARTIFACT} version {version}"  # what GTO writes
        stream += data_cmd(message if plain else release_message(i, version, sha))
        for every, stage in ((10, "dev"), (50, "staging"), (100, "prod")):
            if i % every == 0:
                counter += 1
                stream += f"tag {ARTIFACT}#{stage}#{counter}\nfrom {sha}\n".encode()
                stream += f"tagger {who.format(t=when + 1)}\n".encode()
                stream += data_cmd(f"Promote {ARTIFACT} {version} to {stage}")
    sh(["git", "fast-import", "--quiet"], target, stdin=bytes(stream))
    sh(["git", "reset", "-q", "--hard", "main"], target)  # our own scratch repository
    # A last, real commit: reproduced, so the tree is clean and the pipeline up to date.
    (target / "inputs" / "metrics.json").write_text(json.dumps(metrics_for(count + 1), indent=2))
    sh([DVC, "repro", "-q"], target)
    sh(["git", "add", "-A"], target)
    sh(["git", "commit", "-q", "-m", "next model"], target)
    remote = target.with_name(target.name + "-remote.git")
    sh(["git", "clone", "-q", "--bare", str(target), str(remote)], target.parent)
    sh(["git", "remote", "add", "origin", str(remote)], target)
    sh(["git", "fetch", "-q", "origin"], target)
    tags = sh(["git", "tag", "-l"], target).stdout.decode().split()
    print(f"built {target}: {len(tags)} tags, origin = {remote}")


def without_cache(args: list[str]) -> list[str]:
    """The command as a fresh clone runs it: mlgate's cache under .git removed first."""
    remove = 'rm -rf "$(git rev-parse --git-dir)/mlgate" && exec "$@"'
    return ["sh", "-c", remove, "-", *args]


COMMANDS = {
    "mlgate history": [MLGATE, "history"],
    "mlgate history --format json": [MLGATE, "history", "--format", "json"],
    "mlgate history, no cache (first run)": without_cache([MLGATE, "history"]),
    "gto show": [GTO, "show"],
    "dvc metrics show --all-tags --json": [DVC, "metrics", "show", "--all-tags", "--json"],
    "mlgate check": [MLGATE, "check"],
    "mlgate release --dry-run": [MLGATE, "release", "--dry-run"],
    "mlgate release --dry-run --no-push": [MLGATE, "release", "--dry-run", "--no-push"],
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
    parser.add_argument(
        "--plain",
        action="store_true",
        help="GTO-style tag messages without lineage (history reads the metrics files)",
    )
    parser.add_argument("--repo", type=Path, metavar="DIR", help="time the commands there")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="", metavar="PREFIX", help="time matching commands")
    args = parser.parse_args()
    if args.build:
        build(args.build.resolve(), args.releases, args.plain)
    if not args.repo:
        return
    times = measure(args.repo.resolve(), args.runs, args.only)
    medians = {name: statistics.median(values) for name, values in times.items()}
    history = medians.get("mlgate history", float("nan"))
    print(
        f"{platform.machine()}, {os.cpu_count()} CPUs, median of {args.runs} interleaved rounds\n"
    )
    print("| command | median (s) | min (s) | max (s) | vs `mlgate history` |")
    print("|---|---:|---:|---:|---:|")
    for name, values in times.items():
        ratio = medians[name] / history
        print(
            f"| `{name}` | {medians[name]:.3f} | {min(values):.3f} | {max(values):.3f} "
            f"| {ratio:.1f}x |"
        )


if __name__ == "__main__":
    main()
