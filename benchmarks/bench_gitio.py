"""Does GitPython serve mlgate's git reads? One-shot git commands against GitPython.

Issue 15 asks to use GitPython (a declared dependency) where it serves, e.g. its persistent
``git cat-file --batch`` object database, and raw git only where measured faster. This
times, in one process and interleaved round by round (the box is shared), what
``mlgate.gitio`` does against GitPython doing the same:

- ``import git``: what GitPython costs before it does anything (``-X importtime``,
  cumulative, in a fresh interpreter each round);
- reading files at revisions: ``gitio.read_blobs`` (one ``git cat-file --batch`` process
  fed every request at once) against ``Repo.git.get_object_data`` (GitPython's persistent
  ``cat-file --batch``, one round trip per file) and against ``Repo.odb.stream(binsha)``
  (the object database, after walking the commit's trees to the blob);
- reading every tag with its message: ``tags.list_tags`` (one ``git for-each-ref``)
  against ``Repo.tags`` with each tag object read through the object database;
- pushing a tag ``origin`` already has (``[up to date]``, so nothing changes there):
  ``gitio.push`` (``git push --porcelain``) against GitPython's ``Remote.push``, which runs
  that same command and parses its lines.

Requests are what mlgate reads: in a repository with release tags, ``metrics/metrics.json``
and ``dvc.yaml`` at every release (``mlgate history``'s fallback); elsewhere dvc.yaml,
params.yaml and dvc.lock at the last 20 commits. GitPython's import is timed apart and
not counted in the in-process numbers.

    python benchmarks/bench_gitio.py --repo /tmp/bench-registry --runs 5
    python benchmarks/bench_gitio.py --repo . --runs 5
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from mlgate import gitio
from mlgate.tags import list_tags, parse_release, releases


def import_git_ms() -> float:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import git"],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in done.stderr.splitlines() if re.search(r"\|\s*git$", x))
    return int(line.split("|")[1]) / 1000


def requests_for(root: Path) -> list[tuple[str, str]]:
    prefix = gitio.git_prefix(root)
    tags = list_tags(root)
    artifacts = {r.artifact for tag in tags if (r := parse_release(tag))}
    shas = [r.sha for artifact in sorted(artifacts) for r in releases(tags, artifact)]
    if len(shas) >= 20:
        return [(sha, prefix + p) for sha in shas for p in ("metrics/metrics.json", "dvc.yaml")]
    log = gitio.git_text(root, "rev-list", "--max-count=20", "HEAD").split()
    return [(sha, prefix + p) for sha in log for p in ("dvc.yaml", "params.yaml", "dvc.lock")]


def blobs_gitpython_batch(root: Path, wanted: list[tuple[str, str]]) -> dict[object, object]:
    from git import Repo

    found: dict[object, object] = {}
    with Repo(root) as repo:
        for sha, path in wanted:
            try:
                _, kind, _, data = repo.git.get_object_data(f"{sha}:{path}")
            except ValueError:  # missing
                found[(sha, path)] = None
                continue
            found[(sha, path)] = data if kind == b"blob" else None
    return found


def blobs_gitpython_odb(root: Path, wanted: list[tuple[str, str]]) -> dict[object, object]:
    from git import Repo

    found: dict[object, object] = {}
    with Repo(root) as repo:
        for sha, path in wanted:
            try:
                blob = repo.commit(sha).tree / path
            except KeyError:
                found[(sha, path)] = None
                continue
            is_file = blob.type == "blob"
            found[(sha, path)] = repo.odb.stream(blob.binsha).read() if is_file else None
    return found


def tags_gitpython(root: Path) -> list[tuple[str, str, str, str]]:
    from git import Repo

    found = []
    with Repo(root) as repo:
        for ref in repo.tags:
            obj = ref.tag
            if obj is None:  # lightweight
                commit = ref.commit
                found.append((ref.name, commit.hexsha, "", commit.message))
            else:
                found.append((ref.name, obj.object.hexsha, str(obj.tagged_date), obj.message))
    return found


def push_gitpython(root: Path, ref: str) -> object:
    from git import Repo

    with Repo(root) as repo:
        return [(info.flags, info.summary) for info in repo.remote("origin").push(f"{ref}:{ref}")]


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    root = args.repo.resolve()
    wanted = requests_for(root)
    import git  # noqa: F401  - timed apart (import_git_ms); kept out of the rounds below

    cases: dict[str, Callable[[], object]] = {
        "import git (fresh interpreter)": import_git_ms,
        f"read {len(wanted)} files: gitio.read_blobs": lambda: gitio.read_blobs(root, wanted),
        f"read {len(wanted)} files: GitPython get_object_data": lambda: blobs_gitpython_batch(
            root, wanted
        ),
        f"read {len(wanted)} files: GitPython odb.stream": lambda: blobs_gitpython_odb(
            root, wanted
        ),
        "all tags + messages: tags.list_tags": lambda: list_tags(root, with_messages=True),
        "all tags + messages: GitPython Repo.tags": lambda: tags_gitpython(root),
    }
    tags = list_tags(root)
    if tags and "origin" in gitio.remote_names(root):
        ref = f"refs/tags/{tags[0].name}"
        cases["push a tag origin has: gitio.push"] = lambda: gitio.push(root, "origin", ref)
        cases["push a tag origin has: GitPython Remote.push"] = lambda: push_gitpython(root, ref)
    times: dict[str, list[float]] = {name: [] for name in cases}
    results: dict[str, object] = {}
    for _ in range(args.runs):
        for name, fn in cases.items():
            if name.startswith("import"):
                times[name].append(float(fn()) / 1000)  # type: ignore[arg-type]
            else:
                took, results[name] = timed(fn)
                times[name].append(took)
    blob_results = [v for k, v in results.items() if k.startswith("read")]
    assert all(r == blob_results[0] for r in blob_results), "the readers disagree"
    cpu = Path("/proc/cpuinfo")
    models = re.findall(r"model name\s*: (.*)", cpu.read_text()) if cpu.exists() else []
    host = models[0] if models else platform.machine()
    print(f"repo {root}, {len(list_tags(root))} tags, median of {args.runs} rounds ({host})\n")
    print("| what | median ms | min ms |\n|---|---:|---:|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values) * 1000:.1f} | {min(values) * 1000:.1f} |")


if __name__ == "__main__":
    main()
