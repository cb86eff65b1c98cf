"""Two `mlgate release` processes in two clones against one bare remote, at the same moment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.mlgate.registry_repo import ARTIFACT, Published, published, tag_names

__all__ = ["published"]

MLGATE = str(Path(sys.executable).with_name("mlgate"))


def release_at_once(*roots: Path) -> list[subprocess.CompletedProcess[str]]:
    procs = [
        subprocess.Popen(
            [MLGATE, "release"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for root in roots
    ]
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def releases_on(root: Path) -> set[str]:
    return {name for name in tag_names(root) if name.startswith(f"{ARTIFACT}@")}


def assert_nothing_refused_left_behind(p: Published, *roots: Path) -> None:
    remote = p.remote_tags()
    for root in roots:
        assert releases_on(root) <= remote, f"{root} kept a tag the remote does not have"


@pytest.mark.parametrize("round_", range(2))
def test_same_commit_gives_one_tag_and_one_already_released(
    published: Published, tmp_path: Path, round_: int
) -> None:
    p = published
    other = p.clone(tmp_path / "other")
    results = release_at_once(p.root, other.root)
    for result in results:
        assert result.returncode == 0, result.stderr
    tags = {result.stdout.strip().splitlines()[-1] for result in results}
    assert tags == {f"{ARTIFACT}@v0.0.1"}
    assert p.remote_tags() == {f"{ARTIFACT}@v0.0.1"}
    # In the same second both build a byte-identical tag, whose second push is "up to
    # date": only the one whose push created it may say "created".
    said = sorted("created" if "\ncreated " in result.stdout else "already" for result in results)
    assert said == ["already", "created"], [result.stdout for result in results]
    assert_nothing_refused_left_behind(p, p.root, other.root)


@pytest.mark.parametrize("round_", range(2))
def test_two_commits_give_two_distinct_versions(
    published: Published, tmp_path: Path, round_: int
) -> None:
    p = published
    first = p.repo.git("rev-parse", "HEAD")
    p.repo.write("notes.txt", "second")
    p.repo.commit("second")
    p.push()
    other = p.clone(tmp_path / "other")  # at the second commit
    p.repo.git("checkout", "-q", "--detach", first)
    results = release_at_once(p.root, other.root)
    for result in results:
        assert result.returncode == 0, result.stderr
    tags = [result.stdout.strip().splitlines()[-1] for result in results]
    assert sorted(tags) == [f"{ARTIFACT}@v0.0.1", f"{ARTIFACT}@v0.0.2"]
    assert p.remote_tags() == set(tags)
    commits = {
        subprocess.run(
            ["git", "rev-parse", f"{tag}^{{commit}}"],
            cwd=p.remote,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for tag in tags
    }
    assert commits == {first, other.git("rev-parse", "HEAD")}
    assert_nothing_refused_left_behind(p, p.root, other.root)
